"""Train the Transformer encoder-decoder (`kzoo.build_transformer_seq2seq`).

Vaswani et al. (2017) as they trained it: label smoothing 0.1 and a learning rate that warms
up linearly, then decays as the inverse square root of the step (`--lr-schedule
inverse_sqrt`). By default on kzoo's embedded date-normalisation pairs, character level (no
network); the evaluation decodes the test split greedily and reports corpus BLEU (sacrebleu,
detokenized, cased), ROUGE and exact matches; TensorBoard shows the last decoder layer's
cross-attention on a validation pair every epoch, and `kzoo attention` draws it per head.

Multi30k German → English at word level, with punctuation marks as tokens and case kept
(`python -m benchmarks translation` runs this command and writes
benchmarks/results/translation.md):

    python recipes/transformer_seq2seq.py \
        --train-file ../shared/data/translation/multi30k.train.de.gz \
        --train-file ../shared/data/translation/multi30k.train.en.gz \
        --valid-file ../shared/data/translation/multi30k.val.de.gz \
        --valid-file ../shared/data/translation/multi30k.val.en.gz \
        --test-file ../shared/data/translation/multi30k.test_2016_flickr.de.gz \
        --test-file ../shared/data/translation/multi30k.test_2016_flickr.en.gz \
        --split whitespace --standardize split_punctuation --max-tokens 8000 \
        --max-length 60 --max-decode-length 60 --batch-size 128 --epochs 15 \
        --learning-rate 1e-3 --warmup-steps 800 \
        --set model_args.num_layers=3 --set model_args.hidden_dim=256 \
        --set model_args.intermediate_dim=512

Summarisation with this model: `kzoo train summarisation --model transformer_seq2seq`.

Run:    python recipes/transformer_seq2seq.py    (same as: kzoo train transformer_seq2seq)
"""

import sys

from kzoo.training import Run, parse_settings
from kzoo_cli import run_recipe

SETTINGS = dict(
    recipe="transformer_seq2seq",
    model="transformer_seq2seq",
    task="translation",
    # --- data ---
    dataset="embedded",
    tfds_name="ted_hrlr_translate/pt_to_en",  # used by --dataset tfds (needs a network)
    source_language="pt",  # TFDS translation keys
    target_language="en",
    split="character",
    standardize="lower",
    # --- model: kzoo.build_transformer_seq2seq arguments, small for character dates ---
    model_args=dict(
        num_layers=2,
        hidden_dim=64,
        num_heads=4,
        intermediate_dim=128,
        dropout=0.1,
        label_smoothing=0.1,
    ),
    # --- training: the Transformer paper's schedule ---
    epochs=10,
    batch_size=64,
    learning_rate=2e-3,  # the schedule's peak
    lr_schedule="inverse_sqrt",
    warmup_steps=400,
    clipnorm=1.0,
    early_stopping_patience=3,
)


# Options that train this recipe in seconds, for tests and fault checks.
TINY = [
    "--num-examples",
    "300",
    "--warmup-steps",
    "10",
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
