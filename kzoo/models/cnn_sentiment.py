"""1D-CNN sentence classifiers: a single convolution, and Kim's (2014) three-width CNN."""

import keras

from kzoo import testing, validation
from kzoo.layers import MaskedConv1D, MaskedGlobalMaxPooling1D
from kzoo.models.heads import classification_head, compile_classifier, token_embedding
from kzoo.registry import TinyConfig, register_model


def _tiny(num_classes):
    return TinyConfig(
        kwargs=dict(
            vocabulary_size=20,
            num_classes=num_classes,
            embedding_dim=4,
            filters=3,
            kernel_sizes=(2, 3),
        ),
        inputs=lambda rng: testing.token_ids(rng, 3, 6, vocabulary_size=20),
        targets=lambda rng: rng.integers(0, num_classes, size=(3,)),
        output_shape=(3, 1 if num_classes == 2 else num_classes),
        padded_inputs=lambda ids: testing.pad(ids, 4),
    )


@register_model(tiny=_tiny(num_classes=2), task="classification")
def build_cnn_sentiment(
    vocabulary_size=None,
    num_classes=2,
    embedding_dim=None,
    filters=128,
    kernel_sizes=(5,),
    dropout=0.0,
    max_norm=None,
    embeddings=None,
    trainable_embeddings=True,
):
    """Convolutional text classifier: Embedding(64) → Conv1D(128, 5, relu) → max-over-time → Dense.

    With several `kernel_sizes`, one convolution per width runs in parallel on the embedding and
    their max-pooled features are concatenated (Kim, 2014; `build_kim_cnn` is that variant).

    Padding (token id 0) is masked: padded steps are zeroed before each convolution, which pads
    "same", and they are skipped by the max-over-time pooling. A sentence's prediction is then
    the same however much padding its batch adds, and sentences shorter than the kernel still
    get features.

    Args:
        vocabulary_size: int. Number of token ids, padding (0) included. Defaults to the rows
            of `embeddings`, or `10000`.
        num_classes: int. Number of classes, at least 2. Defaults to `2`.
        embedding_dim: int. Width of the token embedding. Defaults to the columns of
            `embeddings`, or `64`.
        filters: int. Feature maps per kernel width. Defaults to `128`.
        kernel_sizes: list of int. Convolution widths, one branch each. Defaults to `(5,)`.
        dropout: float. Dropout rate on the pooled features, in [0, 1). Defaults to `0.0`.
        max_norm: float or None. If set, after each update the weights of every output unit are
            rescaled to an L2 norm of at most this value (`keras.constraints.MaxNorm`).
            Defaults to `None`.
        embeddings: pre-trained word vectors the embedding starts from: a float matrix
            `(vocabulary_size, embedding_dim)` whose row `i` is token `i`'s, or a
            `kzoo.embeddings.WordVectors` laid out for the model's vocabulary
            (`WordVectors.load(path).aligned_to(vocabulary)`). Defaults to `None` (random).
        trainable_embeddings: bool. Whether training updates the embedding (`False` freezes
            pre-trained vectors). Defaults to `True`.

    Returns:
        A compiled `keras.Model` mapping token ids `(batch_size, steps)` to class probabilities
        `(batch_size, 1)` for two classes or `(batch_size, num_classes)`.

    Example:

    >>> import numpy as np
    >>> from kzoo import build_cnn_sentiment
    >>> model = build_cnn_sentiment(vocabulary_size=100)
    >>> model.predict(np.array([[5, 8, 13, 0]]), verbose=0).shape
    (1, 1)
    """
    return _build_cnn(
        "cnn_sentiment",
        num_classes=num_classes,
        embedding=token_embedding(
            vocabulary_size, embedding_dim, embeddings, trainable_embeddings, 64
        ),
        filters=filters,
        kernel_sizes=kernel_sizes,
        dropout=dropout,
        max_norm=max_norm,
    )


def _build_cnn(name, num_classes, embedding, filters, kernel_sizes, dropout, max_norm):
    validation.int_at_least("num_classes", num_classes, 2)
    validation.positive_int("filters", filters)
    kernel_sizes = validation.positive_ints("kernel_sizes", kernel_sizes)
    validation.rate("dropout", dropout)
    if max_norm is not None:
        validation.positive_float("max_norm", max_norm)

    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    embedded = embedding(token_ids)
    features = []
    for size in kernel_sizes:
        x = MaskedConv1D(filters, size, activation="relu", name=f"conv_{size}")(embedded)
        features.append(MaskedGlobalMaxPooling1D(name=f"max_pool_{size}")(x))
    x = features[0] if len(features) == 1 else keras.layers.Concatenate(name="concat")(features)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    # MaxNorm's default axis 0 bounds each output unit's incoming weight vector, as Kim does.
    constraint = keras.constraints.MaxNorm(max_norm) if max_norm is not None else None
    outputs = classification_head(num_classes, kernel_constraint=constraint)(x)
    model = keras.Model(token_ids, outputs, name=name)
    return compile_classifier(model, num_classes)


@register_model(tiny=_tiny(num_classes=6), task="classification")
def build_kim_cnn(
    vocabulary_size=None,
    num_classes=2,
    embedding_dim=None,
    filters=100,
    kernel_sizes=(3, 4, 5),
    dropout=0.5,
    max_norm=None,
    embeddings=None,
    trainable_embeddings=True,
):
    """Kim (2014) CNN: kernel widths 3/4/5 with 100 maps each, max-over-time, dropout 0.5.

    "Convolutional Neural Networks for Sentence Classification" (https://arxiv.org/abs/1408.5882).
    Without `embeddings`, the CNN-rand model: randomly initialised 300-wide embeddings trained
    with the network. With pre-trained word vectors (`embeddings`, e.g. word2vec's Google News
    vectors laid out for the vocabulary by `WordVectors.aligned_to`, which draws the missing
    words from [-0.25, 0.25] as Kim did), CNN-static (`trainable_embeddings=False`: the vectors
    stay fixed) or CNN-non-static (`True`: they are fine-tuned). The same builder as
    `build_cnn_sentiment`, with Kim's values as defaults.

    Args:
        vocabulary_size: int. Number of token ids, padding (0) included. Defaults to the rows
            of `embeddings`, or `10000`.
        num_classes: int. Number of classes, at least 2. Defaults to `2`.
        embedding_dim: int. Width of the token embedding. Defaults to the columns of
            `embeddings`, or `300`.
        filters: int. Feature maps per kernel width. Defaults to `100`.
        kernel_sizes: list of int. Convolution widths, one branch each. Defaults to
            `(3, 4, 5)`.
        dropout: float. Dropout rate on the pooled features, in [0, 1). Defaults to `0.5`.
        max_norm: float or None. If set, the weights of every output unit are rescaled to an
            L2 norm of at most this value after each update (Kim uses 3). Defaults to `None`.
        embeddings: pre-trained word vectors, as in `build_cnn_sentiment`. Defaults to
            `None` (CNN-rand).
        trainable_embeddings: bool. `False` for CNN-static, `True` for CNN-non-static (and
            CNN-rand). Defaults to `True`.

    Example:

    >>> import numpy as np
    >>> from kzoo import build_kim_cnn
    >>> from kzoo.embeddings import WordVectors
    >>> model = build_kim_cnn(vocabulary_size=100, num_classes=6)
    >>> model.predict(np.array([[5, 8, 13, 0]]), verbose=0).shape
    (1, 6)
    >>> vectors = WordVectors(["good", "film"], np.ones((2, 4)))  # e.g. WordVectors.load(path)
    >>> static = build_kim_cnn(embeddings=vectors.aligned_to(["", "[UNK]", "a", "good", "film"]),
    ...                        trainable_embeddings=False)
    >>> static.get_layer("embedding").get_weights()[0][3].tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    return _build_cnn(
        "kim_cnn",
        num_classes=num_classes,
        embedding=token_embedding(
            vocabulary_size, embedding_dim, embeddings, trainable_embeddings, 300
        ),
        filters=filters,
        kernel_sizes=kernel_sizes,
        dropout=dropout,
        max_norm=max_norm,
    )
