"""LSTM encoder-decoder with dot (Luong) or additive (Bahdanau) attention over the encoder."""

import keras

from kzoo.models.seq2seq import Seq2SeqDecoder, build_encoder_decoder, tiny_seq2seq_config
from kzoo.registry import register_model


def attention_scores_model(model):
    """Returns a model with the same inputs as an attention seq2seq model and two outputs: the
    logits and the attention weights `(batch_size, target_steps, source_steps)`.

    It shares the layers of `model` (fresh or loaded from a `.keras` file); nothing is rebuilt.

    Example:

    >>> import numpy as np
    >>> from kzoo import build_attention_seq2seq
    >>> model = build_attention_seq2seq(source_vocabulary_size=40, target_vocabulary_size=30,
    ...                                 latent_dim=16)
    >>> batch = {"encoder_token_ids": np.array([[5, 6, 7, 0]]),
    ...          "decoder_token_ids": np.array([[1, 8, 9]])}
    >>> logits, weights = attention_scores_model(model).predict(batch, verbose=0)
    >>> weights.shape
    (1, 3, 4)
    """
    weights = model.get_layer("attention").output[1]
    return keras.Model(model.input, [model.output, weights], name=f"{model.name}_with_attention")


@register_model(
    tiny=tiny_seq2seq_config(attention="additive"),
    task="translation",
    decoder=Seq2SeqDecoder,
    attention=attention_scores_model,
)
def build_attention_seq2seq(
    source_vocabulary_size=10_000,
    target_vocabulary_size=10_000,
    embedding_dim=256,
    latent_dim=256,
    attention="dot",
    dropout=0.0,
):
    """LSTM encoder-decoder with attention over the encoder outputs, Luong dot or Bahdanau additive.

    As `build_seq2seq`, and at every decoder step an attention layer scores all encoder outputs
    against the decoder output: `attention="dot"` uses `keras.layers.Attention` (Luong et al.,
    2015, https://arxiv.org/abs/1508.04025), `"additive"` uses `keras.layers.AdditiveAttention`
    (Bahdanau et al., 2015, https://arxiv.org/abs/1409.0473). The weighted sum of encoder
    outputs (the context vector) is concatenated with the decoder output before the output
    projection. Padded source steps are masked in the attention and get weight 0.

    `attention_scores_model(model)` returns the same network with the attention weights as a
    second output, for plots; `seq2seq_inference_models(model)` gives the encoder and one-step
    decoder, whose decoder also returns the weights.

    Args:
        source_vocabulary_size: int. Source token ids, padding included. Defaults to `10000`.
        target_vocabulary_size: int. Target token ids, padding included. Defaults to `10000`.
        embedding_dim: int. Width of both embeddings. Defaults to `256`.
        latent_dim: int. Width of the encoder and decoder LSTMs. Defaults to `256`.
        attention: str. `"dot"` (Luong) or `"additive"` (Bahdanau). Defaults to `"dot"`.
        dropout: float. Dropout rate on the embeddings and before the output projection, in
            [0, 1). Defaults to `0.0`.

    Returns:
        A compiled `keras.Model` taking a dict `{"encoder_token_ids": (batch_size, source_steps),
        "decoder_token_ids": (batch_size, target_steps)}` and returning next-token logits
        `(batch_size, target_steps, target_vocabulary_size)`.

    Example:

    >>> import numpy as np
    >>> from kzoo import build_attention_seq2seq
    >>> model = build_attention_seq2seq(source_vocabulary_size=40, target_vocabulary_size=30,
    ...                                 latent_dim=16, attention="additive")
    >>> batch = {"encoder_token_ids": np.array([[5, 6, 7, 0]]),
    ...          "decoder_token_ids": np.array([[1, 8, 9]])}
    >>> model.predict(batch, verbose=0).shape
    (1, 3, 30)
    """
    return build_encoder_decoder(
        "attention_seq2seq",
        source_vocabulary_size,
        target_vocabulary_size,
        embedding_dim,
        latent_dim,
        dropout,
        attention=attention,
    )
