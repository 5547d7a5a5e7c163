"""`kzoo.layers.LSTM`: the same outputs, states and gradients as `keras.layers.LSTM` with the
same weights, through its fused TensorFlow loop, with masks, states in and out, reversed
sequences and XLA."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kzoo.layers import LSTM

UNITS = 5


def _pair(**kwargs):
    """A kzoo LSTM and a Keras LSTM with the same weights."""
    ours, theirs = LSTM(UNITS, **kwargs), keras.layers.LSTM(UNITS, **kwargs)
    ours.build((None, None, 3))
    theirs.build((None, None, 3))
    rng = np.random.default_rng(0)
    for weight in ours.weights:
        weight.assign(rng.normal(scale=0.5, size=weight.shape).astype("float32"))
    theirs.set_weights(ours.get_weights())
    return ours, theirs


def _results(layer, x, mask, states, jit=False):
    """The layer's outputs and the gradients of a weighted sum of them (weights, inputs and
    initial states)."""
    x, states = tf.constant(x), [tf.constant(s) for s in states] if states else None

    @tf.function(jit_compile=jit)
    def run(x, states):
        with tf.GradientTape() as tape:
            tape.watch(x)
            if states:
                tape.watch(states)
            outputs = layer(x, mask=mask, initial_state=states, training=True)
            outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
            loss = sum(tf.reduce_sum(o * (1.0 + 0.1 * i)) for i, o in enumerate(outputs))
        sources = [x, *layer.trainable_variables, *(states or [])]
        return outputs, tape.gradient(loss, sources)

    return run(x, states)


def _assert_same(ours, theirs, what=""):
    for a, b in zip(tf.nest.flatten(ours), tf.nest.flatten(theirs)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=2e-5, rtol=2e-5, err_msg=what)


CASES = {
    "plain": dict(kwargs=dict(return_sequences=True), mask=None),
    "last output and states": dict(kwargs=dict(return_state=True), mask=None),
    "right padding": dict(kwargs=dict(return_sequences=True, return_state=True), mask="right"),
    "left padding": dict(kwargs=dict(return_sequences=True, return_state=True), mask="left"),
    "backwards": dict(kwargs=dict(return_sequences=True, go_backwards=True), mask="right"),
    # As `Bidirectional` sets it on its layers.
    "zero output for mask": dict(
        kwargs=dict(return_sequences=True, zero_output_for_mask=True), mask="left"
    ),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("initial_state", [False, True], ids=["zero state", "given state"])
def test_outputs_states_and_gradients_equal_keras_lstm(case, initial_state):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 6, 3)).astype("float32")
    mask = {
        None: None,
        "right": np.array([[1] * 6, [1] * 4 + [0] * 2, [1] + [0] * 5], dtype=bool),
        "left": np.array([[1] * 6, [0] * 2 + [1] * 4, [0] * 5 + [1]], dtype=bool),
    }[CASES[case]["mask"]]
    states = None
    if initial_state:
        states = [rng.normal(size=(3, UNITS)).astype("float32") for _ in range(2)]
    ours, theirs = _pair(**CASES[case]["kwargs"])
    assert ours._fuses() and not hasattr(theirs, "_fuses")
    # Keras' loop in a graph is the reference for ours in a graph and under XLA alike.
    expected = _results(theirs, x, mask, states)
    for jit in (False, True):
        _assert_same(_results(ours, x, mask, states, jit), expected, "XLA" if jit else "graph")


def test_a_fully_masked_row_keeps_its_initial_state_and_outputs_zeros():
    ours, _ = _pair(return_sequences=True, return_state=True)
    x = np.ones((1, 3, 3), "float32")
    state = [np.full((1, UNITS), 0.5, "float32")] * 2
    outputs, h, c = ours(x, mask=np.zeros((1, 3), bool), initial_state=state)
    np.testing.assert_array_equal(outputs, np.zeros((1, 3, UNITS)))
    np.testing.assert_array_equal(h, state[0])
    np.testing.assert_array_equal(c, state[1])


def test_settings_outside_the_fused_loop_run_keras_loop_with_the_same_results():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 4, 3)).astype("float32")
    ours, theirs = _pair(return_sequences=True, activation="relu")
    assert not ours._fuses()
    np.testing.assert_allclose(ours(x), theirs(x), atol=1e-6)
    assert not LSTM(2, recurrent_dropout=0.1)._fuses()
    assert not LSTM(2, unroll=True)._fuses()


def test_input_dropout_draws_one_mask_per_sequence():
    layer = LSTM(UNITS, dropout=0.5, return_sequences=True, seed=3)
    x = np.ones((64, 4, 3), "float32")
    trained = layer(x, training=True)
    assert layer._fuses()
    # With every step's input equal, one mask per sequence gives every sequence a run of
    # outputs that Keras' loop (the same mask at each step) also gives; the masks differ by row.
    reference = keras.layers.LSTM(UNITS, return_sequences=True)
    reference.build(x.shape)
    reference.set_weights(layer.get_weights())
    rows = {tuple(np.round(row, 5).ravel()) for row in np.asarray(trained)}
    assert len(rows) > 4  # rows drew different masks
    assert not np.allclose(trained, layer(x, training=False))
    np.testing.assert_allclose(layer(x, training=False), reference(x), atol=1e-6)


def test_a_bidirectional_layer_equals_keras_bidirectional_lstm():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=bool)
    ours = keras.layers.Bidirectional(LSTM(UNITS, return_sequences=True))
    theirs = keras.layers.Bidirectional(keras.layers.LSTM(UNITS, return_sequences=True))
    ours.build(x.shape)
    theirs.build(x.shape)
    theirs.set_weights([rng.normal(size=w.shape).astype("float32") for w in ours.weights])
    ours.set_weights(theirs.get_weights())
    outputs = ours(x, mask=mask)
    np.testing.assert_allclose(outputs, theirs(x, mask=mask), atol=2e-5)
    np.testing.assert_array_equal(outputs[0, 3:], 0.0)  # padded steps output zeros both ways


def test_a_model_with_it_round_trips_through_a_keras_file(tmp_path):
    ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(10, 3, mask_zero=True)(ids)
    x = keras.layers.Bidirectional(LSTM(4, return_sequences=True))(x)
    model = keras.Model(ids, LSTM(2)(x))
    tokens = np.array([[3, 4, 5, 0], [1, 2, 0, 0]])
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.layers[-1], LSTM)
    assert isinstance(loaded.layers[2].backward_layer, LSTM)
    np.testing.assert_allclose(loaded.predict(tokens, verbose=0), model.predict(tokens, verbose=0))
