"""LSTM encoder-decoder (sequence to sequence) trained with teacher forcing on token ids.

The attention variant (`attention_seq2seq.py`) is built by the same `build_encoder_decoder` and
shares `seq2seq_inference_models`.
"""

import keras
from keras import ops

from kzoo import testing, validation
from kzoo.decoding import Decoder
from kzoo.layers import LSTM
from kzoo.models.heads import compile_language_model
from kzoo.registry import TinyConfig, register_model

ATTENTION_LAYERS = {
    "dot": keras.layers.Attention,  # Luong et al. (2015), multiplicative score
    "additive": keras.layers.AdditiveAttention,  # Bahdanau et al. (2015)
}


def tiny_seq2seq_config(**kwargs):
    """The tiny configuration both seq2seq models declare for the contract test."""
    source_vocabulary, target_vocabulary = 20, 17

    def inputs(rng):
        return {
            "encoder_token_ids": testing.token_ids(rng, 3, 6, source_vocabulary),
            "decoder_token_ids": testing.token_ids(rng, 3, 5, target_vocabulary),
        }

    def padded(batch):
        return {key: testing.pad(ids, 3) for key, ids in batch.items()}

    return TinyConfig(
        kwargs=dict(
            source_vocabulary_size=source_vocabulary,
            target_vocabulary_size=target_vocabulary,
            embedding_dim=4,
            latent_dim=6,
            **kwargs,
        ),
        inputs=inputs,
        targets=lambda rng: testing.token_ids(rng, 3, 5, target_vocabulary, min_length=5),
        output_shape=(3, 5, target_vocabulary),
        padded_inputs=padded,
    )


def build_encoder_decoder(
    name,
    source_vocabulary_size,
    target_vocabulary_size,
    embedding_dim,
    latent_dim,
    dropout,
    attention,
):
    """Builds the seq2seq training model, with or without attention; see the public factories."""
    validation.int_at_least("source_vocabulary_size", source_vocabulary_size, 2)
    validation.int_at_least("target_vocabulary_size", target_vocabulary_size, 2)
    validation.positive_int("embedding_dim", embedding_dim)
    validation.positive_int("latent_dim", latent_dim)
    validation.rate("dropout", dropout)
    if attention is not None:
        validation.one_of("attention", attention, tuple(ATTENTION_LAYERS))

    # === Encoder ===
    encoder_token_ids = keras.Input(shape=(None,), dtype="int32", name="encoder_token_ids")
    x = keras.layers.Embedding(
        source_vocabulary_size, embedding_dim, mask_zero=True, name="encoder_embedding"
    )(encoder_token_ids)
    if dropout:
        x = keras.layers.Dropout(dropout, name="encoder_dropout")(x)
    encoder_outputs, state_h, state_c = LSTM(
        latent_dim,
        return_sequences=attention is not None,
        return_state=True,
        name="encoder_lstm",
    )(x)

    # === Decoder, teacher-forced: it reads the target shifted right by one ===
    decoder_token_ids = keras.Input(shape=(None,), dtype="int32", name="decoder_token_ids")
    x = keras.layers.Embedding(
        target_vocabulary_size, embedding_dim, mask_zero=True, name="decoder_embedding"
    )(decoder_token_ids)
    if dropout:
        x = keras.layers.Dropout(dropout, name="decoder_dropout")(x)
    x = LSTM(latent_dim, return_sequences=True, return_state=True, name="decoder_lstm")(
        x, initial_state=[state_h, state_c]
    )[0]
    if attention is not None:
        # Masks reach the attention from both embeddings: padded source steps get weight 0.
        context = ATTENTION_LAYERS[attention](name="attention")(
            [x, encoder_outputs], return_attention_scores=True
        )[0]
        # The decoder state and its context both feed the projection (Luong's concat);
        # projecting the context alone would discard what the decoder knows.
        x = keras.layers.Concatenate(name="concat_context")([x, context])
    if dropout:
        x = keras.layers.Dropout(dropout, name="output_dropout")(x)
    logits = keras.layers.Dense(target_vocabulary_size, dtype="float32", name="logits")(x)
    model = keras.Model(
        {"encoder_token_ids": encoder_token_ids, "decoder_token_ids": decoder_token_ids},
        logits,
        name=name,
    )
    return compile_language_model(model)


class Seq2SeqDecoder(Decoder):
    """Decodes a seq2seq model (with or without attention) one target token at a time.

    Its cache is the decoder's LSTM states, with the encoder's outputs and source padding mask
    when the model attends, so that beam search repeats and reorders them with the beams.
    """

    translates = True

    def __init__(self, model):
        super().__init__(model)
        self.encoder, self.decoder = seq2seq_inference_models(model)

    def start(self, prompt, index, source=None, extras=False):
        cache = dict(self.encoder({"encoder_token_ids": source}, training=False))
        if extras and "attention" in self.decoder.output:
            # Each output token's attention over the source, noted as it is decoded.
            shape = [ops.shape(prompt)[0], ops.shape(prompt)[1], ops.shape(source)[1]]
            cache["attention"] = ops.zeros(shape)
        return cache

    def step(self, token_ids, cache, index):
        inputs = {k: v for k, v in cache.items() if k != "attention"}
        out = self.decoder({**inputs, "decoder_token_ids": token_ids}, training=False)
        cache = {**cache, "state_h": out["state_h"], "state_c": out["state_c"]}
        if "attention" in cache:  # the weights of the token at position `index`
            row = ops.arange(ops.shape(cache["attention"])[1])[None, :, None] == index - 1
            weights = ops.cast(out["attention"], cache["attention"].dtype)
            cache["attention"] = ops.where(row, weights, cache["attention"])
        return out["logits"][:, -1], cache

    def extras(self, cache):
        return {"attention": cache["attention"]} if "attention" in cache else {}


@register_model(tiny=tiny_seq2seq_config(), task="translation", decoder=Seq2SeqDecoder)
def build_seq2seq(
    source_vocabulary_size=10_000,
    target_vocabulary_size=10_000,
    embedding_dim=256,
    latent_dim=256,
    dropout=0.0,
):
    """LSTM encoder-decoder (latent 256) with teacher forcing, and one-step inference models.

    Sutskever et al. (2014), "Sequence to Sequence Learning with Neural Networks"
    (https://arxiv.org/abs/1409.3215). The encoder LSTM reads the source token ids; its final
    hidden and cell states start the decoder LSTM, which reads the target shifted right by one
    (teacher forcing) and predicts the next target token at every step. Token id 0 is padding in
    both languages and is masked; the loss and perplexity skip padded target steps.

    `seq2seq_inference_models(model)` returns an encoder model and a one-step decoder model that
    share this model's weights, for greedy or sampled decoding one token at a time.

    Args:
        source_vocabulary_size: int. Source token ids, padding included. Defaults to `10000`.
        target_vocabulary_size: int. Target token ids, padding included. Defaults to `10000`.
        embedding_dim: int. Width of both embeddings. Defaults to `256`.
        latent_dim: int. Width of the encoder and decoder LSTMs. Defaults to `256`.
        dropout: float. Dropout rate on the embeddings and before the output projection, in
            [0, 1). Defaults to `0.0`.

    Returns:
        A compiled `keras.Model` taking a dict `{"encoder_token_ids": (batch_size, source_steps),
        "decoder_token_ids": (batch_size, target_steps)}` and returning next-token logits
        `(batch_size, target_steps, target_vocabulary_size)`.

    Example:

    >>> import numpy as np
    >>> from kzoo import build_seq2seq
    >>> model = build_seq2seq(source_vocabulary_size=40, target_vocabulary_size=30, latent_dim=16)
    >>> batch = {"encoder_token_ids": np.array([[5, 6, 7, 0]]),
    ...          "decoder_token_ids": np.array([[1, 8, 9]])}
    >>> model.predict(batch, verbose=0).shape
    (1, 3, 30)
    """
    return build_encoder_decoder(
        "seq2seq",
        source_vocabulary_size,
        target_vocabulary_size,
        embedding_dim,
        latent_dim,
        dropout,
        attention=None,
    )


def _optional_layer(model, name):
    return model.get_layer(name) if any(layer.name == name for layer in model.layers) else None


def _apply(layer, x):
    return x if layer is None else layer(x)


def seq2seq_inference_models(model):
    """Returns the encoder and one-step decoder models of a trained seq2seq model.

    Both share every layer, and so every weight, with `model` (from `build_seq2seq` or
    `build_attention_seq2seq`, fresh or loaded from a `.keras` file).

    The encoder maps `encoder_token_ids` to a dict with the decoder's initial `state_h` and
    `state_c`, and for attention models the `encoder_outputs` and the `encoder_padding_mask`.
    The decoder takes that dict plus `decoder_token_ids` `(batch_size, steps)`, usually one step,
    and returns `logits` `(batch_size, steps, target_vocabulary_size)`, the new `state_h` and
    `state_c`, and for attention models the `attention` weights
    `(batch_size, steps, source_steps)`. Feeding the decoder its own states back advances
    decoding one token at a time.

    Args:
        model: a model from `build_seq2seq` or `build_attention_seq2seq`.

    Returns:
        A tuple `(encoder_model, decoder_model)` of `keras.Model`s with dict inputs and outputs.

    Example:

    >>> import numpy as np
    >>> from kzoo import build_attention_seq2seq
    >>> from kzoo.models.seq2seq import seq2seq_inference_models
    >>> model = build_attention_seq2seq(source_vocabulary_size=40, target_vocabulary_size=30,
    ...                                 latent_dim=16)
    >>> encoder, decoder = seq2seq_inference_models(model)
    >>> state = encoder.predict({"encoder_token_ids": np.array([[5, 6, 7, 0]])}, verbose=0)
    >>> step = decoder.predict({**state, "decoder_token_ids": np.array([[1]])}, verbose=0)
    >>> step["logits"].shape, step["attention"].shape
    ((1, 1, 30), (1, 1, 4))
    """
    attention = _optional_layer(model, "attention")
    latent_dim = model.get_layer("encoder_lstm").units

    # === Encoder ===
    encoder_token_ids = keras.Input(shape=(None,), dtype="int32", name="encoder_token_ids")
    x = model.get_layer("encoder_embedding")(encoder_token_ids)
    x = _apply(_optional_layer(model, "encoder_dropout"), x)
    encoder_outputs, state_h, state_c = model.get_layer("encoder_lstm")(x)
    encoder_state = {"state_h": state_h, "state_c": state_c}
    if attention is not None:
        # Without its Keras mask: the decoder takes the padding mask as an explicit input.
        encoder_state["encoder_outputs"] = keras.ops.copy(encoder_outputs)
        encoder_state["encoder_padding_mask"] = keras.ops.not_equal(encoder_token_ids, 0)
    encoder_model = keras.Model(
        {"encoder_token_ids": encoder_token_ids}, encoder_state, name=f"{model.name}_encoder"
    )

    # === One-step decoder ===
    inputs = {
        "decoder_token_ids": keras.Input(shape=(None,), dtype="int32", name="decoder_token_ids"),
        "state_h": keras.Input(shape=(latent_dim,), name="state_h"),
        "state_c": keras.Input(shape=(latent_dim,), name="state_c"),
    }
    x = model.get_layer("decoder_embedding")(inputs["decoder_token_ids"])
    x = _apply(_optional_layer(model, "decoder_dropout"), x)
    x, new_h, new_c = model.get_layer("decoder_lstm")(
        x, initial_state=[inputs["state_h"], inputs["state_c"]]
    )
    outputs = {"state_h": new_h, "state_c": new_c}
    if attention is not None:
        inputs["encoder_outputs"] = keras.Input(shape=(None, latent_dim), name="encoder_outputs")
        inputs["encoder_padding_mask"] = keras.Input(
            shape=(None,), dtype="bool", name="encoder_padding_mask"
        )
        context, weights = attention(
            [x, inputs["encoder_outputs"]],
            mask=[None, inputs["encoder_padding_mask"]],
            return_attention_scores=True,
        )
        x = model.get_layer("concat_context")([x, context])
        outputs["attention"] = weights
    x = _apply(_optional_layer(model, "output_dropout"), x)
    outputs["logits"] = model.get_layer("logits")(x)
    decoder_model = keras.Model(inputs, outputs, name=f"{model.name}_decoder")
    return encoder_model, decoder_model
