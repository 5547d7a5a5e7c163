"""Skip-gram word2vec with negative sampling, and a text classifier that starts from its vectors."""

import keras
import numpy as np
from keras import ops

from kzoo import testing, validation
from kzoo.models.heads import classification_head, compile_classifier, token_embedding
from kzoo.registry import TinyConfig, register_model


def _tiny_skipgram_batch(rng):
    return {
        "target": rng.integers(1, 20, size=(4,)).astype("int32"),
        "context": rng.integers(1, 20, size=(4, 5)).astype("int32"),
    }


@register_model(
    task="word2vec",
    tiny=TinyConfig(
        kwargs=dict(vocabulary_size=20, embedding_dim=4),
        inputs=_tiny_skipgram_batch,
        # The true context word comes first, then the negative samples.
        targets=lambda rng: np.tile(np.eye(1, 5, dtype="float32"), (4, 1)),
        output_shape=(4, 5),
    ),
)
def build_word2vec(vocabulary_size=10_000, embedding_dim=128):
    """Skip-gram word2vec with negative sampling: target and context embeddings, dot, sigmoid.

    Mikolov et al. (2013), "Distributed Representations of Words and Phrases and their
    Compositionality" (https://arxiv.org/abs/1310.4546). For each (target word, context words)
    pair the model scores every context word by the dot product of the target's vector and the
    context word's vector; trained with binary cross-entropy against label 1 for the true context
    word and 0 for the sampled negatives, the target embedding becomes the word vectors.

    Args:
        vocabulary_size: int. Number of word ids, padding (0) included. Defaults to `10000`.
        embedding_dim: int. Width of the word vectors. Defaults to `128`.

    Returns:
        A compiled `keras.Model` taking a dict `{"target": (batch_size,), "context":
        (batch_size, 1 + num_negatives)}` of word ids and returning one logit per context word,
        `(batch_size, 1 + num_negatives)`. The word vectors are
        `word2vec_vectors(model)`, the weights of the layer named `"target_embedding"`.

    Example:

    >>> import numpy as np
    >>> from kzoo.models.word2vec import build_word2vec, word2vec_vectors
    >>> model = build_word2vec(vocabulary_size=50, embedding_dim=8)
    >>> batch = {"target": np.array([3, 7]), "context": np.array([[4, 9, 1], [2, 5, 6]])}
    >>> model.predict(batch, verbose=0).shape
    (2, 3)
    >>> word2vec_vectors(model).shape
    (50, 8)
    """
    validation.int_at_least("vocabulary_size", vocabulary_size, 2)
    validation.positive_int("embedding_dim", embedding_dim)

    target = keras.Input(shape=(), dtype="int32", name="target")
    context = keras.Input(shape=(None,), dtype="int32", name="context")
    target_vectors = keras.layers.Embedding(
        vocabulary_size, embedding_dim, name="target_embedding"
    )(target)
    context_vectors = keras.layers.Embedding(
        vocabulary_size, embedding_dim, name="context_embedding"
    )(context)
    # (batch, dim) · (batch, contexts, dim) → (batch, contexts)
    logits = keras.layers.Dot(axes=(1, 2), dtype="float32", name="similarity")(
        [target_vectors, context_vectors]
    )
    model = keras.Model({"target": target, "context": context}, logits, name="word2vec")
    model.compile(
        optimizer=keras.optimizers.Adam(),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)],
    )
    return model


def target_embedding(model):
    """The `Embedding` layer that holds a word2vec model's word vectors (its target side)."""
    return model.get_layer("target_embedding")


def word2vec_vectors(model):
    """Returns the word vectors of a word2vec model, a numpy array `(vocabulary_size, dim)`."""
    return keras.ops.convert_to_numpy(target_embedding(model).embeddings)


OOV_TOKEN_ID = 1  # `[UNK]` in kzoo's vectorizers (`kzoo.data.vectorization.make_vectorizer`)
OOV_MODES = ("ignore", "trainable")


@keras.saving.register_keras_serializable(package="kzoo")
class WordVectorAverage(keras.layers.Layer):
    """Averages the word vectors of a sentence, with an explicit rule for unknown words.

    Padding (token id 0) never counts. Unknown words (token id 1, `[UNK]`) are either left out
    of the average (`oov="ignore"`) or replaced by a vector of their own, `oov_vector`, which is
    trained even when the word vectors are frozen (`oov="trainable"`). A sentence with no word
    that counts averages to zeros.

    Args:
        oov: str. `"ignore"` or `"trainable"`. Defaults to `"ignore"`.

    Call arguments:
        vectors: float tensor `(batch_size, steps, dim)`, the embedded tokens.
        token_ids: int tensor `(batch_size, steps)`, the tokens themselves.

    Output:
        Float tensor `(batch_size, dim)`.

    Example:

    >>> import numpy as np
    >>> vectors = np.array([[[1.0, 2.0], [9.0, 9.0], [3.0, 4.0], [5.0, 5.0]]], dtype="float32")
    >>> WordVectorAverage()(vectors, np.array([[4, 1, 7, 0]])).numpy()  # [UNK], then padding
    array([[2., 3.]], dtype=float32)
    """

    def __init__(self, oov="ignore", **kwargs):
        super().__init__(**kwargs)
        self.oov = validation.one_of("oov", oov, OOV_MODES)

    def build(self, vectors_shape, token_ids_shape):
        if self.oov == "trainable":
            self.oov_vector = self.add_weight(
                shape=(vectors_shape[-1],), initializer="zeros", name="oov_vector"
            )

    def call(self, vectors, token_ids):
        token_ids = ops.cast(token_ids, "int32")
        counted = token_ids != 0
        if self.oov == "ignore":
            counted = ops.logical_and(counted, token_ids != OOV_TOKEN_ID)
        else:
            unknown = ops.expand_dims(token_ids == OOV_TOKEN_ID, -1)
            vectors = ops.where(unknown, ops.cast(self.oov_vector, vectors.dtype), vectors)
        weights = ops.expand_dims(ops.cast(counted, vectors.dtype), -1)
        total = ops.sum(vectors * weights, axis=1)
        return total / ops.maximum(ops.sum(weights, axis=1), 1.0)

    def compute_output_shape(self, vectors_shape, token_ids_shape):
        return (vectors_shape[0], vectors_shape[2])

    def get_config(self):
        return {**super().get_config(), "oov": self.oov}


@register_model(
    task="classification",
    tiny=TinyConfig(
        kwargs=dict(
            num_classes=3,
            embeddings=np.random.default_rng(0).normal(size=(20, 4)).astype("float32"),
            trainable_embeddings=True,
            hidden_dim=5,
        ),
        inputs=lambda rng: testing.token_ids(rng, 3, 6, vocabulary_size=20),
        targets=lambda rng: rng.integers(0, 3, size=(3,)),
        output_shape=(3, 3),
        padded_inputs=lambda ids: testing.pad(ids, 3),
    ),
)
def build_word2vec_classifier(
    vocabulary_size=None,
    num_classes=2,
    embedding_dim=None,
    embeddings=None,
    trainable_embeddings=False,
    hidden_dim=64,
    dropout=0.0,
    oov="ignore",
):
    """Text classifier on custom word2vec embeddings: averaged word vectors → Dense → classes.

    The embedding layer starts from trained word vectors (a `build_word2vec` model or any
    `(vocabulary_size, embedding_dim)` matrix whose rows follow the classifier's vocabulary) and
    is frozen or fine-tuned. The vectors of the real words are averaged (padding, token id 0,
    never counts), then Dense(`hidden_dim`, relu) → Dropout → class probabilities.

    Unknown words (token id 1, `[UNK]`, as kzoo's vectorizers map every word outside their
    vocabulary) are handled explicitly rather than averaged in through the embeddings' `[UNK]`
    row, which is noise when word2vec never saw `[UNK]`:

    - `oov="ignore"`: unknown words are left out of the average, so adding or removing one
      never changes the prediction; a text of unknown words only averages to zeros.
    - `oov="trainable"`: every unknown word gets one vector of its own (the `oov_vector`
      weight of the layer `"average_pool"`), trained even when the word vectors are frozen,
      so the classifier learns what an unknown word says about the classes. It starts from
      the embeddings' `[UNK]` row (which word2vec trains when `max_tokens` cuts the
      vocabulary, as `[UNK]` then stands for the rare words) and learns only from training
      texts that contain unknown words.

    Args:
        vocabulary_size: int. Number of token ids, padding included. Defaults to the rows of
            `embeddings`, or `10000` without them.
        num_classes: int. Number of classes, at least 2. Defaults to `2`.
        embedding_dim: int. Width of the word vectors. Defaults to the columns of
            `embeddings`, or `128` without them.
        embeddings: a word2vec `keras.Model`, a float matrix `(vocabulary_size,
            embedding_dim)`, or a `kzoo.embeddings.WordVectors` laid out for the vocabulary
            (`WordVectors.load(path).aligned_to(vocabulary)`). Initial word vectors; random
            when `None`. Defaults to `None`.
        trainable_embeddings: bool. Fine-tune the vectors (`True`) or keep them frozen
            (`False`). Defaults to `False`.
        hidden_dim: int. Width of the Dense layer. Defaults to `64`.
        dropout: float. Dropout rate before the output, in [0, 1). Defaults to `0.0`.
        oov: str. How unknown words (token id 1) count: `"ignore"` or `"trainable"`, see
            above. Defaults to `"ignore"`.

    Returns:
        A compiled `keras.Model` mapping token ids `(batch_size, steps)` to class probabilities
        `(batch_size, 1)` for two classes or `(batch_size, num_classes)`.

    Example:

    >>> import numpy as np
    >>> from kzoo import build_word2vec, build_word2vec_classifier
    >>> word2vec = build_word2vec(vocabulary_size=50, embedding_dim=8)
    >>> model = build_word2vec_classifier(embeddings=word2vec, num_classes=3)
    >>> model.predict(np.array([[5, 8, 13, 0]]), verbose=0).shape
    (1, 3)
    >>> # Unknown words (id 1) are left out of the average by default.
    >>> bool(np.allclose(model.predict(np.array([[5, 1, 8, 1]]), verbose=0),
    ...                  model.predict(np.array([[5, 8]]), verbose=0)))
    True
    """
    if isinstance(embeddings, keras.Model):
        embeddings = word2vec_vectors(embeddings)
    # The average reads padding and unknown words from the ids themselves, not from a mask.
    embedding = token_embedding(
        vocabulary_size, embedding_dim, embeddings, trainable_embeddings, 128, mask_zero=False
    )
    validation.int_at_least("num_classes", num_classes, 2)
    validation.positive_int("hidden_dim", hidden_dim)
    validation.rate("dropout", dropout)
    validation.one_of("oov", oov, OOV_MODES)

    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    average = WordVectorAverage(oov, name="average_pool")
    x = average(embedding(token_ids), token_ids)
    x = keras.layers.Dense(hidden_dim, activation="relu", name="hidden")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = classification_head(num_classes)(x)
    model = keras.Model(token_ids, outputs, name="word2vec_classifier")
    if oov == "trainable" and embeddings is not None:
        average.oov_vector.assign(embedding.embeddings[OOV_TOKEN_ID])
    return compile_classifier(model, num_classes)
