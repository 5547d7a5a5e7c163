"""Self-attention text classifier: token and position embeddings, MultiHeadAttention, Dense."""

import keras
import keras_hub

from kzoo import testing, validation
from kzoo.models.heads import classification_head, compile_classifier
from kzoo.registry import TinyConfig, register_model


def self_attention_model(model):
    """A model with `model`'s input whose last output is the per-head self-attention weights
    `(batch_size, num_heads, steps, steps)`, for plots (`kzoo attention`)."""
    scores = model.get_layer("self_attention").output[1]
    return keras.Model(model.input, [model.output, scores], name=f"{model.name}_with_attention")


def _input_limit(model):
    # The position embedding covers this many tokens; serving truncates longer inputs to it.
    return model.get_layer("embedding").sequence_length


@register_model(
    task="classification",
    attention=self_attention_model,
    input_limit=_input_limit,
    tiny=TinyConfig(
        kwargs=dict(
            vocabulary_size=20,
            num_classes=3,
            max_sequence_length=12,
            embedding_dim=8,
            num_heads=2,
            hidden_dim=4,
        ),
        inputs=lambda rng: testing.token_ids(rng, 3, 6, vocabulary_size=20),
        targets=lambda rng: rng.integers(0, 3, size=(3,)),
        output_shape=(3, 3),
        padded_inputs=lambda ids: testing.pad(ids, 4),
    ),
)
def build_mha_classifier(
    vocabulary_size=10_000,
    num_classes=2,
    max_sequence_length=256,
    embedding_dim=64,
    num_heads=4,
    hidden_dim=128,
    dropout=0.1,
):
    """Self-attention classifier: Embedding + positions → MultiHeadAttention(4 heads) → Dense.

    Token and learned position embeddings (`keras_hub.layers.TokenAndPositionEmbedding`) feed one
    `keras.layers.MultiHeadAttention` self-attention block with a residual connection and
    layer normalisation; the sequence is averaged over its real tokens, then Dropout →
    Dense(`hidden_dim`, relu) → Dropout → the class probabilities. Padding (token id 0, after the
    sentence) is masked in the attention and the pooling.

    The attention layer is called with `return_attention_scores=True`, so
    `model.get_layer("self_attention").output[1]` holds the per-head weights
    `(batch_size, num_heads, steps, steps)` for plots.

    Args:
        vocabulary_size: int. Number of token ids, padding (0) included. Defaults to `10000`.
        num_classes: int. Number of classes, at least 2. Defaults to `2`.
        max_sequence_length: int. Longest input the position embedding covers. Defaults to
            `256`.
        embedding_dim: int. Width of the embeddings and the attention. Defaults to `64`.
        num_heads: int. Attention heads; must divide `embedding_dim`. Defaults to `4`.
        hidden_dim: int. Width of the Dense layer after pooling. Defaults to `128`.
        dropout: float. Dropout rate in the attention and around the Dense layer, in [0, 1).
            Defaults to `0.1`.

    Returns:
        A compiled `keras.Model` mapping token ids `(batch_size, steps)`, `steps <=
        max_sequence_length`, to class probabilities `(batch_size, 1)` for two classes or
        `(batch_size, num_classes)`.

    Example:

    >>> import numpy as np
    >>> from kzoo import build_mha_classifier
    >>> model = build_mha_classifier(vocabulary_size=100, num_classes=4, max_sequence_length=32)
    >>> model.predict(np.array([[5, 8, 13, 0]]), verbose=0).shape
    (1, 4)
    """
    validation.int_at_least("vocabulary_size", vocabulary_size, 2)
    validation.int_at_least("num_classes", num_classes, 2)
    validation.positive_int("max_sequence_length", max_sequence_length)
    validation.positive_int("embedding_dim", embedding_dim)
    validation.positive_int("num_heads", num_heads)
    validation.divisible("embedding_dim", embedding_dim, "num_heads", num_heads)
    validation.positive_int("hidden_dim", hidden_dim)
    validation.rate("dropout", dropout)

    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    # An explicit padding mask, the convention of keras-hub's backbones: keras-hub's embedding
    # does not attach its mask to symbolic outputs, so implicit masks would stop there.
    padding_mask = keras.ops.not_equal(token_ids, 0)
    embedded = keras_hub.layers.TokenAndPositionEmbedding(
        vocabulary_size, max_sequence_length, embedding_dim, name="embedding"
    )(token_ids)
    attended = keras.layers.MultiHeadAttention(
        num_heads, embedding_dim // num_heads, dropout=dropout, name="self_attention"
    )(
        embedded,
        embedded,
        query_mask=padding_mask,
        value_mask=padding_mask,
        return_attention_scores=True,
    )[0]
    x = keras.layers.Add(name="residual")([embedded, attended])
    x = keras.layers.LayerNormalization(name="layer_norm")(x)
    x = keras.layers.GlobalAveragePooling1D(name="average_pool")(x, mask=padding_mask)
    x = keras.layers.Dropout(dropout, name="dropout_0")(x)
    x = keras.layers.Dense(hidden_dim, activation="relu", name="hidden")(x)
    x = keras.layers.Dropout(dropout, name="dropout_1")(x)
    outputs = classification_head(num_classes)(x)
    model = keras.Model(token_ids, outputs, name="mha_classifier")
    return compile_classifier(model, num_classes)
