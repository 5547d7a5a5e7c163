"""A small decoder-only Transformer language model: keras-hub's token and position embedding,
then pre-norm causal blocks with one fused query/key/value projection."""

import math

import keras
import keras_hub
from keras import ops

from kzoo import testing, validation
from kzoo.decoding import Decoder
from kzoo.models.heads import compile_language_model
from kzoo.registry import TinyConfig, register_model


class GPTDecoder(Decoder):
    """Decodes a GPT one token at a time; its cache holds every block's keys and values.

    The cache is as long as the decoding buffer, not the whole context: `start` reads the
    whole padded buffer once, as keras-hub's `CausalLM` does (keys and values past a row's
    prompt are overwritten before any query reaches them), then `step` reads one token.
    """

    def __init__(self, model):
        super().__init__(model)
        self.context = model.get_layer("embedding").sequence_length

    def start(self, prompt, index, source=None, extras=False):
        empty = gpt_initial_cache(self.model, ops.shape(prompt)[0], ops.shape(prompt)[1])
        return gpt_call_with_cache(self.model, prompt, empty, 0)[1]

    def step(self, token_ids, cache, index):
        logits, cache = gpt_call_with_cache(self.model, token_ids, cache, index - 1)
        return logits[:, -1], cache


@keras.saving.register_keras_serializable(package="kzoo")
class GPTBlock(keras.layers.Layer):
    """A pre-norm causal Transformer decoder block, as GPT-2's and nanoGPT's.

    LayerNormalization → causal multi-head self-attention → dropout → residual, then
    LayerNormalization → Dense(`intermediate_dim`, activation) → Dense → dropout → residual.
    The same computation as keras-hub's `TransformerDecoder(normalize_first=True)` without
    cross-attention, with the queries, keys and values made by one Dense of width
    `3 * hidden_dim` instead of three per-head einsums: on a CPU under XLA the GPT recipe's
    training step is 1.04x-1.09x faster this way (benchmarks/results/peers.md). Its kernels
    start at the scale of keras-hub's, so the losses measured with keras-hub's blocks carry
    over.

    Args:
        hidden_dim: int. Width of the inputs and outputs.
        num_heads: int. Attention heads; must divide `hidden_dim`.
        intermediate_dim: int. Width of the feed-forward layer.
        dropout: float. Dropout rate of the attention weights and of both residual branches,
            in [0, 1). Defaults to `0.0`.
        activation: str. The feed-forward activation, `"gelu"` or `"relu"`. Defaults to
            `"gelu"`.
        layer_norm_epsilon: float. Defaults to `1e-5`.
        **kwargs: other `keras.layers.Layer` arguments (`name`, `dtype`).

    Call arguments:
        inputs: float tensor `(batch_size, steps, hidden_dim)`.
        padding_mask: optional boolean tensor `(batch_size, steps)`, `False` at padding: no
            position attends to a padded one.
        cache: optional float tensor `(batch_size, 2, cache_length, num_heads, head_dim)` of
            keys and values. The inputs' keys and values are written into it at
            `cache_update_index`, and the inputs attend to every cached position up to their
            own.
        cache_update_index: int or int tensor. Position of the inputs' first step; needed
            with `cache`.
        training: bool. Whether dropout is applied.

    Output:
        Float tensor `(batch_size, steps, hidden_dim)`; with `cache`, a tuple of it and the
        updated cache.

    Example:

    >>> import numpy as np
    >>> from kzoo.models.gpt import GPTBlock
    >>> block = GPTBlock(hidden_dim=8, num_heads=2, intermediate_dim=16)
    >>> block(np.random.rand(3, 5, 8).astype("float32")).shape
    TensorShape([3, 5, 8])
    """

    def __init__(
        self,
        hidden_dim,
        num_heads,
        intermediate_dim,
        dropout=0.0,
        activation="gelu",
        layer_norm_epsilon=1e-5,
        **kwargs,
    ):
        super().__init__(**kwargs)
        validation.positive_int("hidden_dim", hidden_dim)
        validation.positive_int("num_heads", num_heads)
        validation.divisible("hidden_dim", hidden_dim, "num_heads", num_heads)
        validation.positive_int("intermediate_dim", intermediate_dim)
        validation.rate("dropout", dropout)
        validation.one_of("activation", activation, ("gelu", "relu"))
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.head_dim = hidden_dim // num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.activation = activation
        self.layer_norm_epsilon = layer_norm_epsilon
        # keras-hub's query, key, value and output kernels are each Glorot-uniform over a
        # hidden_dim x hidden_dim matrix; the fused kernel keeps that limit (Glorot over its
        # own 3x wider shape would start the queries and keys smaller).
        limit = math.sqrt(6 / (2 * hidden_dim))
        policy = self.dtype_policy
        self.attention_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=policy, name="attention_norm"
        )
        self.query_key_value = keras.layers.Dense(
            3 * hidden_dim,
            kernel_initializer=keras.initializers.RandomUniform(-limit, limit),
            dtype=policy,
            name="query_key_value",
        )
        self.attention_output = keras.layers.Dense(
            hidden_dim,
            kernel_initializer=keras.initializers.RandomUniform(-limit, limit),
            dtype=policy,
            name="attention_output",
        )
        self.feedforward_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=policy, name="feedforward_norm"
        )
        self.feedforward_intermediate = keras.layers.Dense(
            intermediate_dim, activation=activation, dtype=policy, name="feedforward_intermediate"
        )
        self.feedforward_output = keras.layers.Dense(
            hidden_dim, dtype=policy, name="feedforward_output"
        )
        self.attention_dropout = keras.layers.Dropout(dropout, dtype=policy)
        self.residual_dropout = keras.layers.Dropout(dropout, dtype=policy)

    def build(self, input_shape):
        if input_shape[-1] != self.hidden_dim:
            raise ValueError(
                f"Expected inputs whose last dimension is hidden_dim={self.hidden_dim}. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        steps = (None, None, self.hidden_dim)
        self.attention_norm.build(steps)
        self.query_key_value.build(steps)
        self.attention_output.build(steps)
        self.feedforward_norm.build(steps)
        self.feedforward_intermediate.build(steps)
        self.feedforward_output.build((None, None, self.intermediate_dim))

    def call(self, inputs, padding_mask=None, cache=None, cache_update_index=0, training=None):
        batch_size, steps = ops.shape(inputs)[0], ops.shape(inputs)[1]
        qkv = self.query_key_value(self.attention_norm(inputs))
        qkv = ops.reshape(qkv, (batch_size, steps, 3, self.num_heads, self.head_dim))
        query, key, value = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
        if cache is not None:
            start = [0, cache_update_index, 0, 0]
            key = ops.slice_update(cache[:, 0], start, ops.cast(key, cache.dtype))
            value = ops.slice_update(cache[:, 1], start, ops.cast(value, cache.dtype))
            cache = ops.stack([key, value], axis=1)
            key, value = ops.cast(key, query.dtype), ops.cast(value, query.dtype)
        query = query * ops.cast(1 / math.sqrt(self.head_dim), query.dtype)
        scores = ops.einsum("bqhd,bkhd->bhqk", query, key)
        # Query i (at position cache_update_index + i) sees keys 0 ... its own position.
        query_positions = ops.arange(steps) + cache_update_index
        allowed = ops.arange(ops.shape(key)[1])[None, :] <= query_positions[:, None]
        allowed = allowed[None, None]
        if padding_mask is not None:
            allowed = ops.logical_and(allowed, ops.cast(padding_mask, "bool")[:, None, None, :])
        # The softmax in float32 whatever the policy: masked scores far below any real one.
        scores = ops.where(allowed, ops.cast(scores, "float32"), -1e9)
        weights = ops.cast(ops.softmax(scores, axis=-1), query.dtype)
        weights = self.attention_dropout(weights, training=training)
        attended = ops.einsum("bhqk,bkhd->bqhd", weights, value)
        attended = ops.reshape(attended, (batch_size, steps, self.hidden_dim))
        x = inputs + self.residual_dropout(self.attention_output(attended), training=training)
        feedforward = self.feedforward_output(
            self.feedforward_intermediate(self.feedforward_norm(x))
        )
        x = x + self.residual_dropout(feedforward, training=training)
        return x if cache is None else (x, cache)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_dim=self.hidden_dim,
            num_heads=self.num_heads,
            intermediate_dim=self.intermediate_dim,
            dropout=self.dropout,
            activation=self.activation,
            layer_norm_epsilon=self.layer_norm_epsilon,
        )
        return config


@register_model(
    task="language_model",
    decoder=GPTDecoder,
    tiny=TinyConfig(
        kwargs=dict(
            vocabulary_size=20,
            max_sequence_length=16,
            num_layers=2,
            num_heads=2,
            hidden_dim=8,
            intermediate_dim=16,
        ),
        inputs=lambda rng: testing.token_ids(rng, 2, 7, vocabulary_size=20, min_length=3),
        targets=lambda rng: testing.token_ids(rng, 2, 7, vocabulary_size=20, min_length=7),
        output_shape=(2, 7, 20),
        padded_inputs=lambda ids: testing.pad(ids, 3),
    ),
)
def build_gpt(
    vocabulary_size=10_000,
    max_sequence_length=256,
    num_layers=4,
    num_heads=4,
    hidden_dim=128,
    intermediate_dim=512,
    dropout=0.1,
    activation="gelu",
):
    """Small GPT: token + position embedding → causal pre-norm blocks → logits.

    A decoder-only Transformer language model (Radford et al., 2018): keras-hub's
    `TokenAndPositionEmbedding`, dropout, and pre-norm `GPTBlock`s (one fused query/key/value
    projection, GELU feed-forward), each attending causally over earlier tokens, then a final
    LayerNormalization and a Dense projection to next-token logits, as GPT-2 and nanoGPT. The
    defaults are nanoGPT's CPU-sized character model (4 layers, 4 heads, width 128); at its
    GPU size (6 layers, 6 heads, width 384, dropout 0.2) it reaches nanoGPT's 1.47 nats/char on
    tiny Shakespeare (`benchmarks/results/gpt_scale.md`, measured with keras-hub's
    `TransformerDecoder` blocks, whose computation and initial scale `GPTBlock` keeps).
    Padding (token id 0, after the text) is masked in the attention and skipped by the loss.

    `gpt_call_with_cache(model, token_ids, cache, index)` runs the same layers with a key/value
    cache, so generation computes one new token per step instead of the whole prefix;
    `gpt_initial_cache(model, batch_size)` makes the empty cache.

    Args:
        vocabulary_size: int. Number of token ids, padding (0) included. Defaults to `10000`.
        max_sequence_length: int. Longest context, the size of the position embedding.
            Defaults to `256`.
        num_layers: int. Number of decoder blocks. Defaults to `4`.
        num_heads: int. Attention heads per block; must divide `hidden_dim`. Defaults to `4`.
        hidden_dim: int. Width of the embeddings and blocks. Defaults to `128`.
        intermediate_dim: int. Width of each block's feed-forward layer. Defaults to `512`.
        dropout: float. Dropout rate in the blocks, in [0, 1). Defaults to `0.1`.
        activation: str. The feed-forward layers' activation, `"gelu"` (GPT-2's and
            nanoGPT's) or `"relu"`. Defaults to `"gelu"`.

    Returns:
        A compiled `keras.Model` mapping token ids `(batch_size, steps)`, `steps <=
        max_sequence_length`, to next-token logits `(batch_size, steps, vocabulary_size)`.

    Example:

    >>> import numpy as np
    >>> from kzoo import build_gpt
    >>> model = build_gpt(vocabulary_size=60, max_sequence_length=32, num_layers=2)
    >>> model.predict(np.array([[4, 9, 2, 0]]), verbose=0).shape
    (1, 4, 60)
    """
    validation.int_at_least("vocabulary_size", vocabulary_size, 2)
    validation.positive_int("max_sequence_length", max_sequence_length)
    validation.positive_int("num_layers", num_layers)
    # The blocks check their own arguments, before the embedding is built with hidden_dim.
    blocks = [
        GPTBlock(
            hidden_dim,
            num_heads,
            intermediate_dim,
            dropout=dropout,
            activation=activation,
            name=f"block_{i}",
        )
        for i in range(num_layers)
    ]

    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    # Padding is masked explicitly, as in keras-hub's backbones; the loss ignores padded targets.
    padding_mask = ops.not_equal(token_ids, 0)
    x = keras_hub.layers.TokenAndPositionEmbedding(
        vocabulary_size, max_sequence_length, hidden_dim, name="embedding"
    )(token_ids)
    # GPT-2's embedding dropout: with the blocks' own, it keeps nanoGPT's 10M-parameter model
    # from overfitting tiny Shakespeare as early (benchmarks/results/gpt_scale.md).
    x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
    for block in blocks:
        x = block(x, padding_mask=padding_mask)
    x = keras.layers.LayerNormalization(name="final_norm")(x)
    logits = keras.layers.Dense(vocabulary_size, dtype="float32", name="logits")(x)
    model = keras.Model(token_ids, logits, name="gpt")
    return compile_language_model(model)


def _decoder_blocks(model):
    blocks = [layer for layer in model.layers if isinstance(layer, GPTBlock)]
    if not blocks:
        # A GPT saved before kzoo had its own block holds keras-hub TransformerDecoders.
        raise ValueError(
            "Invalid value for argument model. Expected a model from build_gpt, made of "
            f"GPTBlock layers. Received: model={model.name!r} with none (a GPT saved before "
            "kzoo's GPTBlock must be trained again)"
        )
    return blocks


def gpt_initial_cache(model, batch_size, max_length=None):
    """Returns an empty key/value cache for `gpt_call_with_cache`.

    Args:
        model: a model from `build_gpt`.
        batch_size: int. Sequences decoded together.
        max_length: int. Longest sequence the cache holds. Defaults to the model's
            `max_sequence_length`.

    Returns:
        A float tensor of zeros `(batch_size, num_layers, 2, max_length, num_heads, head_dim)`:
        keys and values of every block.
    """
    embedding = model.get_layer("embedding")
    max_length = embedding.sequence_length if max_length is None else max_length
    blocks = _decoder_blocks(model)
    num_heads = blocks[0].num_heads
    head_dim = embedding.embedding_dim // num_heads
    shape = (batch_size, len(blocks), 2, max_length, num_heads, head_dim)
    return ops.zeros(shape, dtype=model.get_layer("logits").compute_dtype)


def gpt_call_with_cache(model, token_ids, cache, cache_update_index):
    """Runs a GPT on new tokens, reading and extending a key/value cache.

    The tokens `(batch_size, steps)` sit at positions `cache_update_index ...` of the sequence;
    their keys and values are written into the cache there, and they attend to everything the
    cache holds before them. A whole prompt goes in with index 0, then one token per call.

    Args:
        model: a model from `build_gpt`, fresh or loaded from a `.keras` file.
        token_ids: int tensor `(batch_size, steps)`.
        cache: float tensor from `gpt_initial_cache` or a previous call.
        cache_update_index: int or int tensor. Position of the first of `token_ids`.

    Returns:
        A tuple `(logits, cache)`: next-token logits `(batch_size, steps, vocabulary_size)` and
        the updated cache.

    Example:

    >>> import numpy as np
    >>> from kzoo.models.gpt import build_gpt, gpt_call_with_cache, gpt_initial_cache
    >>> model = build_gpt(vocabulary_size=60, max_sequence_length=32, num_layers=2)
    >>> cache = gpt_initial_cache(model, batch_size=1)
    >>> logits, cache = gpt_call_with_cache(model, np.array([[4, 9, 2]]), cache, 0)
    >>> logits, cache = gpt_call_with_cache(model, np.array([[7]]), cache, 3)
    >>> logits.shape
    TensorShape([1, 1, 60])
    """
    x = model.get_layer("embedding")(token_ids, start_index=cache_update_index)
    new_caches = []
    for i, block in enumerate(_decoder_blocks(model)):
        x, block_cache = block(x, cache=cache[:, i], cache_update_index=cache_update_index)
        new_caches.append(block_cache)
    x = model.get_layer("final_norm")(x)
    return model.get_layer("logits")(x), ops.stack(new_caches, axis=1)
