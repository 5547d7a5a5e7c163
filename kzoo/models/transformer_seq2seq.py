"""Transformer encoder-decoder (Vaswani et al., 2017) for translation and summarisation.

Token + position embeddings, a stack of keras-hub `TransformerEncoder`s over the source and of
`TransformerDecoder`s (causal self-attention, cross-attention to the encoder) over the target,
pre- or post-layer-norm, and logits over the target vocabulary. The functions below read the
model's layers by their names, for the family's decoder (a key/value cache per layer, the
cross-attention keys and values computed once per sentence) and its attention weights.
"""

import keras
import keras_hub
from keras import ops

from kzoo import testing, validation
from kzoo.decoding import Decoder
from kzoo.models.heads import compile_language_model
from kzoo.registry import TinyConfig, register_model

POSITION_EMBEDDINGS = ("learned", "sinusoidal")


# === The model's parts, by name ===


def _token_embedding(model, side):
    # With shared embeddings, the target side reads the source's.
    names = {layer.name for layer in model.layers}
    return model.get_layer(
        f"{side}_token_embedding"
        if f"{side}_token_embedding" in names
        else "source_token_embedding"
    )


def _embed(model, side, token_ids, start_index=0):
    """Token and position embeddings of `side` ("source" or "target") from `start_index` on."""
    tokens = _token_embedding(model, side)(token_ids)
    positions = model.get_layer(f"{side}_position_embedding")(tokens, start_index=start_index)
    x = model.get_layer(f"{side}_embedding_add")([tokens, positions])
    return model.get_layer(f"{side}_embedding_dropout")(x)


def _blocks(model, kind):
    return [layer for layer in model.layers if layer.name.startswith(f"{kind}_layer_")]


def _encode(model, source_ids):
    """The encoder's outputs and the source padding mask."""
    padding_mask = ops.not_equal(source_ids, 0)
    x = _embed(model, "source", source_ids)
    for block in _blocks(model, "encoder"):
        x = block(x, padding_mask=padding_mask)
    return model.get_layer("encoder_norm")(x), padding_mask


def _logits(model, x):
    x = model.get_layer("decoder_norm")(x)
    projection = model.get_layer("logits")
    if not isinstance(projection, keras.layers.Dense):  # tied: the target embedding, reversed
        x = _token_embedding(model, "target")(x, reverse=True)
    return projection(x)


# === The factory ===


def _tiny():
    source_vocabulary, target_vocabulary = 20, 17

    def inputs(rng):
        return {
            "encoder_token_ids": testing.token_ids(rng, 3, 6, source_vocabulary),
            "decoder_token_ids": testing.token_ids(rng, 3, 5, target_vocabulary),
        }

    return TinyConfig(
        kwargs=dict(
            source_vocabulary_size=source_vocabulary,
            target_vocabulary_size=target_vocabulary,
            num_layers=2,
            hidden_dim=8,
            num_heads=2,
            intermediate_dim=16,
            max_sequence_length=16,
        ),
        inputs=inputs,
        targets=lambda rng: testing.token_ids(rng, 3, 5, target_vocabulary, min_length=5),
        output_shape=(3, 5, target_vocabulary),
        padded_inputs=lambda batch: {key: testing.pad(ids, 3) for key, ids in batch.items()},
    )


class TransformerSeq2SeqDecoder(Decoder):
    """Decodes a Transformer seq2seq model one target token at a time.

    Its cache holds the encoder's outputs and padding mask, every decoder layer's self-attention
    keys and values (as long as the decoding buffer) and its cross-attention keys and values,
    computed once per sentence in `start`.
    """

    translates = True

    def __init__(self, model):
        super().__init__(model)
        self.blocks = _blocks(model, "decoder")
        positions = model.get_layer("target_position_embedding")
        self.context = getattr(positions, "sequence_length", None)  # learned ones end

    def _empty(self, batch, length):
        block = self.blocks[0]
        head_dim = block._self_attention_layer.key_dim
        shape = [batch, len(self.blocks), 2, length, block.num_heads, head_dim]
        return ops.zeros(shape, dtype=self.model.get_layer("decoder_norm").compute_dtype)

    def _run(self, x, cache, self_index, cross_index):
        self_caches, cross_caches = [], []
        for i, block in enumerate(self.blocks):
            x, self_cache, cross_cache = block(
                x,
                encoder_sequence=cache["encoder_outputs"],
                encoder_padding_mask=cache["encoder_padding_mask"],
                self_attention_cache=cache["self_attention"][:, i],
                self_attention_cache_update_index=self_index,
                cross_attention_cache=cache["cross_attention"][:, i],
                cross_attention_cache_update_index=cross_index,
            )
            self_caches.append(self_cache)
            cross_caches.append(cross_cache)
        cache = {
            **cache,
            "self_attention": ops.stack(self_caches, axis=1),
            "cross_attention": ops.stack(cross_caches, axis=1),
        }
        return x, cache

    def start(self, prompt, index, source=None, extras=False):
        encoder_outputs, padding_mask = _encode(self.model, source)
        batch = ops.shape(prompt)[0]
        cache = {
            "encoder_outputs": encoder_outputs,
            "encoder_padding_mask": padding_mask,
            "self_attention": self._empty(batch, ops.shape(prompt)[1]),
            "cross_attention": self._empty(batch, ops.shape(source)[1]),
        }
        # The whole buffer once: it fills the cross-attention keys and values, and the
        # self-attention ones that `step` overwrites before any query reaches them.
        return self._run(_embed(self.model, "target", prompt), cache, 0, 0)[1]

    def step(self, token_ids, cache, index):
        x = _embed(self.model, "target", token_ids, start_index=index - 1)
        x, cache = self._run(x, cache, index - 1, None)
        return _logits(self.model, x)[:, -1], cache


def cross_attention_model(model):
    """A function of `model`'s inputs (a dict of token ids) whose outputs are the logits, the
    last decoder layer's cross-attention weights per head `(batch, num_heads, target_steps,
    source_steps)`, and their mean over heads `(batch, target_steps, source_steps)` (its last
    output, as kzoo's translation tools read it)."""
    blocks = _blocks(model, "decoder")
    last = blocks[-1]

    def outputs(inputs, training=False):
        source_ids = ops.convert_to_tensor(inputs["encoder_token_ids"], "int32")
        target_ids = ops.convert_to_tensor(inputs["decoder_token_ids"], "int32")
        encoder_outputs, padding_mask = _encode(model, source_ids)
        target_mask = ops.not_equal(target_ids, 0)
        masks = dict(decoder_padding_mask=target_mask, encoder_padding_mask=padding_mask)
        x = _embed(model, "target", target_ids)
        for block in blocks[:-1]:
            x = block(x, encoder_outputs, **masks)
        # The last layer's self-attention half as the layer computes it, then its
        # cross-attention with the weights returned (keras-hub's layer returns none).
        steps = ops.shape(target_ids)[1]
        causal = ops.tril(ops.ones((steps, steps), dtype="bool"))
        y = last._self_attention_layer_norm(x) if last.normalize_first else x
        y = last._self_attention_layer(
            query=y, value=y, attention_mask=ops.logical_and(target_mask[:, None, :], causal)
        )
        y = y + x
        if not last.normalize_first:
            y = last._self_attention_layer_norm(y)
        query = last._cross_attention_layer_norm(y) if last.normalize_first else y
        _, weights = last._cross_attention_layer(
            query=query,
            value=encoder_outputs,
            attention_mask=ops.logical_and(
                ops.ones_like(target_mask)[:, :, None], padding_mask[:, None, :]
            ),
            return_attention_scores=True,
        )
        logits = _logits(model, last(x, encoder_outputs, **masks))
        weights = ops.cast(weights, "float32")
        return [logits, weights, ops.mean(weights, axis=1)]

    return outputs


def _input_limit(model):
    # Learned position embeddings cover so many source tokens; sinusoidal ones, any number.
    return getattr(model.get_layer("source_position_embedding"), "sequence_length", None)


@register_model(
    tiny=_tiny(),
    task="translation",
    decoder=TransformerSeq2SeqDecoder,
    attention=cross_attention_model,
    input_limit=_input_limit,
)
def build_transformer_seq2seq(
    source_vocabulary_size=10_000,
    target_vocabulary_size=10_000,
    num_layers=3,
    hidden_dim=256,
    num_heads=8,
    intermediate_dim=512,
    max_sequence_length=128,
    dropout=0.1,
    position_embedding="learned",
    normalize_first=False,
    tie_output_embeddings=False,
    share_embeddings=False,
    label_smoothing=0.0,
):
    """Transformer encoder-decoder: keras-hub Transformer layers over token + position embeddings.

    Vaswani et al. (2017), https://arxiv.org/abs/1706.03762. The encoder reads the source with
    its padding masked; the decoder reads the target shifted right with a causal mask and
    attends to the encoder's outputs (padded source steps get weight 0). With
    `normalize_first`, each sub-layer normalizes its input (pre-layer-norm, steadier to train)
    and a final layer norm ends each stack; without, it normalizes after the residual ("add &
    norm", as the paper). The defaults (3 layers of width 256, 8 heads) are sized for Multi30k
    on a CPU, as public replications train it.

    Args:
        source_vocabulary_size: int. Source token ids, padding included. Defaults to `10000`.
        target_vocabulary_size: int. Target token ids, padding included. Defaults to `10000`.
        num_layers: int. Encoder layers, and as many decoder layers. Defaults to `3`.
        hidden_dim: int. Width of the embeddings and every layer; a multiple of `num_heads`.
            Defaults to `256`.
        num_heads: int. Attention heads. Defaults to `8`.
        intermediate_dim: int. Width of the feed-forward blocks. Defaults to `512`.
        max_sequence_length: int. Longest source or target the learned position embeddings
            cover; kzoo's recipes size it from the data. Defaults to `128`.
        dropout: float. Dropout rate in [0, 1) on the embeddings and in every layer. Defaults
            to `0.1`.
        position_embedding: str. `"learned"` or `"sinusoidal"` (the paper's). Defaults to
            `"learned"`.
        normalize_first: bool. Pre-layer-norm instead of post. Defaults to `False`.
        tie_output_embeddings: bool. Project to the target vocabulary with the transposed
            target token embedding. Defaults to `False`.
        share_embeddings: bool. One token embedding for source and target, which needs one
            vocabulary for both (equal sizes). Defaults to `False`.
        label_smoothing: float in [0, 1). Label smoothing of the loss (the paper's 0.1).
            Defaults to `0.0`.

    Returns:
        A compiled `keras.Model` taking a dict `{"encoder_token_ids": (batch_size,
        source_steps), "decoder_token_ids": (batch_size, target_steps)}` and returning
        next-token logits `(batch_size, target_steps, target_vocabulary_size)`.

    Example:

    >>> import numpy as np
    >>> from kzoo import build_transformer_seq2seq
    >>> model = build_transformer_seq2seq(source_vocabulary_size=40, target_vocabulary_size=30,
    ...                                   num_layers=1, hidden_dim=16, num_heads=2)
    >>> batch = {"encoder_token_ids": np.array([[5, 6, 7, 0]]),
    ...          "decoder_token_ids": np.array([[1, 8, 9]])}
    >>> model.predict(batch, verbose=0).shape
    (1, 3, 30)
    """
    validation.int_at_least("source_vocabulary_size", source_vocabulary_size, 2)
    validation.int_at_least("target_vocabulary_size", target_vocabulary_size, 2)
    validation.positive_int("num_layers", num_layers)
    validation.positive_int("num_heads", num_heads)
    validation.positive_int("hidden_dim", hidden_dim)
    validation.divisible("hidden_dim", hidden_dim, "num_heads", num_heads)
    validation.positive_int("intermediate_dim", intermediate_dim)
    validation.positive_int("max_sequence_length", max_sequence_length)
    validation.rate("dropout", dropout)
    validation.one_of("position_embedding", position_embedding, POSITION_EMBEDDINGS)
    validation.boolean("normalize_first", normalize_first)
    validation.boolean("tie_output_embeddings", tie_output_embeddings)
    validation.boolean("share_embeddings", share_embeddings)
    validation.rate("label_smoothing", label_smoothing)
    if share_embeddings and source_vocabulary_size != target_vocabulary_size:
        raise ValueError(
            "Invalid value for argument share_embeddings. Expected one vocabulary for source "
            "and target (equal sizes). Received: share_embeddings=True with "
            f"source_vocabulary_size={source_vocabulary_size}, "
            f"target_vocabulary_size={target_vocabulary_size}"
        )

    # === Embeddings ===
    def token_embedding(side, size):
        # No Keras mask: the padding masks go to the Transformer layers explicitly.
        return keras_hub.layers.ReversibleEmbedding(
            size, hidden_dim, name=f"{side}_token_embedding"
        )

    def position_layer(side):
        if position_embedding == "learned":
            return keras_hub.layers.PositionEmbedding(
                max_sequence_length, name=f"{side}_position_embedding"
            )
        return keras_hub.layers.SinePositionEncoding(name=f"{side}_position_embedding")

    source_tokens = token_embedding("source", source_vocabulary_size)
    target_tokens = (
        source_tokens if share_embeddings else token_embedding("target", target_vocabulary_size)
    )
    layers = {
        "source_token_embedding": source_tokens,
        "target_token_embedding": target_tokens,
        "source_position_embedding": position_layer("source"),
        "target_position_embedding": position_layer("target"),
    }
    for side in ("source", "target"):
        layers[f"{side}_embedding_add"] = keras.layers.Add(name=f"{side}_embedding_add")
        layers[f"{side}_embedding_dropout"] = keras.layers.Dropout(
            dropout, name=f"{side}_embedding_dropout"
        )

    # === Layers ===
    transformer = dict(
        intermediate_dim=intermediate_dim,
        num_heads=num_heads,
        dropout=dropout,
        normalize_first=normalize_first,
    )
    encoder_blocks = [
        keras_hub.layers.TransformerEncoder(**transformer, name=f"encoder_layer_{i}")
        for i in range(num_layers)
    ]
    decoder_blocks = [
        keras_hub.layers.TransformerDecoder(**transformer, name=f"decoder_layer_{i}")
        for i in range(num_layers)
    ]

    # Pre-layer-norm stacks end with a layer norm; post-layer-norm ones already normalized.
    def final_norm(name):
        if normalize_first:
            return keras.layers.LayerNormalization(epsilon=1e-5, name=name)
        return keras.layers.Identity(name=name)

    # === Functional model ===
    source_ids = keras.Input((None,), dtype="int32", name="encoder_token_ids")
    target_ids = keras.Input((None,), dtype="int32", name="decoder_token_ids")

    def embed(side, ids):
        tokens = layers[f"{side}_token_embedding"](ids)
        positions = layers[f"{side}_position_embedding"](tokens)
        x = layers[f"{side}_embedding_add"]([tokens, positions])
        return layers[f"{side}_embedding_dropout"](x)

    source_mask, target_mask = ops.not_equal(source_ids, 0), ops.not_equal(target_ids, 0)
    x = embed("source", source_ids)
    for block in encoder_blocks:
        x = block(x, padding_mask=source_mask)
    encoder_outputs = final_norm("encoder_norm")(x)
    x = embed("target", target_ids)
    for block in decoder_blocks:
        x = block(
            x,
            encoder_outputs,
            decoder_padding_mask=target_mask,
            encoder_padding_mask=source_mask,
        )
    x = final_norm("decoder_norm")(x)
    if tie_output_embeddings:
        # The target embedding, transposed: its name is the projection's.
        logits = keras.layers.Activation("linear", dtype="float32", name="logits")(
            target_tokens(x, reverse=True)
        )
    else:
        logits = keras.layers.Dense(target_vocabulary_size, dtype="float32", name="logits")(x)
    model = keras.Model(
        {"encoder_token_ids": source_ids, "decoder_token_ids": target_ids},
        logits,
        name="transformer_seq2seq",
    )
    return compile_language_model(model, label_smoothing=label_smoothing)
