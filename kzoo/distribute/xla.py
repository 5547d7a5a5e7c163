"""Whether `jit_compile=True` can work for a model under a strategy, and why not.

The runner asks `xla_supported` before it compiles, and logs the reason in one line. XLA cannot
compile Keras' cuDNN `LSTM` and `GRU` kernels (https://github.com/keras-team/keras/issues/18456)
nor Keras 3's whole distributed step over several replicas, and on CPU it draws random numbers
so slowly that dropout over sequences makes training slower with it than without. README.md,
"Multi-worker training and XLA", tells the details.
"""

import platform

import keras
import numpy as np
import tensorflow as tf
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
    - on CPU, a model with dropout over sequences (attention dropout, recurrent dropout, or a
      `Dropout` whose masks have a time axis or more than 4,096 values per example): XLA
      draws random numbers on CPU much more slowly than TensorFlow
      (`benchmarks/results/flops.md`). Small masks (Kim's CNN's dropout on its pooled
      features, the RNN generator's dropout shared by every time step) keep XLA on;
    - on CPU, a model that draws random numbers in its own train step (a `SeedGenerator` of
      the model, such as the GAN's noise), for the same reason;
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
    if not uses_gpu(strategy) and not is_tpu(strategy):
        for name, value in vars(model).items():
            if isinstance(value, keras.random.SeedGenerator):
                return False, (
                    f"{model.name} draws random numbers in its train step ({name}), and on "
                    "CPU XLA's random numbers are about 100x slower than TensorFlow's"
                )
        for layer in model._flatten_layers(include_self=False):
            if _draws_large_random_masks(layer):
                return False, (
                    f"layer '{layer.name}' ({type(layer).__name__}) draws dropout masks over "
                    "sequences, and "
                    "on CPU XLA's random numbers are about 100x slower than TensorFlow's "
                    "(benchmarks/results/flops.md)"
                )
    replicas = strategy.num_replicas_in_sync
    if replicas > 1 and not is_tpu(strategy):
        return False, (
            f"{strategy_name(strategy)} has {replicas} replicas and Keras 3 XLA-compiles the "
            "whole distributed step, cross-replica reduction included, which XLA cannot do "
            "(variables on other devices, collective ops without XLA kernels)"
        )
    return True, None


# === Private helpers ===


def _draws_random_masks(layer):
    """Whether `layer` draws random numbers in training: dropout of any kind (Dropout and its
    spatial variants, attention dropout, recurrent dropout) with a rate above 0."""
    for attribute in ("rate", "dropout", "recurrent_dropout"):
        value = getattr(layer, attribute, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return True
    return False


# Largest dropout mask per example, in values, that XLA on CPU draws cheaply enough.
_SMALL_MASK = 4096


def _draws_large_random_masks(layer):
    """Whether `layer` draws many random numbers per example in training: any dropout but a
    plain `Dropout` whose mask has a fixed size of at most `_SMALL_MASK` values per example
    (no time axis, or one its `noise_shape` broadcasts, as time-shared dropout does)."""
    if not _draws_random_masks(layer):
        return False
    if type(layer) is not keras.layers.Dropout:
        return True
    try:
        per_example = layer.output.shape[1:]
    except (AttributeError, ValueError):  # never called, or called on several inputs
        return True
    if layer.noise_shape is not None:
        # Keras fills the noise shape's None entries from the input's shape.
        per_example = [
            size if noise is None else noise
            for size, noise in zip(per_example, layer.noise_shape[1:])
        ]
    return None in per_example or int(np.prod(per_example)) > _SMALL_MASK


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
