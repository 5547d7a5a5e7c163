"""Train the recurrent text classifier (`kzoo.build_lstm_classifier`).

Embedding(16) → LSTM(32) → sigmoid, with padding masked. By default it trains on kzoo's
embedded sentiment corpus (synthetic reviews where negation and "but" decide the label, so word
order matters; no network). Other data:

    python recipes/lstm_classifier.py --dataset tfds           # imdb_reviews; needs a network
    python recipes/lstm_classifier.py --encoding latin-1 \
        --train-file ../shared/data/sentence/rt-polarity.pos \
        --train-file ../shared/data/sentence/rt-polarity.neg            # MR, one file per label

Run:    python recipes/lstm_classifier.py    (same as: kzoo train lstm_classifier)
Expect: test accuracy 1.00 on the embedded corpus (chance 0.50), 10 epochs, about
        a minute on 2 CPU cores.
"""

import sys

from kzoo.training import Run, parse_settings
from kzoo_cli import run_recipe

SETTINGS = dict(
    recipe="lstm_classifier",
    model="lstm_classifier",
    task="classification",
    # --- data ---
    dataset="embedded:sentiment",  # or a TFDS name, or --train-file
    tfds_name="imdb_reviews",  # used by --dataset tfds (needs a network)
    max_tokens=20_000,  # vocabulary cap
    max_length=200,  # tokens kept per text
    # --- model: kzoo.build_lstm_classifier arguments ---
    model_args=dict(embedding_dim=16, units=32, rnn="lstm"),
    # --- training ---
    epochs=10,
    batch_size=32,
    learning_rate=1e-3,
    clipnorm=1.0,  # recurrent models: clip exploding gradients
    early_stopping_patience=3,
)


# Options that train this recipe in seconds, for tests and fault checks.
TINY = ["--num-examples", "400"]


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
