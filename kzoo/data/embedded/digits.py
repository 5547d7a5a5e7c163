"""scikit-learn's 8×8 handwritten digits, resized and scaled to [-1, 1] for GANs.

The GAN recipe's default images: scikit-learn ships them, so nothing is downloaded.
"""

import numpy as np
import tensorflow as tf
from sklearn.datasets import load_digits

from kzoo import validation


def digit_images(size=28):
    """scikit-learn's 1,797 handwritten digits, resized to `size`×`size` and scaled to [-1, 1].

    The test set of the UCI "Optical Recognition of Handwritten Digits" data, which
    `sklearn.datasets.load_digits` ships inside scikit-learn (no download): 1,797 grey 8×8
    images of the digits 0-9 (about 180 per class), pixel values 0-16, written by 13 people.
    They are resized with bilinear interpolation (`tf.image.resize`), so at `size=28` they
    have MNIST's shape, blurred: ten clearly different shapes, small enough for a GAN to
    learn on a CPU.

    Args:
        size: int. Height and width of the returned images. Defaults to `28`.

    Returns:
        A tuple `(images, labels)`: float32 images `(1797, size, size, 1)` in [-1, 1]
        (background -1) and int32 labels `(1797,)` in 0-9.

    Example:

    >>> images, labels = digit_images(size=16)
    >>> images.shape, images.dtype, labels[:5].tolist()
    ((1797, 16, 16, 1), dtype('float32'), [0, 1, 2, 3, 4])
    """
    validation.positive_int("size", size)
    digits = load_digits()
    images = (digits.images / 16.0).astype("float32")[..., np.newaxis]
    images = tf.image.resize(images, (size, size), method="bilinear").numpy()
    images = np.clip(images * 2.0 - 1.0, -1.0, 1.0).astype("float32")
    return images, digits.target.astype("int32")
