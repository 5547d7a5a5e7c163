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


@keras.saving.register_keras_serializable(package="kzoo")
class InverseSquareRootDecay(keras.optimizers.schedules.LearningRateSchedule):
    """The Transformer's schedule (Vaswani et al., 2017): a linear warm-up to `peak` over
    `warmup_steps`, then a decay as the inverse square root of the step.

    `peak * min(step / warmup_steps, sqrt(warmup_steps / step))`, counting steps from 1.

    Example:

    >>> schedule = InverseSquareRootDecay(1e-3, warmup_steps=100)
    >>> [round(float(schedule(step)), 6) for step in (0, 49, 99, 399)]
    [1e-05, 0.0005, 0.001, 0.0005]
    """

    def __init__(self, peak, warmup_steps):
        self.peak, self.warmup_steps = peak, warmup_steps

    def __call__(self, step):
        step = keras.ops.cast(step, "float32") + 1.0
        warmup = float(self.warmup_steps)
        return self.peak * keras.ops.minimum(step / warmup, keras.ops.sqrt(warmup / step))

    def get_config(self):
        return {"peak": self.peak, "warmup_steps": self.warmup_steps}


def learning_rate_schedule(name, learning_rate, total_steps=None, warmup_steps=0):
    """Returns the learning rate a recipe's `lr_schedule` setting names.

    `"constant"` returns `learning_rate` itself. `"cosine"` warms up linearly from 0 over
    `warmup_steps`, then follows a half cosine down to a tenth of `learning_rate` at
    `total_steps` (nanoGPT's schedule), and stays there. `"inverse_sqrt"` warms up linearly to
    `learning_rate` over `warmup_steps`, then decays as the inverse square root of the step
    (the Transformer's, `InverseSquareRootDecay`).

    Args:
        name: str. `"constant"`, `"cosine"` or `"inverse_sqrt"`.
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
    if name == "inverse_sqrt":
        if not isinstance(warmup_steps, int) or warmup_steps < 1:
            raise ValueError(
                "Invalid value for setting warmup_steps. Expected a positive integer for "
                f"lr_schedule='inverse_sqrt'. Received: warmup_steps={warmup_steps}"
            )
        return InverseSquareRootDecay(learning_rate, warmup_steps)
    if name != "cosine":
        raise ValueError(
            "Expected lr_schedule to be one of 'constant', 'cosine', 'inverse_sqrt'. "
            f"Received: lr_schedule={name}"
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
