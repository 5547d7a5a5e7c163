"""Recurrent text classifier: Embedding → LSTM/GRU/SimpleRNN → Dense."""

import keras

from kzoo import testing, validation
from kzoo.layers import LSTM
from kzoo.models.heads import classification_head, compile_classifier, token_embedding
from kzoo.registry import TinyConfig, register_model

RNN_LAYERS = {
    "lstm": LSTM,  # keras.layers.LSTM with a fused CPU loop
    "gru": keras.layers.GRU,
    "simple_rnn": keras.layers.SimpleRNN,
}


def recurrent_layer(rnn, units, name, **kwargs):
    """Returns a `kzoo.layers.LSTM` (Keras' with a fused CPU loop), `keras.layers.GRU` or
    `keras.layers.SimpleRNN` chosen by name."""
    validation.one_of("rnn", rnn, tuple(RNN_LAYERS))
    return RNN_LAYERS[rnn](units, name=name, **kwargs)


@register_model(
    task="classification",
    tiny=TinyConfig(
        kwargs=dict(vocabulary_size=20, num_classes=3, embedding_dim=4, units=4, num_layers=2),
        inputs=lambda rng: testing.token_ids(rng, 3, 6, vocabulary_size=20),
        targets=lambda rng: rng.integers(0, 3, size=(3,)),
        output_shape=(3, 3),
        padded_inputs=lambda ids: testing.pad(ids, 3),
    ),
)
def build_lstm_classifier(
    vocabulary_size=None,
    num_classes=2,
    embedding_dim=None,
    units=32,
    rnn="lstm",
    bidirectional=False,
    num_layers=1,
    dropout=0.0,
    embeddings=None,
    trainable_embeddings=True,
):
    """Recurrent text classifier: Embedding(16) → LSTM(32) → Dense, padding masked.

    Token id 0 is padding and is masked from the embedding on, so a sentence gets the same
    prediction however much padding its batch adds after it (kzoo's pipelines post-pad). On
    CPU, padding before it is masked too; on GPU, Keras' cuDNN LSTM/GRU kernels require
    post-padding. (Unmasked and post-padded, as in the plain notebook version, the last LSTM
    state mostly sees padding and the model stays near chance on real movie-review sentences.)

    Two classes get one sigmoid unit and binary cross-entropy; more get a softmax and sparse
    categorical cross-entropy. The model is returned compiled with Adam; call `compile()` again
    to change that.

    Args:
        vocabulary_size: int. Number of token ids, padding (0) included. Defaults to the rows
            of `embeddings`, or `10000`.
        num_classes: int. Number of classes, at least 2. Defaults to `2`.
        embedding_dim: int. Width of the token embedding. Defaults to the columns of
            `embeddings`, or `16`.
        units: int. Width of each recurrent layer (per direction). Defaults to `32`.
        rnn: str. Recurrent layer, one of `"lstm"`, `"gru"` or `"simple_rnn"`. Defaults to
            `"lstm"`.
        bidirectional: bool. Wrap each recurrent layer in `keras.layers.Bidirectional`.
            Defaults to `False`.
        num_layers: int. Number of stacked recurrent layers. Defaults to `1`.
        dropout: float. Dropout rate after each recurrent layer, in [0, 1). Applied between
            layers rather than inside them, so that GPUs keep the fast cuDNN kernels.
            Defaults to `0.0`.
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
    >>> from kzoo import build_lstm_classifier
    >>> model = build_lstm_classifier(vocabulary_size=100, num_classes=2)
    >>> model.predict(np.array([[5, 8, 13, 0, 0]]), verbose=0).shape
    (1, 1)
    """
    embedding = token_embedding(
        vocabulary_size, embedding_dim, embeddings, trainable_embeddings, 16
    )
    validation.int_at_least("num_classes", num_classes, 2)
    validation.positive_int("units", units)
    validation.one_of("rnn", rnn, tuple(RNN_LAYERS))
    validation.positive_int("num_layers", num_layers)
    validation.rate("dropout", dropout)

    # === Layers and functional model ===
    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    x = embedding(token_ids)
    for i in range(num_layers):
        last = i == num_layers - 1
        layer = recurrent_layer(rnn, units, name=f"{rnn}_{i}", return_sequences=not last)
        if bidirectional:
            layer = keras.layers.Bidirectional(layer, name=f"bidirectional_{i}")
        x = layer(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"dropout_{i}")(x)
    outputs = classification_head(num_classes)(x)
    model = keras.Model(token_ids, outputs, name="lstm_classifier")
    return compile_classifier(model, num_classes)
