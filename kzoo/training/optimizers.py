"""The optimizers a recipe can pick with `--optimizer`."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="kzoo")
class DenseAdadelta(keras.optimizers.Adadelta):
    """Adadelta that applies sparse gradients (an embedding's `IndexedSlices`) as dense tensors.

    Keras' sparse Adadelta update builds segment sums whose sizes XLA cannot fix at compile
    time, so `jit_compile=True` fails on any model with an embedding. A dense update compiles,
    and it is also Kim's (2014) Adadelta, where the accumulators of rows absent from a batch
    decay every step as well.
    """

    def apply(self, grads, trainable_variables=None):
        grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]
        return super().apply(grads, trainable_variables)


def build_optimizer(name, learning_rate, clipnorm=None):
    """Returns the optimizer a recipe's `optimizer` setting names.

    Args:
        name: str. `"adam"`, or `"adadelta"` with Zeiler's and Kim's rho 0.95 and epsilon 1e-6
            (Kim uses learning rate 1.0).
        learning_rate: float. The learning rate.
        clipnorm: float or None. Clip each gradient to this norm.

    Example:

    >>> from kzoo.training.optimizers import build_optimizer
    >>> type(build_optimizer("adadelta", 1.0)).__name__
    'DenseAdadelta'
    """
    if name == "adadelta":
        return DenseAdadelta(learning_rate, rho=0.95, epsilon=1e-6, clipnorm=clipnorm)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate, clipnorm=clipnorm)
    raise ValueError(
        f"Expected optimizer to be one of 'adam', 'adadelta'. Received: optimizer={name}"
    )
