"""What kzoo's classifiers and language models share: the token embedding (started from
pre-trained word vectors or not), the output heads and the compile defaults."""

import keras
import keras_hub
import numpy as np

from kzoo import validation

# kzoo's vectorizers give padding token id 0 and unknown words id 1
# (`kzoo.data.vectorization.make_vectorizer`).
_SPECIAL_TOKENS = ["", "[UNK]"]


def embedding_matrix(embeddings):
    """The initial vectors of a token embedding, a float32 matrix whose row `i` is token
    `i`'s; `None` for `None`.

    `embeddings` is a matrix, or a `kzoo.embeddings.WordVectors` whose vocabulary is the
    model's (as `WordVectors.aligned_to(vocabulary)` and `WordVectors.from_run` give it): its
    first words must be padding `""` and `[UNK]`, as in every kzoo vocabulary, or its rows
    would not follow the model's token ids.
    """
    if embeddings is None:
        return None
    vocabulary = getattr(embeddings, "vocabulary", None)
    if vocabulary is not None:  # a WordVectors
        if list(vocabulary[:2]) != _SPECIAL_TOKENS:
            raise ValueError(
                "Invalid value for argument embeddings. Expected word vectors whose rows follow "
                "the model's token ids (first padding '' and '[UNK]'): lay them out with "
                "`WordVectors.aligned_to(vocabulary)`. Received: WordVectors whose first words "
                f"are {list(vocabulary[:3])}"
            )
        embeddings = embeddings.vectors
    matrix = np.asarray(embeddings, dtype="float32")
    if matrix.ndim != 2:
        raise ValueError(
            "Invalid value for argument embeddings. Expected a WordVectors or a matrix of "
            f"shape (vocabulary_size, embedding_dim). Received: embeddings.shape={matrix.shape}"
        )
    return matrix


def token_embedding(
    vocabulary_size,
    embedding_dim,
    embeddings=None,
    trainable_embeddings=True,
    default_embedding_dim=128,
    mask_zero=True,
    name="embedding",
):
    """The token `Embedding` of a classifier, started from pre-trained vectors when given.

    With `embeddings`, the layer's weights are those vectors (set as weights, not as an
    initializer, so that the model's config stays small) and `vocabulary_size` and
    `embedding_dim` default to its shape; they must agree with it when given.
    `trainable_embeddings=False` freezes them (Kim's CNN-static), `True` fine-tunes them
    (CNN-non-static).

    Args:
        vocabulary_size: int or `None`. Token ids, padding included; `None`: the rows of
            `embeddings`, or 10,000.
        embedding_dim: int or `None`. Vector width; `None`: the columns of `embeddings`, or
            `default_embedding_dim`.
        embeddings: a matrix or `WordVectors` (see `embedding_matrix`), or `None`.
        trainable_embeddings: bool. Whether training updates the vectors.
        default_embedding_dim: int. The width without `embeddings` or `embedding_dim`.
        mask_zero: bool. Mask padding (token id 0).
        name: str. The layer's name.

    Returns:
        A built `keras.layers.Embedding`.
    """
    matrix = embedding_matrix(embeddings)
    if matrix is not None:
        for argument, given, found in (
            ("vocabulary_size", vocabulary_size, matrix.shape[0]),
            ("embedding_dim", embedding_dim, matrix.shape[1]),
        ):
            if given is not None and given != found:
                raise ValueError(
                    f"Invalid value for argument {argument}. Expected {found}, as the "
                    f"embeddings have shape {matrix.shape}. Received: {argument}={given}"
                )
        vocabulary_size, embedding_dim = matrix.shape
    vocabulary_size = 10_000 if vocabulary_size is None else vocabulary_size
    embedding_dim = default_embedding_dim if embedding_dim is None else embedding_dim
    validation.int_at_least("vocabulary_size", vocabulary_size, 2)
    validation.positive_int("embedding_dim", embedding_dim)
    validation.boolean("trainable_embeddings", trainable_embeddings)
    layer = keras.layers.Embedding(
        int(vocabulary_size),
        int(embedding_dim),
        mask_zero=mask_zero,
        trainable=trainable_embeddings,
        name=name,
    )
    if matrix is not None:
        layer.build((None, None))
        layer.set_weights([matrix])
    return layer


def classification_head(num_classes, name="predictions", kernel_constraint=None):
    """Returns the output layer of a classifier.

    Two classes get one sigmoid unit (probability of class 1), more get a softmax. The layer
    computes in float32 whatever the global dtype policy, so that under mixed precision the
    probabilities and the loss keep full precision (Keras' mixed precision guide).
    """
    units, activation = (1, "sigmoid") if num_classes == 2 else (num_classes, "softmax")
    return keras.layers.Dense(
        units,
        activation=activation,
        kernel_constraint=kernel_constraint,
        dtype="float32",
        name=name,
    )


def compile_classifier(model, num_classes):
    """Compiles a classifier with Adam and the loss and accuracy that fit its head."""
    if num_classes == 2:
        loss = keras.losses.BinaryCrossentropy()
        accuracy = keras.metrics.BinaryAccuracy(name="accuracy")
    else:
        loss = keras.losses.SparseCategoricalCrossentropy()
        accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    model.compile(optimizer=keras.optimizers.Adam(), loss=loss, metrics=[accuracy])
    return model


@keras.saving.register_keras_serializable(package="kzoo")
class LabelSmoothedCrossentropy(keras.losses.Loss):
    """Cross-entropy of next-token logits against token ids, with label smoothing, averaged
    over the tokens that are not padding (id 0).

    The target distribution puts `1 - label_smoothing` on the true token and spreads
    `label_smoothing` evenly over the vocabulary (Szegedy et al., 2016; the Transformer's 0.1).
    Keras' `SparseCategoricalCrossentropy` has no smoothing, and its dense counterpart would
    need one-hot targets the size of the logits.

    Args:
        label_smoothing: float in [0, 1). Defaults to `0.1`.

    Example:

    >>> import numpy as np
    >>> loss = LabelSmoothedCrossentropy(label_smoothing=0.0)
    >>> logits = np.log(np.array([[[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]]], "float32"))
    >>> round(float(loss(np.array([[1, 0]]), logits)), 4)  # padding (0) is left out
    1.3863
    """

    def __init__(self, label_smoothing=0.1, name="label_smoothed_crossentropy", **kwargs):
        kwargs.setdefault("reduction", "sum")
        super().__init__(name=name, **kwargs)
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        y_true = keras.ops.cast(y_true, "int32")
        log_probabilities = keras.ops.log_softmax(keras.ops.cast(y_pred, "float32"), axis=-1)
        chosen = keras.ops.take_along_axis(log_probabilities, y_true[..., None], axis=-1)[..., 0]
        uniform = keras.ops.mean(log_probabilities, axis=-1)
        per_token = -(1.0 - self.label_smoothing) * chosen - self.label_smoothing * uniform
        real = keras.ops.cast(keras.ops.not_equal(y_true, 0), "float32")
        # One mean over the batch's real tokens, as `ignore_class=0` gives without smoothing.
        return keras.ops.sum(per_token * real) / keras.ops.maximum(keras.ops.sum(real), 1.0)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


def compile_language_model(model, label_smoothing=0.0):
    """Compiles a next-token model whose output is logits over the vocabulary.

    The loss ignores padding targets (token id 0), with `label_smoothing` if it is above 0, and
    the metric is keras-hub's perplexity over the real tokens, whether or not a Keras mask
    travels with the logits.
    """
    if label_smoothing:
        loss = LabelSmoothedCrossentropy(label_smoothing)
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)
    model.compile(
        optimizer=keras.optimizers.Adam(),
        loss=loss,
        metrics=[keras_hub.metrics.Perplexity(from_logits=True, mask_token_id=0)],
    )
    return model
