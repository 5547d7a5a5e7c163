"""Word2vec: skip-gram word vectors trained on a corpus, and the pretraining of the word2vec
classifier's vectors.

Reads a local text file, the embedded prose or a TFDS text dataset (sentences are lines; the
last 10 % of lines validate); serves words in, vectors out.
"""

import os

import keras
import numpy as np
import tensorflow as tf

from kzoo.data import batching, embedded, skipgram, text_files, tfds_sources, vectorization
from kzoo.distribute import multi_worker
from kzoo.embeddings import write_projector
from kzoo.models.word2vec import build_word2vec, target_embedding, word2vec_vectors
from kzoo.settings import Setting
from kzoo.signatures import checked_token_ids, ids_from_text
from kzoo.tasks.base import Data, Task, standardize, tfds_name

# How skip-gram pairs are drawn; the word2vec classifier's pretraining reads them too.
SKIPGRAM_SETTINGS = {
    "window_size": Setting(
        2, int, "context words on each side of a skip-gram target", bounds="[1, inf)"
    ),
    "num_negatives": Setting(4, int, "negative samples per skip-gram pair", bounds="[1, inf)"),
    "sampling_factor": Setting(
        1e-3, float, "subsampling threshold of frequent words", bounds="(0, inf)"
    ),
}


def skipgram_dataset(sequences, vocabulary_size, config, global_batch_size, shuffle):
    """Skip-gram pairs with negatives, subsampled, as a dataset of (inputs, labels) batches."""
    counts = np.bincount(np.concatenate(sequences), minlength=vocabulary_size)
    table = skipgram.sampling_table(counts, sampling_factor=config["sampling_factor"])
    examples = skipgram.skipgram_examples(
        sequences,
        vocabulary_size,
        window_size=config["window_size"],
        num_negatives=config["num_negatives"],
        sampling_table=table,
        seed=config["seed"],
    )
    inputs = {"target": examples["target"], "context": examples["context"]}
    return batching.array_dataset(
        inputs,
        examples["label"].astype("float32"),
        batch_size=global_batch_size,
        shuffle=shuffle,
        seed=config["seed"],
    ), len(examples["target"])


def pretrain(run, data):
    """Trains skip-gram word2vec on a classification run's training sentences and returns its
    vectors, aligned with the classifier's vocabulary (for
    `build_word2vec_classifier(embeddings=...)`); the run's `word2vec_*` settings say how."""
    c = run.config
    vocabulary_size = data.model_args["vocabulary_size"]
    sequences = [x for x in data.raw["train_ids"] if len(x) > 1]
    dataset, pairs = skipgram_dataset(sequences, vocabulary_size, c, run.global_batch_size, True)
    dim = c["model_args"].get("embedding_dim") or 128
    with run.strategy.scope():
        word2vec = build_word2vec(vocabulary_size=vocabulary_size, embedding_dim=dim)
        run.compile(word2vec, dataset, c["word2vec_epochs"], xla=c["word2vec_xla"])
    run.log(f"word2vec pretraining: {pairs} skip-gram pairs, {c['word2vec_epochs']} epochs")
    multi_worker.fit(
        word2vec, dataset, epochs=c["word2vec_epochs"], verbose=run.verbose(), shuffle=False
    )
    return word2vec_vectors(word2vec)


class EmbeddingProjector(keras.callbacks.Callback):
    """At the end of training, writes the word2vec vectors and their words for TensorBoard's
    embedding projector (`logs/projector`)."""

    def __init__(self, log_dir, tokens):
        super().__init__()
        self.log_dir, self.tokens = os.path.join(log_dir, "projector"), tokens

    def on_train_end(self, logs=None):
        vectors = word2vec_vectors(self.model)
        # Row 0 is padding: skip it, so rows and metadata lines match real words. A checkpoint
        # rather than a TSV file: a 10,000-word vocabulary is written in a blink.
        write_projector(self.log_dir, self.tokens[1:], vectors[1:], tensor_format="checkpoint")


class Word2VecTask(Task):
    """Skip-gram word2vec on a corpus: a local text file, the embedded prose, or a TFDS text
    dataset. Sentences are lines; the last 10 % of lines validate."""

    settings = dict(SKIPGRAM_SETTINGS)
    held_out_files = ()  # its validation lines are cut from the corpus

    def load(self, global_batch_size):
        c = self.config
        if c["train_file"]:
            lines = [
                line for p in c["train_file"] for line in text_files.read_lines(p, c["encoding"])
            ]
        elif c["dataset"].startswith("embedded"):
            lines = embedded.prose_text().splitlines()
        else:
            lines = tfds_sources.load_tfds_text(tfds_name(c), data_dir=c["data_dir"]).splitlines()
        lines = [line for line in lines if line.strip()]
        cut = int(len(lines) * (1 - c["valid_fraction"]))
        vectorizer = vectorization.make_vectorizer(
            lines[:cut], split="whitespace", max_tokens=c["max_tokens"], standardize=standardize(c)
        )
        vocabulary_size = vectorizer.vocabulary_size()
        datasets, sizes = {}, {}
        for split, part in (("train", lines[:cut]), ("valid", lines[cut:])):
            sequences = [x for x in vectorization.vectorize(vectorizer, part) if len(x) > 1]
            datasets[split], sizes[split] = skipgram_dataset(
                sequences, vocabulary_size, c, global_batch_size, shuffle=split == "train"
            )
        return Data(
            train=datasets["train"],
            valid=datasets["valid"],
            model_args={"vocabulary_size": vocabulary_size},
            vectorizers={"text": vectorizer},
            examples=vectorization.vocabulary(vectorizer)[2:5],
            summary=[
                f"train: {cut} lines, {sizes['train']} skip-gram pairs",
                f"valid: {len(lines) - cut} lines, {sizes['valid']} skip-gram pairs",
                f"vocabulary: {vocabulary_size} words",
            ],
        )

    def callbacks(self, model, data, log_dir):
        return [EmbeddingProjector(log_dir, vectorization.vocabulary(data.vectorizers["text"]))]

    def evaluate(self, model, data):
        results = super().evaluate(model, data)
        tokens = vectorization.vocabulary(data.vectorizers["text"])
        vectors = word2vec_vectors(model)
        unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
        neighbours = []
        for word_id in range(2, min(7, len(tokens))):
            similar = np.argsort(-(unit @ unit[word_id]))[1:6]
            neighbours.append(f"{tokens[word_id]}: {', '.join(tokens[i] for i in similar)}")
        results["valid"]["neighbours"] = neighbours
        return results

    # === Serving: words in, vectors out ===

    @classmethod
    def endpoints(cls, bundle):
        """`serving_default`: `words` [-1] string → `vectors` [-1, dim], `in_vocabulary` [-1]
        bool; `token_ids`: vectors of token ids."""
        embedding = target_embedding(bundle.model)
        vectorizer = bundle.vectorizers["text"]
        vocabulary_size = len(vectorization.vocabulary(vectorizer))

        def vectors_of(ids):
            return tf.cast(tf.gather(embedding.embeddings, ids), tf.float32)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="words")])
        def serve_words(words):
            ids = ids_from_text(vectorizer, words)[:, 0]
            return {"vectors": vectors_of(ids), "in_vocabulary": ids > 1}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.int32, name="token_ids")])
        def serve_token_ids(token_ids):
            ids = checked_token_ids(token_ids, vocabulary_size, "token_ids")
            return {"vectors": vectors_of(ids)}

        return {"serving_default": serve_words, "token_ids": serve_token_ids}

    @classmethod
    def warmup_inputs(cls, bundle):
        examples = [str(x) for x in bundle.examples[:3]] or ["hello"]
        return {"words": np.array(examples, dtype=object)}
