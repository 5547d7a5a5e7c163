"""Max-over-time pooling that skips padded steps."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kzoo")
class MaskedGlobalMaxPooling1D(keras.layers.Layer):
    """Global max pooling over the real (unmasked) steps of a sequence.

    `keras.layers.GlobalMaxPooling1D` ignores masks, so a padded step whose activation is
    larger than every real one wins the max. Here masked steps are excluded; a sequence with no
    real step pools to zeros.

    Call arguments:
        inputs: float tensor of shape `(batch_size, steps, channels)`.
        mask: optional boolean tensor of shape `(batch_size, steps)`, `True` at real steps.

    Output:
        Float tensor of shape `(batch_size, channels)`, without a mask.

    Example:

    >>> import numpy as np
    >>> from kzoo.layers import MaskedGlobalMaxPooling1D
    >>> x = np.array([[[1.0], [5.0], [9.0]]], dtype="float32")
    >>> MaskedGlobalMaxPooling1D()(x, mask=np.array([[True, True, False]])).numpy()
    array([[5.]], dtype=float32)
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.max(inputs, axis=1)
        mask = ops.expand_dims(ops.cast(mask, "bool"), -1)
        pooled = ops.max(ops.where(mask, inputs, float("-inf")), axis=1)
        has_real_step = ops.any(mask, axis=1)
        return ops.where(has_real_step, pooled, ops.zeros_like(pooled))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])
