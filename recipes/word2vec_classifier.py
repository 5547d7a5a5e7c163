"""Train a text classifier on custom word2vec embeddings (`kzoo.build_word2vec_classifier`).

First skip-gram word2vec learns vectors from the training sentences themselves, so they follow
the classifier's vocabulary; then the classifier averages the (frozen) vectors of a sentence's
words and classifies them with Dense layers. By default on kzoo's embedded sentiment corpus (no
network); `--train-file` local files.

Run:    python recipes/word2vec_classifier.py    (same as: kzoo train word2vec_classifier)
Expect: EXPECTED
"""

from kzoo.training import Run, parse_settings

SETTINGS = dict(
    recipe="word2vec_classifier",
    model="word2vec_classifier",
    task="classification",
    # --- data ---
    dataset="embedded:sentiment",
    max_tokens=20_000,
    max_length=200,
    # --- word2vec pretraining ---
    word2vec_epochs=5,
    window_size=2,
    num_negatives=4,
    # --- model: kzoo.build_word2vec_classifier arguments ---
    model_args=dict(embedding_dim=64, trainable_embeddings=False, hidden_dim=64, dropout=0.2),
    # --- training ---
    epochs=10,
    batch_size=32,
    learning_rate=1e-3,
    early_stopping_patience=3,
)


def main(argv=None, prog=None):
    config = parse_settings(SETTINGS, argv, prog=prog, description=__doc__)
    run = Run(config)
    data = run.load_data()
    vectors = run.pretrain_word2vec(data)  # skip-gram on the training sentences
    model = run.build_model(data, embeddings=vectors)
    run.fit(model, data)
    run.evaluate(model, data)
    run.export(model, data)


if __name__ == "__main__":
    main()
