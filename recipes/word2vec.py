"""Train skip-gram word2vec with negative sampling (`kzoo.build_word2vec`).

Skip-gram pairs (window 2, 4 negatives from the unigram^0.75 distribution, frequent words
subsampled) from a corpus of lines: by default the English documentation prose CPython ships
(no network); `--train-file` a local text file, one sentence or paragraph a line. The vectors go
to TensorBoard's embedding projector (`runs/word2vec/logs/projector`), and the evaluation
prints the nearest neighbours of frequent words.

Run:    python recipes/word2vec.py    (same as: kzoo train word2vec)
Expect: validation skip-gram loss 0.47 after 5 epochs (0.50 for a model that learned
        nothing), with neighbours such as is: was, when; about 20 s on 2 CPU cores.
"""

import sys

from kzoo.training import Run, parse_settings
from kzoo_cli import run_recipe

SETTINGS = dict(
    recipe="word2vec",
    model="word2vec",
    task="word2vec",
    # --- data ---
    dataset="embedded",
    tfds_name="tiny_shakespeare",  # used by --dataset tfds (needs a network)
    max_tokens=10_000,
    window_size=2,
    num_negatives=4,
    sampling_factor=1e-3,
    # --- model: kzoo.build_word2vec arguments ---
    model_args=dict(embedding_dim=128),
    # --- training ---
    epochs=5,
    batch_size=1024,
    learning_rate=1e-3,
)


# Options that train this recipe in seconds, for tests and fault checks.
TINY = ["--max-tokens", "500", "--steps-per-epoch", "5"]


def main(argv=None, prog=None):
    config = parse_settings(SETTINGS, argv, prog=prog, description=__doc__)
    run = Run(config)
    data = run.load_data()
    model = run.build_model(data)
    run.fit(model, data)
    run.evaluate(model, data)
    run.export(model, data)


if __name__ == "__main__":
    sys.exit(run_recipe(main))
