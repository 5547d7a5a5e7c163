"""Does masking padding matter? The notebook LSTM classifier against kzoo's, on movie reviews.

Both models are Embedding(16) → LSTM(32) → sigmoid, trained with the same data, split, batch
size, optimizer and epochs. The notebook version pads every sentence after its end to the
longest one and does not mask, so its LSTM's last state has read mostly padding; kzoo's
`build_lstm_classifier` masks padding (and batches by length).

Data: MR (rt-polarity.pos/.neg, latin-1) from `--data-dir`, seeded 90/10 split; with
`--quick`, kzoo's embedded sentiment corpus.
"""

import os
import time

import keras
import numpy as np

from benchmarks.harness import Report

NAME = "masking"
TITLE = "Masked vs unmasked LSTM classifier on movie-review sentences"
EPOCHS, BATCH = 5, 32


def _data(args):
    from kzoo.data import classification_files, embedded

    if args.quick:
        texts, labels, _ = embedded.sentiment_corpus(num_examples=4000, seed=0)
        return texts, np.asarray(labels), "kzoo embedded sentiment corpus, 4,000 sentences"
    folder = os.path.join(args.data_dir, "sentence")
    files = [os.path.join(folder, "rt-polarity.pos"), os.path.join(folder, "rt-polarity.neg")]
    texts, labels = classification_files.read_label_files(files, encoding="latin-1")
    return (
        texts,
        np.asarray([int(label == "pos") for label in labels]),
        "MR (rt-polarity), 10,662 sentences",
    )


def _notebook_model(vocabulary_size):
    """The usual notebook version: no mask_zero, so padding steps feed the LSTM."""
    return keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(vocabulary_size, 16),
            keras.layers.LSTM(32),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )


def run(args):
    import kzoo
    from kzoo.data import batching, vectorization

    texts, labels, source = _data(args)
    order = np.random.default_rng(0).permutation(len(texts))
    cut = int(len(texts) * 0.9)
    train, test = order[:cut], order[cut:]
    vectorizer = vectorization.make_vectorizer([texts[i] for i in train], max_tokens=20_000)
    ids = vectorization.vectorize(vectorizer, texts)
    longest = max(len(x) for x in ids)
    padded = np.stack([np.pad(x, (0, longest - len(x))) for x in ids])  # post-padding
    rows = []
    for name in ("notebook: post-padded, no mask", "kzoo: masked, length buckets"):
        keras.utils.set_random_seed(0)
        if name.startswith("notebook"):
            model = _notebook_model(vectorizer.vocabulary_size())
            model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
            started = time.time()
            model.fit(padded[train], labels[train], batch_size=BATCH, epochs=EPOCHS, verbose=0)
            seconds = time.time() - started
            accuracy = model.evaluate(padded[test], labels[test], verbose=0)[1]
        else:
            model = kzoo.build_lstm_classifier(vocabulary_size=vectorizer.vocabulary_size())
            boundaries = batching.bucket_boundaries([len(ids[i]) for i in train])
            train_ds = batching.classification_dataset(
                [ids[i] for i in train], labels[train], BATCH, boundaries, shuffle=True
            )
            test_ds = batching.classification_dataset(
                [ids[i] for i in test], labels[test], BATCH, boundaries
            )
            started = time.time()
            model.fit(train_ds, epochs=EPOCHS, verbose=0, shuffle=False)
            seconds = time.time() - started
            accuracy = model.evaluate(test_ds, verbose=0, return_dict=True)["accuracy"]
        rows.append([name, round(float(accuracy), 4), round(seconds, 1)])
    return Report(
        columns=["model", "test accuracy", "training s"],
        rows=rows,
        notes=[
            "Same architecture (Embedding 16, LSTM 32, sigmoid), Adam, batch 32, "
            f"{EPOCHS} epochs, seed 0. Chance is 0.50. Training time is context only: the "
            "masked model also batches by length."
        ],
        settings={
            "data": source,
            "split": "seeded 90/10 (numpy default_rng(0) permutation)",
            "longest sentence (tokens)": longest,
        },
    )
