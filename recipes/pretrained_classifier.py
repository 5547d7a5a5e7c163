"""Fine-tune a pre-trained BERT-family classifier (`kzoo.build_pretrained_classifier`).

Transfer learning: a keras-hub preset's pre-trained backbone and tokenizer, a new softmax head,
every weight fine-tuned at Adam 5e-5 on raw text (the model's own preprocessor tokenizes). By
default the preset is keras-hub's `bert_tiny_en_uncased` (4.4M parameters, downloaded from
Kaggle) and the data kzoo's embedded sentiment corpus. Without a network, pass a preset
directory (`--preset path/to/bert_tiny_en_uncased`, as keras-hub's `save_to_preset` writes one)
and, for real data, local files as for every classifier:

    python recipes/pretrained_classifier.py --preset ~/presets/bert_tiny_en_uncased \
        --train-file ../shared/data/sentence/stsa.binary.train \
        --valid-file ../shared/data/sentence/stsa.binary.dev \
        --test-file ../shared/data/sentence/stsa.binary.test               # SST-2
    python recipes/pretrained_classifier.py --preset bert_base_en_uncased \
        --encoding latin-1 --train-file ../shared/data/sentence/TREC.train.all \
        --test-file ../shared/data/sentence/TREC.test.all                 # TREC, BERT-base

`--max-length` is the preprocessor's sequence length in word pieces ([CLS] and [SEP]
included); `--set model_args.trainable_backbone=false` trains the head alone. The export's
`serving_default` takes raw text and answers `scores`, `label` and `label_id`.

Run:    python recipes/pretrained_classifier.py --preset DIR   (same as: kzoo train
        pretrained_classifier --preset DIR)
"""

import sys

from kzoo.training import Run, parse_settings
from kzoo_cli import run_recipe

SETTINGS = dict(
    recipe="pretrained_classifier",
    model="pretrained_classifier",
    task="pretrained_classification",
    # --- model: a keras-hub preset directory, preset name, or kaggle:// or hf:// handle ---
    preset="bert_tiny_en_uncased",
    # --- data ---
    dataset="embedded:sentiment",
    tfds_name="imdb_reviews",  # used by --dataset tfds (needs a network)
    max_length=128,  # word pieces per text; BERT's own limit is 512
    # --- training: BERT's fine-tuning regime (Devlin et al., 2019, appendix A.3) ---
    epochs=3,
    batch_size=32,
    learning_rate=5e-5,
    early_stopping_patience=1,
)


# Options that train this recipe in seconds, for tests and fault checks (with a tiny
# local preset: --preset DIR; the default one is a download).
TINY = [
    "--num-examples",
    "200",
    "--max-length",
    "8",
    "--batch-size",
    "16",
    "--set",
    "model_args.dropout=0",
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
