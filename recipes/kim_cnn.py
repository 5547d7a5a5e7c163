"""Train Kim's (2014) CNN for sentence classification (`kzoo.build_kim_cnn`), CNN-rand.

Kernel widths 3/4/5 with 100 maps each over random 300-wide embeddings, max-over-time, dropout
0.5, and Kim's training: Adadelta (rho 0.95), a max-norm of 3 on the output weights, batch 50,
up to 25 epochs, testing the epoch of best validation accuracy. By default it trains on kzoo's
embedded question-type corpus (6 classes, TREC-like; no network). The paper's datasets, from
local files:

    python recipes/kim_cnn.py --train-file ../shared/data/sentence/stsa.binary.train \
        --valid-file ../shared/data/sentence/stsa.binary.dev \
        --test-file ../shared/data/sentence/stsa.binary.test               # SST-2
    python recipes/kim_cnn.py --encoding latin-1 \
        --train-file ../shared/data/sentence/TREC.train.all \
        --test-file ../shared/data/sentence/TREC.test.all                 # TREC

    python recipes/kim_cnn.py --encoding latin-1 --test-fraction 0.1 \
        --train-file ../shared/data/sentence/rt-polarity.neg ../shared/data/sentence/rt-polarity.pos
                                                                          # MR, fold 0
    (add --test-fold 1 ... --test-fold 9 for the other folds of a 10-fold cross-validation)

With pre-trained word vectors (`--word-vectors`: a word2vec text or binary file, a GloVe file,
`.gz` or not, or a kzoo word2vec run folder), Kim's CNN-non-static; words the vectors lack
start uniform in [-0.25, 0.25]. With Google's News vectors, as Kim (81.5 on MR):

    python recipes/kim_cnn.py --encoding latin-1 --test-fraction 0.1 \
        --train-file ../shared/data/sentence/rt-polarity.neg \
            ../shared/data/sentence/rt-polarity.pos \
        --word-vectors GoogleNews-vectors-negative300.bin.gz
    (add --set model_args.trainable_embeddings=false for CNN-static)

Run:    python recipes/kim_cnn.py    (same as: kzoo train kim_cnn)
Expect: test accuracy 0.99 on the embedded questions (chance 0.17), about 10 epochs (early
        stopping), about half a minute on 2 CPU cores. On the real files
        (benchmarks/results/classification.md): MR 76.2 (10-fold mean; 74.7 on fold 0),
        SST-2 81.3, TREC 92.4; Kim's CNN-rand figures: MR 76.1, SST-2 82.7 (with phrases),
        TREC 91.2.
"""

import sys

from kzoo.training import Run, parse_settings
from kzoo_cli import run_recipe

SETTINGS = dict(
    recipe="kim_cnn",
    model="kim_cnn",
    task="classification",
    # --- data ---
    dataset="embedded:questions",
    tfds_name="imdb_reviews",  # used by --dataset tfds (needs a network)
    standardize="lower",  # keep punctuation tokens such as "?" (Kim's preprocessing keeps them)
    max_length=100,
    # --- model: kzoo.build_kim_cnn arguments (Kim's values are its defaults; the embedding
    # is 300 wide, or as wide as --word-vectors) ---
    model_args=dict(filters=100, kernel_sizes=[3, 4, 5], dropout=0.5, max_norm=3.0),
    # --- training: Kim's (2014) ---
    optimizer="adadelta",  # rho 0.95, epsilon 1e-6
    learning_rate=1.0,
    epochs=25,
    batch_size=50,
    # The tested epoch is the one of best validation accuracy (Kim's early stopping on a dev
    # set); no later epoch beat it by 8 epochs after it on MR, SST-2 or TREC.
    monitor="val_accuracy",
    early_stopping_patience=8,
)


# Options that train this recipe in seconds, for tests and fault checks.
TINY = ["--num-examples", "400", "--set", "model_args.embedding_dim=16"]


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
