"""Train the encoder-decoder classifier (`kzoo.build_encoder_decoder_classifier`).

An LSTM encoder sub-model turns a sentence into a vector; a Dense decoder sub-model classifies
it. By default it trains on kzoo's embedded question-type corpus (6 classes; no network);
`--train-file` takes local files. After training, `model.get_layer("encoder")` of
`runs/encoder_decoder_classifier/model.keras` encodes sentences on its own.

Run:    python recipes/encoder_decoder_classifier.py
        (same as: kzoo train encoder_decoder_classifier)
Expect: test accuracy 0.998 on the embedded questions (chance 0.17), 10 epochs,
        about a minute on 2 CPU cores.
"""

import sys

from kzoo.training import Run, parse_settings
from kzoo_cli import run_recipe

SETTINGS = dict(
    recipe="encoder_decoder_classifier",
    model="encoder_decoder_classifier",
    task="classification",
    # --- data ---
    dataset="embedded:questions",
    tfds_name="imdb_reviews",  # used by --dataset tfds (needs a network)
    standardize="lower",
    max_length=100,
    # --- model: kzoo.build_encoder_decoder_classifier arguments ---
    model_args=dict(embedding_dim=64, units=64, dropout=0.2),
    # --- training ---
    epochs=10,
    batch_size=32,
    learning_rate=2e-3,
    clipnorm=1.0,
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
