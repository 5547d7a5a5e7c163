"""Train the small character-level GPT (`kzoo.build_gpt`).

keras-hub TokenAndPositionEmbedding and pre-norm causal blocks with one fused query/key/value
projection (4 layers, 4 heads, width 128, no dropout: nanoGPT's CPU-sized model). By default
on the English documentation prose CPython ships (no network); `--dataset tiny_shakespeare`
uses TFDS, `--train-file` any text file:

    python recipes/gpt.py --train-file ../shared/data/text/tinyshakespeare.txt

The first 90 % of the text trains, the last 10 % validates.

Run:    python recipes/gpt.py    (same as: kzoo train gpt)
Expect: validation loss 1.31 nats/char on the embedded prose (4.58 for uniform guessing),
        10 epochs, about 5 minutes on 2 CPU cores; 1.61 on tiny Shakespeare in 10 minutes.
"""

import sys

from kzoo.training import Run, parse_settings
from kzoo_cli import run_recipe

SETTINGS = dict(
    recipe="gpt",
    model="gpt",
    task="language_model",
    # --- data ---
    dataset="embedded",
    tfds_name="tiny_shakespeare",  # used by --dataset tfds (needs a network)
    split="character",
    standardize="none",
    sequence_length=128,  # context window, also the position embedding's length
    # --- model: kzoo.build_gpt arguments ---
    # No dropout, as nanoGPT's CPU run: 10 epochs leave this model far from overfitting, and
    # dropout would only slow its learning (and XLA on CPU). It pays on nanoGPT's 10M model
    # trained 8x longer (benchmarks/results/gpt_scale.md).
    model_args=dict(num_layers=4, num_heads=4, hidden_dim=128, intermediate_dim=512, dropout=0.0),
    # --- training ---
    epochs=10,
    batch_size=32,
    learning_rate=1e-3,
    clipnorm=1.0,
    early_stopping_patience=2,
)


# Options that train this recipe in seconds, for tests and fault checks.
TINY = [
    "--sequence-length",
    "16",
    "--steps-per-epoch",
    "5",
    "--set",
    "model_args.num_layers=1",
    "--set",
    "model_args.hidden_dim=16",
    "--set",
    "model_args.intermediate_dim=32",
]


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
