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


def learning_rate_schedule(name, learning_rate, total_steps=None, warmup_steps=0):
    """Returns the learning rate a recipe's `lr_schedule` setting names.

    `"constant"` returns `learning_rate` itself. `"cosine"` warms up linearly from 0 over
    `warmup_steps`, then follows a half cosine down to a tenth of `learning_rate` at
    `total_steps` (nanoGPT's schedule), and stays there.

    Args:
        name: str. `"constant"` or `"cosine"`.
        learning_rate: float. The constant rate, or the cosine schedule's peak.
        total_steps: int. Training steps of the whole run, warm-up included (cosine only).
        warmup_steps: int. Steps of linear warm-up, fewer than `total_steps` (cosine only).
            Defaults to `0`.

    Example:

    >>> from kzoo.optimizers import learning_rate_schedule
    >>> schedule = learning_rate_schedule("cosine", 1e-3, total_steps=100, warmup_steps=10)
    >>> [round(float(schedule(step)), 6) for step in (0, 10, 55, 100)]
    [0.0, 0.001, 0.00055, 0.0001]
    """
    if name == "constant":
        return learning_rate
    if name != "cosine":
        raise ValueError(
            f"Expected lr_schedule to be one of 'constant', 'cosine'. Received: lr_schedule={name}"
        )
    if not isinstance(total_steps, int) or total_steps < 1:
        raise ValueError(
            f"Expected total_steps to be a positive int for lr_schedule='cosine'. "
            f"Received: total_steps={total_steps}"
        )
    if not isinstance(warmup_steps, int) or not 0 <= warmup_steps < total_steps:
        raise ValueError(
            f"Expected warmup_steps to be an int in [0, {total_steps}), fewer than the run's "
            f"{total_steps} training steps. Received: warmup_steps={warmup_steps}"
        )
    if warmup_steps:
        return keras.optimizers.schedules.CosineDecay(
            0.0,
            total_steps - warmup_steps,
            alpha=0.1,
            warmup_target=learning_rate,
            warmup_steps=warmup_steps,
        )
    return keras.optimizers.schedules.CosineDecay(learning_rate, total_steps, alpha=0.1)


def build_optimizer(name, learning_rate, clipnorm=None):
    """Returns the optimizer a recipe's `optimizer` setting names.

    Args:
        name: str. `"adam"`, or `"adadelta"` with Zeiler's and Kim's rho 0.95 and epsilon 1e-6
            (Kim uses learning rate 1.0).
        learning_rate: float or `keras.optimizers.schedules.LearningRateSchedule`, such as
            `learning_rate_schedule` returns.
        clipnorm: float or None. Clip each gradient to this norm.

    Example:

    >>> from kzoo.optimizers import build_optimizer
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
