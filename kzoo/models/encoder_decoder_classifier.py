"""Text classifier made of two named sub-models: an LSTM encoder and a Dense decoder."""

import keras

from kzoo import testing, validation
from kzoo.layers import LSTM
from kzoo.models.heads import classification_head, compile_classifier, token_embedding
from kzoo.registry import TinyConfig, register_model


@register_model(
    task="classification",
    tiny=TinyConfig(
        kwargs=dict(vocabulary_size=20, num_classes=2, embedding_dim=4, units=5),
        inputs=lambda rng: testing.token_ids(rng, 3, 6, vocabulary_size=20),
        targets=lambda rng: rng.integers(0, 2, size=(3,)),
        output_shape=(3, 1),
        padded_inputs=lambda ids: testing.pad(ids, 3),
    ),
)
def build_encoder_decoder_classifier(
    vocabulary_size=None,
    num_classes=2,
    embedding_dim=None,
    units=64,
    dropout=0.0,
    embeddings=None,
    trainable_embeddings=True,
):
    """Encoder-decoder classifier: an LSTM sentence encoder and a Dense decoder as sub-models.

    The `encoder` sub-model (Embedding → LSTM) maps token ids to the LSTM's final hidden state,
    a fixed-size sentence vector; the `decoder` sub-model maps that vector to class
    probabilities. The classifier chains the two, and `model.get_layer("encoder")` is a model of
    its own that can encode sentences, or start another task, after training. Padding (token
    id 0) is masked.

    Args:
        vocabulary_size: int. Number of token ids, padding (0) included. Defaults to the rows
            of `embeddings`, or `10000`.
        num_classes: int. Number of classes, at least 2. Defaults to `2`.
        embedding_dim: int. Width of the token embedding. Defaults to the columns of
            `embeddings`, or `64`.
        units: int. Width of the LSTM, and of the sentence vector. Defaults to `64`.
        dropout: float. Dropout rate on the sentence vector in the decoder, in [0, 1).
            Defaults to `0.0`.
        embeddings: pre-trained word vectors the embedding starts from: a float matrix
            `(vocabulary_size, embedding_dim)` whose row `i` is token `i`'s, or a
            `kzoo.embeddings.WordVectors` laid out for the model's vocabulary
            (`WordVectors.load(path).aligned_to(vocabulary)`). Defaults to `None` (random).
        trainable_embeddings: bool. Whether training updates the embedding (`False` freezes
            pre-trained vectors). Defaults to `True`.

    Returns:
        A compiled `keras.Model` with sub-models `encoder` and `decoder`, mapping token ids
        `(batch_size, steps)` to class probabilities `(batch_size, 1)` for two classes or
        `(batch_size, num_classes)`.

    Example:

    >>> import numpy as np
    >>> from kzoo import build_encoder_decoder_classifier
    >>> model = build_encoder_decoder_classifier(vocabulary_size=100, units=8)
    >>> encoder = model.get_layer("encoder")
    >>> encoder.predict(np.array([[5, 8, 13, 0]]), verbose=0).shape
    (1, 8)
    """
    embedding = token_embedding(
        vocabulary_size, embedding_dim, embeddings, trainable_embeddings, 64
    )
    validation.int_at_least("num_classes", num_classes, 2)
    validation.positive_int("units", units)
    validation.rate("dropout", dropout)

    # === Encoder: token ids → sentence vector ===
    encoder_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    x = embedding(encoder_ids)
    sentence_vector = LSTM(units, name="lstm")(x)
    encoder = keras.Model(encoder_ids, sentence_vector, name="encoder")

    # === Decoder: sentence vector → class probabilities ===
    decoder_input = keras.Input(shape=(units,), name="sentence_vector")
    x = keras.layers.Dropout(dropout, name="dropout")(decoder_input) if dropout else decoder_input
    decoder = keras.Model(decoder_input, classification_head(num_classes)(x), name="decoder")

    # === Classifier ===
    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    model = keras.Model(token_ids, decoder(encoder(token_ids)), name="encoder_decoder_classifier")
    return compile_classifier(model, num_classes)
