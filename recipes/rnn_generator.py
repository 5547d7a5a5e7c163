"""Train the recurrent character-level language model (`kzoo.build_rnn_generator`).

Embedding → LSTM → logits over the next character. By default on the English documentation
prose CPython ships (no network); `--dataset tiny_shakespeare` uses TFDS, and `--train-file`
any text file, e.g. the char-rnn corpus:

    python recipes/rnn_generator.py --train-file ../shared/data/text/tinyshakespeare.txt

The first 90 % of the text trains, the last 10 % validates. The documents' model is a
SimpleRNN (`--set model_args.rnn=simple_rnn`); the recipe uses an LSTM of 512 units, which
learns longer dependencies, with dropout, a cosine learning-rate schedule and a new cut of the
text into windows each epoch: on tiny Shakespeare it reaches char-rnn's 1.50 nats/char
(benchmarks/results/language_model.md). For a quick run: `--set model_args.units=256
--epochs 10`.

Run:    python recipes/rnn_generator.py    (same as: kzoo train rnn_generator)
Expect: validation loss 1.25 nats/char on the embedded prose (4.58 for uniform
        guessing), 20 epochs, about 17 minutes on 2 CPU cores.
"""

import sys

from kzoo.training import Run, parse_settings
from kzoo_cli import run_recipe

SETTINGS = dict(
    recipe="rnn_generator",
    model="rnn_generator",
    task="language_model",
    # --- data ---
    dataset="embedded",
    tfds_name="tiny_shakespeare",  # used by --dataset tfds (needs a network)
    split="character",
    standardize="none",  # keep case, punctuation and newlines: they are characters to predict
    sequence_length=100,
    random_offsets=True,  # a new cut of the text into windows each epoch
    # --- model: kzoo.build_rnn_generator arguments ---
    # 512 units with dropout (one mask per sequence): what reaches char-rnn's 1.50 nats/char on
    # tiny Shakespeare (benchmarks/results/language_model.md); 256 units stop near 1.61.
    model_args=dict(embedding_dim=64, units=512, rnn="lstm", dropout=0.2),
    # --- training ---
    epochs=20,
    batch_size=64,
    learning_rate=2e-3,
    lr_schedule="cosine",  # down to 2e-4 over the 20 epochs
    clipnorm=1.0,
    early_stopping_patience=2,
    # Mixed bfloat16 without XLA on a CPU with AMX or AVX512-BF16, float32 elsewhere:
    # TensorFlow's kernels train this LSTM 1.35x (AMX) and 1.27x (AVX512-BF16) faster than
    # float32 with XLA, at the same validation loss (+0.18 %, +0.19 %,
    # benchmarks/results/precision.md); XLA's CPU compiler uses neither.
    mixed_precision="auto",
)


# Options that train this recipe in seconds, for tests and fault checks.
TINY = ["--set", "model_args.units=16", "--steps-per-epoch", "5"]


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
