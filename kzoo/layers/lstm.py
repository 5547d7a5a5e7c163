"""`keras.layers.LSTM` with a fused loop for TensorFlow on CPUs."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kzoo")
class LSTM(keras.layers.LSTM):
    """`keras.layers.LSTM`, the same weights and outputs, trained faster by TensorFlow on CPUs.

    Where Keras' TensorFlow backend has no cuDNN (a CPU, or a GPU with settings cuDNN lacks),
    it runs an LSTM as a loop of the cell, and differentiates it step by step: every step's
    backward pass computes its own share of the weights' gradients. This layer's loop on
    TensorFlow computes the inputs' share of the gates for all steps in one matmul, and its
    own gradient: a backward loop that only carries the states' gradients, then the weights'
    gradients over all steps in one matmul each. With XLA on 2 CPU cores, a 512-unit layer on
    64 windows of 100 characters trains about 1.5 times as fast (`python -m benchmarks
    peers`). On GPUs where cuDNN applies, and on JAX and PyTorch, it is Keras' own layer.

    The fused loop needs Keras' cuDNN conditions (tanh and sigmoid activations, a bias, no
    unrolling) and no recurrent dropout; otherwise Keras' loop runs. Masks (and
    `zero_output_for_mask`), `go_backwards`, initial and returned states and input dropout
    behave as in `keras.layers.LSTM`.

    Args:
        units: int. Width of the states and the output.
        **kwargs: any other `keras.layers.LSTM` argument.

    Example:

    >>> import numpy as np
    >>> from kzoo.layers import LSTM
    >>> x = np.random.rand(2, 5, 3).astype("float32")
    >>> LSTM(4, return_sequences=True)(x).shape
    TensorShape([2, 5, 4])
    """

    def _fuses(self):
        cell = self.cell
        if keras.backend.backend() != "tensorflow" or self.unroll or cell.recurrent_dropout:
            return False
        if not cell.use_bias:
            return False
        if cell.activation not in (keras.activations.tanh, keras.ops.tanh):
            return False
        if cell.recurrent_activation not in (keras.activations.sigmoid, keras.ops.sigmoid):
            return False
        import tensorflow as tf

        # Where Keras would run cuDNN, it does.
        return self.use_cudnn is False or not tf.config.list_logical_devices("GPU")

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if not self._fuses():
            return super().inner_loop(sequences, initial_state, mask, training=training)
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if training and self.cell.dropout:
            # One input mask per sequence, as the cell's own loop uses.
            dp_mask = self.cell.get_dropout_mask(sequences[:, 0, :])
            sequences = sequences * ops.expand_dims(dp_mask, axis=1)
        dtype = sequences.dtype
        kernel, recurrent_kernel, bias = (
            ops.cast(w, dtype)
            for w in (self.cell.kernel, self.cell.recurrent_kernel, self.cell.bias)
        )
        if self.go_backwards:
            sequences = ops.flip(sequences, axis=1)
            mask = None if mask is None else ops.flip(mask, axis=1)
        h0, c0 = (ops.cast(state, dtype) for state in initial_state)
        outputs, c_last = _fused_lstm(sequences, mask, kernel, recurrent_kernel, bias, h0, c0)
        h_last = outputs[:, -1]
        if mask is not None:
            # Keras' loop outputs zeros at masked steps with `zero_output_for_mask` (as
            # `Bidirectional` sets it), else zeros until the first real step (the state before
            # it may be any initial state), then the state.
            shown = mask
            if not self.zero_output_for_mask:
                shown = ops.cumsum(ops.cast(mask, "int32"), axis=1) > 0
            outputs = outputs * ops.cast(ops.expand_dims(shown, -1), dtype)
        return outputs[:, -1], outputs, [h_last, c_last]


def _fused_lstm(x, mask, kernel, recurrent_kernel, bias, h0, c0):
    """The LSTM over `x` `(batch, steps, features)`: `(h of every step, c of the last)`.

    A masked step keeps both states. The gradient is TensorFlow's `custom_gradient`: the
    backward loop carries the states' gradients and saves each step's gate gradients, and the
    weights' gradients are one matmul each over all steps.
    """
    import tensorflow as tf

    masked = mask is not None
    if not masked:
        mask = tf.ones(tf.shape(x)[:2], tf.bool)  # a placeholder the loops never read

    @tf.custom_gradient
    def lstm(x, mask, kernel, recurrent_kernel, bias, h0, c0):
        dtype = x.dtype
        xt = tf.transpose(x, [1, 0, 2])  # time major
        steps = tf.shape(xt)[0]
        keep = tf.cast(tf.transpose(mask)[:, :, None], dtype)  # (steps, batch, 1)
        x_gates = tf.einsum("tbf,fg->tbg", xt, kernel) + bias

        def array():
            return tf.TensorArray(dtype, size=steps)

        def forward(t, h, c, hs, cs, new_cs, gates):
            i, f, g, o = tf.split(x_gates[t] + tf.matmul(h, recurrent_kernel), 4, axis=-1)
            i, f, g, o = tf.sigmoid(i), tf.sigmoid(f), tf.tanh(g), tf.sigmoid(o)
            new_c = f * c + i * g
            new_h = o * tf.tanh(new_c)
            if masked:
                m = keep[t]
                next_c, next_h = m * new_c + (1 - m) * c, m * new_h + (1 - m) * h
                new_cs = new_cs.write(t, new_c)
            else:
                next_c, next_h = new_c, new_h
            return (
                t + 1,
                next_h,
                next_c,
                hs.write(t, next_h),
                cs.write(t, next_c),
                new_cs,
                gates.write(t, tf.concat([i, f, g, o], -1)),
            )

        _, _, c_last, hs, cs, new_cs, gates = tf.while_loop(
            lambda t, *_: t < steps,
            forward,
            (0, h0, c0, array(), array(), array() if masked else tf.zeros([]), array()),
            maximum_iterations=steps,
        )
        hs, cs, gates = hs.stack(), cs.stack(), gates.stack()
        new_cs = new_cs.stack() if masked else cs
        previous_h = tf.concat([h0[None], hs[:-1]], 0)
        previous_c = tf.concat([c0[None], cs[:-1]], 0)

        def gradient(d_hs, d_c_last):
            d_hs = tf.transpose(d_hs, [1, 0, 2])
            d_c_last = tf.zeros_like(c0) if d_c_last is None else d_c_last

            def backward(k, d_h, d_c, d_gates):
                t = steps - 1 - k
                i, f, g, o = tf.split(gates[t], 4, axis=-1)
                tanh_c = tf.tanh(new_cs[t])
                d_h = d_hs[t] + d_h
                if masked:
                    m = keep[t]
                    d_new_h, d_new_c = m * d_h, m * d_c
                else:
                    d_new_h, d_new_c = d_h, d_c
                d_new_c += d_new_h * o * (1 - tanh_c * tanh_c)
                d_z = tf.concat(
                    [
                        d_new_c * g * i * (1 - i),
                        d_new_c * previous_c[t] * f * (1 - f),
                        d_new_c * i * (1 - g * g),
                        d_new_h * tanh_c * o * (1 - o),
                    ],
                    -1,
                )
                d_previous_h = tf.matmul(d_z, recurrent_kernel, transpose_b=True)
                d_previous_c = d_new_c * f
                if masked:
                    d_previous_h += (1 - m) * d_h
                    d_previous_c += (1 - m) * d_c
                return k + 1, d_previous_h, d_previous_c, d_gates.write(t, d_z)

            _, d_h0, d_c0, d_gates = tf.while_loop(
                lambda k, *_: k < steps,
                backward,
                (0, tf.zeros_like(h0), d_c_last, array()),
                maximum_iterations=steps,
            )
            d_gates = d_gates.stack()
            # Contracted over (steps, batch) as einsums, not as a matmul of the flattened
            # states with `transpose_a`: XLA's CPU dot runs that transposed left operand
            # 1.4 times slower than the transpose it makes of these (123 against 89 ms on 2
            # cores for the 512-unit recurrent kernel of 64 x 100 steps).
            d_recurrent_kernel = tf.einsum("tbu,tbg->ug", previous_h, d_gates)
            d_kernel = tf.einsum("tbf,tbg->fg", xt, d_gates)
            d_x = tf.transpose(tf.einsum("tbg,fg->tbf", d_gates, kernel), [1, 0, 2])
            d_bias = tf.reduce_sum(d_gates, [0, 1])
            return d_x, None, d_kernel, d_recurrent_kernel, d_bias, d_h0, d_c0

        return (tf.transpose(hs, [1, 0, 2]), c_last), gradient

    return lstm(x, mask, kernel, recurrent_kernel, bias, h0, c0)
