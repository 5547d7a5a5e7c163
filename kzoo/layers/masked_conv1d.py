"""A Conv1D that respects padding masks."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kzoo")
class MaskedConv1D(keras.layers.Conv1D):
    """1D convolution over a padded sequence that gives the same result at every real position
    whatever the amount of padding.

    `keras.layers.Conv1D` ignores masks: padded steps enter the windows of real ones, and an
    extra padded step changes the result. This layer zeroes the masked steps before convolving
    with `padding="same"`, so a window that reaches past the sentence sees zeros whether they come
    from padding tokens or from the convolution's own zero padding. The mask passes through
    unchanged, so a masked pooling layer can follow.

    Args:
        filters: int. Number of output feature maps.
        kernel_size: int. Width of the convolution window.
        **kwargs: other `keras.layers.Conv1D` arguments. `padding` must be `"same"`, and strides
            and dilations stay 1, so that output steps line up with input steps and the mask.

    Call arguments:
        inputs: float tensor of shape `(batch_size, steps, channels)`.
        mask: optional boolean tensor of shape `(batch_size, steps)`, `True` at real steps.

    Output:
        Float tensor of shape `(batch_size, steps, filters)`, carrying the input mask.

    Example:

    >>> import numpy as np, keras
    >>> from kzoo.layers import MaskedConv1D
    >>> x = np.random.rand(2, 7, 4).astype("float32")
    >>> mask = np.array([[1] * 5 + [0] * 2, [1] * 7], dtype=bool)
    >>> MaskedConv1D(8, 3)(x, mask=mask).shape
    TensorShape([2, 7, 8])
    """

    def __init__(self, filters, kernel_size, **kwargs):
        padding = kwargs.pop("padding", "same")
        for key in ("strides", "dilation_rate"):
            value = kwargs.get(key, 1)
            if value not in (1, (1,), [1]):
                raise ValueError(
                    f"Invalid value for argument {key}. Expected 1, so that output steps keep "
                    f"the input mask. Received: {key}={value}"
                )
        if padding != "same":
            raise ValueError(
                "Invalid value for argument padding. Expected 'same', so that output steps "
                f"keep the input mask. Received: padding={padding}"
            )
        super().__init__(filters, kernel_size, padding="same", **kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is not None:
            inputs = inputs * ops.cast(ops.expand_dims(mask, -1), inputs.dtype)
        return super().call(inputs)

    def compute_mask(self, inputs, mask=None):
        return mask
