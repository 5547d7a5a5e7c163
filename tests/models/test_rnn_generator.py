import keras
import numpy as np
import pytest
import tensorflow as tf

from kzoo import build_rnn_generator
from kzoo.models.rnn_generator import rnn_generator_step_model


def _zero_states(step_model, batch_size):
    return [tf.zeros((batch_size, s.shape[-1])) for s in step_model.inputs[1:]]


@pytest.mark.parametrize("rnn", ["simple_rnn", "lstm", "gru"])
def test_step_model_reproduces_teacher_forced_logits(rnn):
    keras.utils.set_random_seed(0)
    model = build_rnn_generator(vocabulary_size=30, embedding_dim=6, units=8, rnn=rnn, num_layers=2)
    step = rnn_generator_step_model(model)
    ids = np.array([[3, 5, 7, 9, 2, 11], [4, 6, 8, 10, 12, 14]], dtype="int32")
    full = model.predict(ids, verbose=0)

    states = _zero_states(step, 2)
    one_at_a_time = []
    for t in range(ids.shape[1]):
        logits, *states = step([tf.constant(ids[:, t : t + 1]), *states])
        one_at_a_time.append(logits[:, 0])
    np.testing.assert_allclose(np.stack(one_at_a_time, axis=1), full, atol=1e-5)

    # A prompt read in one call, then one more step from its final state.
    logits, *states = step([tf.constant(ids[:, :4]), *_zero_states(step, 2)])
    np.testing.assert_allclose(logits, full[:, :4], atol=1e-5)
    logits, *_ = step([tf.constant(ids[:, 4:5]), *states])
    np.testing.assert_allclose(logits[:, 0], full[:, 4], atol=1e-5)


def test_step_model_shares_weights_and_works_after_reload(tmp_path):
    model = build_rnn_generator(vocabulary_size=20, units=4, rnn="lstm")
    step = rnn_generator_step_model(model)
    assert {id(v) for v in step.weights} == {id(v) for v in model.weights}
    model.save(tmp_path / "gen.keras")
    reloaded = keras.models.load_model(tmp_path / "gen.keras")
    step = rnn_generator_step_model(reloaded)
    assert [s.shape for s in step.inputs[1:]] == [(None, 4), (None, 4)]  # LSTM: h and c
    logits, h, c = step([tf.constant([[3, 4]]), *_zero_states(step, 1)])
    np.testing.assert_allclose(logits, model.predict(np.array([[3, 4]]), verbose=0), atol=1e-6)


def test_loss_and_perplexity_skip_padding():
    model = build_rnn_generator(vocabulary_size=20, units=4)
    ids = np.array([[3, 4, 5, 0, 0]])
    targets = np.array([[4, 5, 6, 0, 0]])
    logits = model.predict(ids, verbose=0)
    per_token = keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)
    expected = float(np.mean(per_token[0, :3]))
    logs = model.evaluate(ids, targets, verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["loss"], expected, rtol=1e-5)
    np.testing.assert_allclose(logs["perplexity"], np.exp(expected), rtol=1e-5)


def test_dropout_mask_is_shared_by_every_time_step():
    model = build_rnn_generator(vocabulary_size=10, units=64, rnn="lstm", dropout=0.5)
    dropout = model.get_layer("dropout_0")
    features = np.ones((3, 7, 64), "float32")
    dropped = keras.ops.convert_to_numpy(dropout(features, training=True))
    # Each sequence keeps the same units at every step, scaled by 1 / (1 - rate); sequences
    # draw their own masks.
    np.testing.assert_array_equal(dropped, np.broadcast_to(dropped[:, :1], dropped.shape))
    assert set(np.unique(dropped)) == {0.0, 2.0}
    assert not np.array_equal(dropped[0, 0], dropped[1, 0])
    np.testing.assert_array_equal(dropout(features, training=False), features)
