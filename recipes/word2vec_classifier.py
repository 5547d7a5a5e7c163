"""Train a text classifier on custom word2vec embeddings (`kzoo.build_word2vec_classifier`).

First skip-gram word2vec learns vectors from the training sentences themselves, so they follow
the classifier's vocabulary; then the classifier averages the (frozen) vectors of a sentence's
words and classifies them with Dense layers. By default on kzoo's embedded question-type corpus
(6 classes; no network); `--train-file` local files. `--word-vectors PATH` starts from
pre-trained vectors instead (word2vec or GloVe files, with `--set model_args.embedding_dim`
their width) and skips the pretraining.

Why questions and not the embedded sentiment corpus: skip-gram gives words that share contexts
similar vectors, and antonyms share contexts ("the plot was good" / "the plot was bad"), while
an average of vectors cannot see negation or word order. On the sentiment corpus this recipe
stays at chance with frozen vectors and reaches about 0.68 with
`--set model_args.trainable_embeddings=true`; question types, which depend on which words
occur, suit it.

Run:    python recipes/word2vec_classifier.py    (same as: kzoo train word2vec_classifier)
Expect: test accuracy 0.94 on the embedded questions (chance 0.17) with frozen
        vectors, about a minute on 2 CPU cores.
"""

import sys

from kzoo.tasks.word2vec import pretrain as pretrain_word2vec
from kzoo.training import Run, parse_settings
from kzoo_cli import run_recipe

SETTINGS = dict(
    recipe="word2vec_classifier",
    model="word2vec_classifier",
    task="classification",
    # --- data ---
    dataset="embedded:questions",
    standardize="lower",  # keep "?" and other punctuation tokens
    tfds_name="imdb_reviews",  # used by --dataset tfds (needs a network)
    max_tokens=20_000,
    max_length=200,
    # --- word2vec pretraining ---
    word2vec_epochs=5,
    window_size=2,
    num_negatives=4,
    # --- model: kzoo.build_word2vec_classifier arguments ---
    model_args=dict(embedding_dim=64, trainable_embeddings=False, hidden_dim=64, dropout=0.2),
    # --- training ---
    # Both the skip-gram pretraining and the classifier compile with XLA. The classifier's small
    # step was slower with XLA on CPU until XLA drew its dropout masks with Philox named
    # (kzoo.distribute.xla): on MR now 1.19x faster than without (benchmarks/results/speed.md).
    word2vec_xla=True,
    epochs=10,
    batch_size=32,
    learning_rate=1e-3,
    early_stopping_patience=3,
)


# Options that train this recipe in seconds, for tests and fault checks.
TINY = ["--num-examples", "400", "--word2vec-epochs", "1"]


def main(argv=None, prog=None):
    config = parse_settings(SETTINGS, argv, prog=prog, description=__doc__)
    run = Run(config)
    data = run.load_data()
    pretrained = {}
    if "embeddings" not in data.model_args:  # no --word-vectors: train them here
        pretrained["embeddings"] = pretrain_word2vec(run, data)  # skip-gram on the sentences
    model = run.build_model(data, **pretrained)
    run.fit(model, data)
    run.evaluate(model, data)
    run.export(model, data)


if __name__ == "__main__":
    sys.exit(run_recipe(main))
