"""Whether `jit_compile=True` can work for a model under a strategy, and why not; and Keras'
random numbers under XLA on CPU.

The runner asks `xla_supported` before it compiles, and logs the reason in one line. XLA cannot
compile Keras' cuDNN `LSTM` and `GRU` kernels (https://github.com/keras-team/keras/issues/18456)
nor Keras 3's whole distributed step over several replicas. README.md, "Multi-worker training
and XLA", tells the details.

Random numbers were a third reason on CPU until `philox_random_ops`: Keras' TensorFlow backend
draws with TensorFlow's default algorithm, which XLA compiles ~40x slower than the same draw
with the algorithm named; `trace_with_philox` makes a model's train step name it.
"""

import contextlib
import functools
import platform

import keras
import tensorflow as tf
from keras.src.backend.tensorflow import random as keras_tf_random
from keras.src.trainers.trainer import model_supports_jit

from kzoo.distribute.strategy import is_tpu, strategy_name, uses_gpu

# The activations for which Keras' TensorFlow backend picks the cuDNN kernel
# (keras/src/backend/tensorflow/rnn.py, `_do_lstm_arguments_support_cudnn`).
_CUDNN_ACTIVATIONS = (keras.activations.tanh, tf.tanh, keras.ops.tanh)
_CUDNN_RECURRENT_ACTIVATIONS = (keras.activations.sigmoid, tf.sigmoid, keras.ops.sigmoid)


def xla_supported(model, strategy=None):
    """Returns whether `jit_compile=True` can work for `model` under `strategy`, and why not.

    Not supported:

    - on a GPU, a Keras `LSTM` or `GRU` layer that runs the cuDNN kernel, which XLA cannot
      compile (https://github.com/keras-team/keras/issues/18456);
    - wherever Keras' own `model_supports_jit` says no (layers such as `StringLookup`, op
      determinism enabled, TensorFlow on Apple GPUs);
    - under a strategy with more than one replica, other than a TPU: Keras 3 compiles
      `strategy.run` together with the cross-replica reduction as one XLA function, which
      fails (https://www.tensorflow.org/xla/known_issues#tfvariable_on_a_different_device).

    Args:
        model: a `keras.Model`.
        strategy: the `tf.distribute.Strategy` to train under, or `None` for the model's.
            Defaults to `None`.

    Returns:
        A tuple `(supported, reason)`: a bool, and `None` or a one-line str to log.

    Example:

    >>> import kzoo
    >>> from kzoo.distribute.xla import xla_supported
    >>> xla_supported(kzoo.build_cnn_sentiment(vocabulary_size=20))
    (True, None)
    """
    strategy = strategy or model.distribute_strategy
    if uses_gpu(strategy):
        for layer in model._flatten_layers(include_self=False):
            if _uses_cudnn(layer):
                return False, (
                    f"layer '{layer.name}' ({type(layer).__name__}) runs the cuDNN kernel on "
                    "GPU, which XLA cannot compile "
                    "(https://github.com/keras-team/keras/issues/18456)"
                )
    reason = _keras_jit_refusal(model)
    if reason:
        return False, reason
    replicas = strategy.num_replicas_in_sync
    if replicas > 1 and not is_tpu(strategy):
        return False, (
            f"{strategy_name(strategy)} has {replicas} replicas and Keras 3 XLA-compiles the "
            "whole distributed step, cross-replica reduction included, which XLA cannot do "
            "(variables on other devices, collective ops without XLA kernels)"
        )
    return True, None


# === Random numbers under XLA ===


@contextlib.contextmanager
def philox_random_ops():
    """Within it, Keras' TensorFlow random ops name the Philox algorithm: the same numbers,
    drawn ~40x faster under XLA on CPU.

    Keras' TensorFlow backend draws with TensorFlow's default algorithm, `"auto_select"`,
    which is Philox with the same key and counter on CPU: naming it draws the very same
    numbers, with XLA or without, from a `SeedGenerator` as Keras' layers seed their draws
    (under XLA a constant seed, such as a plain int, gives other numbers: XLA folds the named
    draw as TensorFlow's kernel draws it). But with `"auto_select"` XLA on CPU fuses the
    derivation of the key and counter from the seed into the loop over the drawn values, so
    each value computes it again: Keras' `Dropout(0.1)` on a GPT attention map
    (32 x 4 x 128 x 128) takes ~400 ms compiled, ~10 ms with Philox named (TensorFlow: ~8 ms;
    benchmarks/results/flops.md). Keras' ops that take an algorithm are covered: `normal`,
    `uniform`, `randint`, `truncated_normal`, `dropout` and `shuffle`. They are swapped in
    Keras' backend module only while the context is open: open it around the tracing of a
    step (`trace_with_philox`), not around a run.

    Example:

    >>> import keras, tensorflow as tf
    >>> layer = keras.layers.Dropout(0.5, seed=1)
    >>> with philox_random_ops():
    ...     named = tf.function(lambda x: layer(x, training=True), jit_compile=True)
    ...     masks = named(tf.ones((2, 4)))
    >>> masks.shape
    TensorShape([2, 4])
    """
    replaced = {name: getattr(keras_tf_random, name) for name in _PHILOX_OPS}
    try:
        for name, op in _PHILOX_OPS.items():
            setattr(keras_tf_random, name, op)
        yield
    finally:
        for name, op in replaced.items():
            setattr(keras_tf_random, name, op)


def trace_with_philox(model):
    """Makes `model`'s train step trace inside `philox_random_ops()`, so the XLA-compiled step
    draws its dropout masks and noise with Philox named. Idempotent.

    Args:
        model: a `keras.Model` on Keras' TensorFlow backend.

    Example:

    >>> import kzoo
    >>> model = trace_with_philox(kzoo.build_mha_classifier(vocabulary_size=20))
    >>> model.train_step.traces_with_philox
    True
    """
    step = model.train_step
    if getattr(step, "traces_with_philox", False):
        return model

    @functools.wraps(step)
    def train_step(*args, **kwargs):
        with philox_random_ops():
            return step(*args, **kwargs)

    train_step.traces_with_philox = True
    # An attribute of this model only: Keras' trainers call `self.train_step` when they trace.
    model.train_step = train_step
    return model


def _seed(seed):
    return keras_tf_random._cast_seed(keras_tf_random.draw_seed(seed))


def _philox_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    return tf.random.stateless_normal(
        shape, _seed(seed), mean, stddev, dtype or keras.config.floatx(), alg="philox"
    )


def _philox_uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    dtype = dtype or keras.config.floatx()
    minval, maxval = tf.cast(minval, dtype), tf.cast(maxval, dtype)
    return tf.random.stateless_uniform(shape, _seed(seed), minval, maxval, dtype, alg="philox")


def _philox_randint(shape, minval, maxval, dtype="int32", seed=None):
    # As Keras: integers drawn as int32 or int64, then cast.
    drawn = dtype if keras.backend.standardize_dtype(dtype) in ("int32", "int64") else "int64"
    return tf.cast(
        tf.random.stateless_uniform(shape, _seed(seed), minval, maxval, drawn, alg="philox"),
        dtype,
    )


def _philox_truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    return tf.random.stateless_truncated_normal(
        shape, _seed(seed), mean, stddev, dtype or keras.config.floatx(), alg="philox"
    )


def _philox_dropout(inputs, rate, noise_shape=None, seed=None):
    if rate == 1.0:
        return tf.zeros_like(inputs)
    if rate == 0.0:
        return inputs
    noise_shape = keras_tf_random._get_concrete_noise_shape(inputs, noise_shape)
    return tf.nn.experimental.stateless_dropout(
        inputs, rate, _seed(seed), rng_alg="philox", noise_shape=noise_shape
    )


def _philox_shuffle(x, axis=0, seed=None):
    keys = tf.random.stateless_uniform([tf.shape(x)[axis]], _seed(seed), alg="philox")
    return tf.gather(x, tf.argsort(keys), axis=axis)


_PHILOX_OPS = {
    "normal": _philox_normal,
    "uniform": _philox_uniform,
    "randint": _philox_randint,
    "truncated_normal": _philox_truncated_normal,
    "dropout": _philox_dropout,
    "shuffle": _philox_shuffle,
}


# === Private helpers ===


def _uses_cudnn(layer):
    """Whether Keras' TensorFlow backend runs `layer` with cuDNN, given a visible GPU.

    Mirrors `keras.layers.LSTM.inner_loop` / `GRU.inner_loop` and `cudnn_ok` in
    keras/src/backend/tensorflow/rnn.py (Keras 3.15).
    """
    if not isinstance(layer, (keras.layers.LSTM, keras.layers.GRU)):
        return False
    cell = layer.cell
    return (
        layer.use_cudnn in ("auto", True)
        and not cell.recurrent_dropout
        and cell.activation in _CUDNN_ACTIVATIONS
        and cell.recurrent_activation in _CUDNN_RECURRENT_ACTIVATIONS
        and not layer.unroll
        and cell.use_bias
        and (not isinstance(layer, keras.layers.GRU) or cell.reset_after)
    )


def _keras_jit_refusal(model):
    """Returns why Keras' `model_supports_jit(model)` is False, or `None` when it is True."""
    if model_supports_jit(model):
        return None
    if (
        platform.system() == "Darwin"
        and "arm" in platform.processor().lower()
        and tf.config.list_physical_devices("GPU")
    ):
        return "Keras' model_supports_jit is False: no XLA for TensorFlow on Apple GPUs"
    for layer in model._flatten_layers(include_self=True):
        if not layer.supports_jit:
            return (
                f"Keras' model_supports_jit is False: layer '{layer.name}' "
                f"({type(layer).__name__}) does not support XLA"
            )
    return "Keras' model_supports_jit is False: op determinism is enabled"
