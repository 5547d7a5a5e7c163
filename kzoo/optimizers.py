"""The optimizers a recipe can pick with `--optimizer`."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="kzoo")
class DenseAdadelta(keras.optimizers.Adadelta):
    """Kim's (2014) Adadelta, where every row of an embedding decays its accumulators every
    step, computed on the rows a batch looks up.

    Keras' dense update of an embedding's gradient (`IndexedSlices`) runs over the whole table
    every step: on Kim's CNN (MR, 300 wide, a row per word) half of the step. Keras' sparse one
    cannot be compiled by XLA (segment sums of unknown size) and squares a repeated id's
    gradients one by one (their sum of squares, not the square of their sum); updating only the
    looked-up rows ("lazy" Adadelta) would change the optimizer. But a row that a batch does not
    look up has a zero gradient, so the dense update only multiplies its two accumulators by
    `rho`, and leaves the row itself as it is. So this optimizer keeps, for each row of a
    matrix, the step up to which its accumulators are decayed, and applies the `rho ** k` it
    missed when a batch next looks it up: the dense update's weights (up to rounding), at a cost
    that grows with the batch instead of the table, under XLA or not. Dense gradients, and every
    gradient when clipping is set, take Keras' dense update. A model saved by an earlier kzoo,
    whose DenseAdadelta had no row steps, resumes with its accumulators. Arguments are Keras'
    `Adadelta`'s.

    Example:

    >>> import keras, numpy as np
    >>> from kzoo.optimizers import DenseAdadelta
    >>> model = keras.Sequential([keras.Input((2,), dtype="int32"),
    ...     keras.layers.Embedding(1000, 8), keras.layers.GlobalAveragePooling1D()])
    >>> model.compile(DenseAdadelta(1.0, rho=0.95, epsilon=1e-6), "mse", jit_compile=True)
    >>> model.train_on_batch(np.array([[3, 4]]), np.ones((1, 8))) > 0
    True
    >>> [int(step) for step in model.optimizer.row_steps(model.layers[0].embeddings)[2:6]]
    [0, 1, 1, 0]
    """

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        # Only TensorFlow hands an embedding's gradient over as rows (`IndexedSlices`).
        sparse = keras.backend.backend() == "tensorflow"
        self._row_steps = [
            self.add_variable(
                (variable.shape[0],), initializer="zeros", dtype="int32", name="row_steps"
            )
            if sparse and len(variable.shape) >= 2
            else None
            for variable in var_list
        ]

    def row_steps(self, variable):
        """The steps up to which each row of `variable` has its accumulators decayed (a row's
        stored accumulators times `rho ** (iterations - row_steps)` are the dense update's)."""
        return self._row_steps[self._get_variable_index(variable)]

    def load_own_variables(self, store):
        rows = [steps for steps in getattr(self, "_row_steps", []) if steps is not None]
        if not rows or len(store.keys()) != len(self.variables) - len(rows):
            return super().load_own_variables(store)
        # Saved by a kzoo whose DenseAdadelta updated the whole table and had no row steps:
        # Keras would skip it with a warning and restart the accumulators. The other variables
        # come in the same order, and every row was decayed up to the saved step.
        own = [variable for variable in self.variables if not any(variable is r for r in rows)]
        for i, variable in enumerate(own):
            variable.assign(store[str(i)])
        for steps in rows:
            steps.assign(keras.ops.full(steps.shape, self.iterations, dtype="int32"))

    def apply(self, grads, trainable_variables=None):
        if self.clipnorm or self.global_clipnorm or self.clipvalue:
            # Keras clips a gradient as a whole tensor.
            grads = [
                tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in grads
            ]
        return super().apply(grads, trainable_variables)

    def update_step(self, grad, variable, learning_rate):
        index = self._get_variable_index(variable)
        row_steps = self._row_steps[index]
        if not isinstance(grad, tf.IndexedSlices):  # a dense gradient, on any backend
            return super().update_step(grad, variable, learning_rate)
        if row_steps is None:
            return super().update_step(tf.convert_to_tensor(grad), variable, learning_rate)
        dtype = variable.dtype
        rho, epsilon = self.rho, self.epsilon
        # A row looked up several times gets the sum of its gradients. Every entry carries its
        # row's sum, so the entries of a row compute equal values and their scattered writes
        # agree; all sizes are the batch's, which XLA knows.
        rows = tf.cast(grad.indices, tf.int32)
        order = tf.argsort(rows, stable=True)
        rows = tf.gather(rows, order)
        starts = tf.concat([[True], rows[1:] != rows[:-1]], axis=0)
        segments = tf.cumsum(tf.cast(starts, tf.int32)) - 1
        values = tf.gather(tf.cast(grad.values, dtype), order)
        g = tf.gather(tf.math.unsorted_segment_sum(values, segments, tf.shape(rows)[0]), segments)

        step = tf.cast(self.iterations, tf.int32)
        missed = tf.cast(step - tf.gather(row_steps, rows), dtype)[:, None]
        decay = tf.pow(tf.cast(rho, dtype), missed)
        accumulated_grad = self._accumulated_grads[index]
        accumulated_delta_var = self._accumulated_delta_vars[index]
        # Keras' update, on these rows.
        new_grad = rho * (decay * tf.gather(accumulated_grad, rows)) + (1 - rho) * tf.square(g)
        old_delta_var = decay * tf.gather(accumulated_delta_var, rows)
        delta_var = -(tf.sqrt(old_delta_var + epsilon) * g) / tf.sqrt(new_grad + epsilon)
        new_delta_var = rho * old_delta_var + (1 - rho) * tf.square(delta_var)
        new_rows = tf.gather(variable, rows) + tf.cast(learning_rate, dtype) * delta_var
        self.assign(accumulated_grad, tf.IndexedSlices(new_grad, rows))
        self.assign(accumulated_delta_var, tf.IndexedSlices(new_delta_var, rows))
        self.assign(variable, tf.IndexedSlices(new_rows, rows))
        self.assign(row_steps, tf.IndexedSlices(tf.fill(tf.shape(rows), step + 1), rows))


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
