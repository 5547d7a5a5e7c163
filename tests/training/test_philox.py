"""Keras' random ops with Philox named (`kzoo.distribute.xla.philox_random_ops`): the same
numbers as Keras' own draws, with and without XLA, and a train step that traces with them."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kzoo
from kzoo.distribute import xla
from kzoo.distribute.placement import TensorFlowPlacement

# Each of Keras' random ops that takes an algorithm, seeded as Keras' layers seed them: by a
# `SeedGenerator`, whose state XLA reads at run time.
DRAWS = {
    "normal": lambda x, seed: keras.random.normal((3, 5), seed=seed),
    "uniform": lambda x, seed: keras.random.uniform((3, 5), minval=-2.0, maxval=3.0, seed=seed),
    "randint": lambda x, seed: keras.random.randint((3, 5), 0, 100, seed=seed),
    "randint_int8": lambda x, seed: keras.random.randint((3, 5), 0, 100, "int8", seed=seed),
    "truncated_normal": lambda x, seed: keras.random.truncated_normal((3, 5), 0, 2.0, seed=seed),
    "dropout": lambda x, seed: keras.random.dropout(x, 0.4, seed=seed),
    "dropout_noise_shape": lambda x, seed: keras.random.dropout(x, 0.4, (1, 5), seed=seed),
    "shuffle": lambda x, seed: keras.random.shuffle(x, seed=seed),
}
MODES = {
    "eager": lambda f: f,
    "graph": lambda f: tf.function(f, autograph=False),
    "xla": lambda f: tf.function(f, autograph=False, jit_compile=True),
}
INPUTS = tf.reshape(tf.range(15, dtype=tf.float32) + 1.0, (3, 5))


def _draw(op, mode):
    seed = keras.random.SeedGenerator(7)
    return MODES[mode](lambda x: DRAWS[op](x, seed))(INPUTS)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("op", DRAWS)
def test_philox_named_draws_keras_own_numbers(op, mode):
    expected = _draw(op, mode)
    with xla.philox_random_ops():
        drawn = _draw(op, mode)
    assert drawn.dtype == expected.dtype
    np.testing.assert_array_equal(drawn.numpy(), expected.numpy())


def test_dropout_keeps_and_scales_as_keras_does():
    with xla.philox_random_ops():
        dropped = tf.function(lambda x: keras.random.dropout(x, 0.5, seed=3), jit_compile=True)(
            tf.ones((64, 64))
        ).numpy()
    assert set(np.unique(dropped)) == {0.0, 2.0}
    assert 0.4 < (dropped == 0).mean() < 0.6
    with xla.philox_random_ops():
        assert keras.random.dropout(INPUTS, 0.0, seed=3) is INPUTS
        np.testing.assert_array_equal(keras.random.dropout(INPUTS, 1.0, seed=3), 0.0)


def _graph_ops(function, *args):
    graph = tf.function(function, autograph=False).get_concrete_function(*args).graph
    return {node.op for node in graph.as_graph_def().node}


def test_keras_default_derives_the_key_in_the_graph_and_philox_named_does_not():
    # "auto_select" derives the key and counter with this op, which XLA on CPU fuses into the
    # loop over the drawn values (the slow part); naming the algorithm skips the op.
    layer = keras.layers.Dropout(0.1, seed=0)
    x = tf.ones((2, 3))
    assert "StatelessRandomGetKeyCounter" in _graph_ops(lambda x: layer(x, training=True), x)
    with xla.philox_random_ops():
        ops = _graph_ops(lambda x: layer(x, training=True), x)
    assert "StatelessRandomGetKeyCounter" not in ops
    assert "StatelessRandomUniformV2" in ops


def test_keras_ops_are_restored_when_the_context_closes():
    before = keras.src.backend.tensorflow.random.dropout
    with pytest.raises(RuntimeError, match="inside"):
        with xla.philox_random_ops():
            assert keras.src.backend.tensorflow.random.dropout is not before
            raise RuntimeError("inside")
    assert keras.src.backend.tensorflow.random.dropout is before
    assert "StatelessRandomGetKeyCounter" in _graph_ops(
        lambda x: keras.random.dropout(x, 0.1, seed=1), tf.ones((2, 3))
    )


def _trained_weights(philox):
    """The weights of a tiny MHA classifier (attention dropout) after two XLA-compiled steps."""
    keras.utils.set_random_seed(0)
    model = kzoo.build_model(
        "mha_classifier",
        **{**kzoo.registry.get_model_entry("mha_classifier").tiny.kwargs, "dropout": 0.5},
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", jit_compile=True)
    if philox:
        assert xla.trace_with_philox(model) is model
    rng = np.random.default_rng(0)
    x = rng.integers(1, 20, size=(8, 6))
    y = rng.integers(0, 3, size=(8,))
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    return model.get_weights()


def test_a_train_step_traced_with_philox_trains_as_keras_default():
    for traced, default in zip(_trained_weights(True), _trained_weights(False)):
        np.testing.assert_array_equal(traced, default)


def test_trace_with_philox_wraps_once_and_leaves_the_class_alone():
    model = kzoo.build_model("kim_cnn", vocabulary_size=20)
    step = xla.trace_with_philox(model).train_step
    assert step.traces_with_philox
    assert xla.trace_with_philox(model).train_step is step
    assert not getattr(type(model).train_step, "traces_with_philox", False)
    assert not getattr(kzoo.build_model("kim_cnn").train_step, "traces_with_philox", False)


def test_cpu_placement_traces_xla_steps_with_philox():
    placement = TensorFlowPlacement(tf.distribute.get_strategy())
    model = kzoo.build_model("mha_classifier", vocabulary_size=20)
    assert placement.xla(model, requested=True) == (True, None)
    assert model.train_step.traces_with_philox
    # Without XLA the step keeps Keras' own draws (the same numbers, and no faster there).
    model = kzoo.build_model("mha_classifier", vocabulary_size=20)
    assert placement.xla(model, requested=False) == (False, None)
    assert not getattr(model.train_step, "traces_with_philox", False)
