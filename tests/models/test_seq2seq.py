import keras
import numpy as np
import pytest
import tensorflow as tf

from kzoo import (
    build_attention_seq2seq,
    build_seq2seq,
)
from kzoo.models.attention_seq2seq import attention_scores_model
from kzoo.models.seq2seq import seq2seq_inference_models

SOURCE = np.array([[3, 5, 7, 9, 2], [4, 6, 0, 0, 0]], dtype="int32")
TARGET = np.array([[1, 4, 5, 6], [1, 7, 8, 9]], dtype="int32")


def _build(attention, **kwargs):
    keras.utils.set_random_seed(0)
    args = dict(source_vocabulary_size=20, target_vocabulary_size=17, embedding_dim=6, latent_dim=8)
    if attention is None:
        return build_seq2seq(**args, **kwargs)
    return build_attention_seq2seq(**args, attention=attention, **kwargs)


def _decode_teacher_forced(encoder, decoder):
    state = encoder({"encoder_token_ids": tf.constant(SOURCE)})
    logits, weights = [], []
    for t in range(TARGET.shape[1]):
        out = decoder({**state, "decoder_token_ids": tf.constant(TARGET[:, t : t + 1])})
        state = {**state, "state_h": out["state_h"], "state_c": out["state_c"]}
        logits.append(out["logits"][:, 0])
        if "attention" in out:
            weights.append(out["attention"][:, 0])
    return np.stack(logits, 1), (np.stack(weights, 1) if weights else None)


@pytest.mark.parametrize("attention", [None, "dot", "additive"])
def test_inference_models_reproduce_teacher_forced_logits(attention, tmp_path):
    model = _build(attention, dropout=0.1)
    batch = {"encoder_token_ids": SOURCE, "decoder_token_ids": TARGET}
    full = model.predict(batch, verbose=0)
    logits, _ = _decode_teacher_forced(*seq2seq_inference_models(model))
    np.testing.assert_allclose(logits, full, atol=1e-5)
    # The same holds for a model loaded from disk.
    model.save(tmp_path / "s2s.keras")
    logits, _ = _decode_teacher_forced(
        *seq2seq_inference_models(keras.models.load_model(tmp_path / "s2s.keras"))
    )
    np.testing.assert_allclose(logits, full, atol=1e-5)


@pytest.mark.parametrize("attention", ["dot", "additive"])
def test_attention_weights_sum_to_one_and_skip_padded_source(attention):
    model = _build(attention)
    batch = {"encoder_token_ids": SOURCE, "decoder_token_ids": TARGET}
    _, weights = attention_scores_model(model).predict(batch, verbose=0)
    assert weights.shape == (2, 4, 5)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(weights[1, :, 2:], 0.0)  # source row 1 has 2 real tokens
    assert np.all(weights[1, :, :2] > 0)
    # The one-step decoder returns the same weights.
    _, step_weights = _decode_teacher_forced(*seq2seq_inference_models(model))
    np.testing.assert_allclose(step_weights, weights, atol=1e-5)


def test_dot_attention_is_softmax_of_decoder_encoder_products():
    model = _build("dot")
    batch = {"encoder_token_ids": SOURCE, "decoder_token_ids": TARGET}
    probe = keras.Model(
        model.input,
        [model.get_layer("decoder_lstm").output[0], model.get_layer("encoder_lstm").output[0]],
    )
    decoder_out, encoder_out = probe.predict(batch, verbose=0)
    scores = np.einsum("btd,bsd->bts", decoder_out, encoder_out)
    scores[SOURCE[:, None, :].repeat(4, 1) == 0] = -np.inf
    expected = np.exp(scores - scores.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    _, weights = attention_scores_model(model).predict(batch, verbose=0)
    np.testing.assert_allclose(weights, expected, atol=1e-5)


def test_attention_kinds_and_context_concatenation():
    assert type(_build("dot").get_layer("attention")) is keras.layers.Attention
    additive = _build("additive")
    assert type(additive.get_layer("attention")) is keras.layers.AdditiveAttention
    # The projection reads [decoder output; context]: twice the LSTM width.
    assert additive.get_layer("logits").kernel.shape == (16, 17)
    assert _build(None).get_layer("logits").kernel.shape == (8, 17)


def test_latent_dim_defaults_to_256():
    model = build_seq2seq(source_vocabulary_size=50, target_vocabulary_size=40)
    assert model.get_layer("encoder_lstm").units == 256
    assert model.get_layer("decoder_lstm").units == 256
