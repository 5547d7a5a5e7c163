"""Train the BiLSTM tagger (`kzoo.build_bilstm_tagger`): named entities or parts of speech.

Word embeddings and a character BiLSTM per word, two BiLSTMs of 100 units each way, dropout 0.5,
a softmax per word, word dropout 0.1, Adam. By default it trains on kzoo's embedded tagged
sentences for their PER/LOC/ORG entities (`--dataset embedded:pos` for their parts of speech; no
network). The English Web Treebank's universal POS tags, from local CoNLL-U files:

    python recipes/bilstm_tagger.py \
        --train-file ../shared/data/tagging/en_ewt-ud-train.conllu.gz \
        --valid-file ../shared/data/tagging/en_ewt-ud-dev.conllu.gz \
        --test-file ../shared/data/tagging/en_ewt-ud-test.conllu.gz \
        --epochs 30 --lr-schedule cosine --monitor val_accuracy --early-stopping-patience 0 \
        --set model_args.character_units=100

Universal NER's English-EWT entities (IOB2; word column 2, tag column 3). Only its dev and test
annotations are here: train on dev, hold out a tenth of it for validation, test on test:

    python recipes/bilstm_tagger.py --word-column 2 --tag-column 3 \
        --train-file ../shared/data/tagging/uner_en_ewt-dev.iob2.gz \
        --test-file ../shared/data/tagging/uner_en_ewt-test.iob2.gz --epochs 30

CoNLL-2003 from TFDS (needs a network): `--dataset tfds` (`--tag-feature pos` for its tags).

Run:    python recipes/bilstm_tagger.py    (same as: kzoo train bilstm_tagger)
Expect: entity F1 1.00 on held-out embedded sentences (they are synthetic: 0.21 on Universal
        NER's real test sentences); with the English Web Treebank command above, 95.1 % UPOS
        test accuracy after 30 epochs (about 30 min on 2 CPU cores); Universal NER trained on its
        dev annotations, test entity F1 0.43 (`python -m benchmarks tagging`,
        benchmarks/results/tagging.md).
"""

import sys

from kzoo.training import Run, parse_settings
from kzoo_cli import run_recipe

SETTINGS = dict(
    recipe="bilstm_tagger",
    model="bilstm_tagger",
    task="token_classification",
    # --- data ---
    dataset="embedded:entities",  # or embedded:pos, a TFDS name, or --train-file
    tfds_name="conll2003",  # used by --dataset tfds (needs a network)
    standardize="lower",  # the word vocabulary's; characters keep their case
    max_tokens=50_000,  # word vocabulary cap
    # --- model: kzoo.build_bilstm_tagger arguments ---
    model_args=dict(
        embedding_dim=100,
        character_embedding_dim=30,
        character_units=50,
        units=100,
        num_layers=2,
        dropout=0.5,
        word_dropout=0.1,
    ),
    # --- training ---
    epochs=10,
    batch_size=32,
    learning_rate=1e-3,
    clipnorm=5.0,  # recurrent models: clip exploding gradients
    early_stopping_patience=4,
    # A batch's character ids are as wide as its longest word, so nearly every batch of real
    # text has a new shape, and XLA would compile the whole step again for each: the English
    # Web Treebank's first epoch had not ended after 12 minutes with it, against 78 s without
    # (benchmarks/results/tagging.md). `--xla` still asks for it.
    xla=False,
)

# Options that train this recipe in seconds, for tests and fault checks.
TINY = [
    "--num-examples",
    "200",
    "--set",
    "model_args.embedding_dim=8",
    "--set",
    "model_args.character_units=8",
    "--set",
    "model_args.units=8",
    "--set",
    "model_args.num_layers=1",
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
