"""Minibatch standard deviation: lets a GAN's discriminator see how varied a batch is."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kzoo")
class MinibatchStdDev(keras.layers.Layer):
    """Appends the batch's mean feature standard deviation to every example's features.

    Karras et al. (2018), "Progressive Growing of GANs" (https://arxiv.org/abs/1710.10196),
    section 3: the standard deviation of each feature over the batch, averaged over features,
    is one extra feature. A discriminator sees batches that are all real or all generated, so a
    generator that drops modes makes batches with less spread than real ones, which the
    discriminator can then tell apart; that pushes the generator to cover every mode.

    Call arguments:
        inputs: float tensor of shape `(batch_size, features)`.

    Output:
        Float tensor of shape `(batch_size, features + 1)`.

    Example:

    >>> import numpy as np
    >>> from kzoo.layers import MinibatchStdDev
    >>> x = np.array([[0.0, 1.0], [2.0, 5.0]], dtype="float32")
    >>> MinibatchStdDev()(x).numpy()  # standard deviations 1 and 2: mean 1.5
    array([[0. , 1. , 1.5],
           [2. , 5. , 1.5]], dtype=float32)
    """

    def __init__(self, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def call(self, inputs):
        centred = inputs - ops.mean(inputs, axis=0, keepdims=True)
        std = ops.sqrt(ops.mean(ops.square(centred), axis=0) + self.epsilon)
        feature = ops.ones_like(inputs[:, :1]) * ops.mean(std)
        return ops.concatenate([inputs, feature], axis=-1)

    def compute_output_shape(self, input_shape):
        features = None if input_shape[-1] is None else input_shape[-1] + 1
        return (*input_shape[:-1], features)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}
