"""Reading images: an `.npz`/`.npy` array or a folder of PNG, JPEG, GIF or BMP files.

Whatever the source, `read_images` returns float32 `(N, H, W, C)` pixels in [0, 1], and a bad
value range, shape or file raises `DataFileError` naming it.
"""

import os

import numpy as np
import tensorflow as tf

from kzoo.data.text_files import DataFileError, _path, _read_bytes

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp")
NPZ_IMAGE_KEYS = ("images", "x", "x_train")


def _scale_images(array, where):
    if array.ndim == 3:
        array = array[..., np.newaxis]
    if array.ndim != 4:
        raise DataFileError(
            f"{where} has shape {array.shape}. Expected images of shape (N, H, W) or (N, H, W, C)."
        )
    if array.size == 0:
        raise DataFileError(f"{where} holds no images (shape {array.shape}).")
    if np.issubdtype(array.dtype, np.integer) or array.dtype == bool:
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > 255:
            raise DataFileError(
                f"{where} holds integers in [{low}, {high}]. Expected pixel values in [0, 255]."
            )
        return array.astype("float32") / 255.0
    if np.issubdtype(array.dtype, np.floating):
        low, high = float(array.min()), float(array.max())
        if not (np.isfinite(low) and np.isfinite(high)) or low < 0.0 or high > 1.0:
            raise DataFileError(
                f"{where} holds floats in [{low}, {high}]. Expected float pixel values in "
                "[0, 1] or uint8 values in [0, 255]."
            )
        return array.astype("float32")
    raise DataFileError(f"{where} has dtype {array.dtype}. Expected uint8 or float images.")


def _read_npz_images(path):
    try:
        loaded = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataFileError(f"Cannot read {path}: no such file.") from None
    except (OSError, ValueError, EOFError) as error:
        raise DataFileError(f"Cannot read {path} as a NumPy .npz/.npy file: {error}") from None
    if isinstance(loaded, np.ndarray):  # a .npy file holds one array
        return _scale_images(loaded, path)
    with loaded as arrays:
        names = list(arrays.keys())
        key = next((k for k in NPZ_IMAGE_KEYS if k in names), None)
        if key is None and len(names) == 1:
            key = names[0]
        if key is None:
            raise DataFileError(
                f"{path} has no array named {' or '.join(map(repr, NPZ_IMAGE_KEYS))} and "
                f"{len(names)} arrays: {names}. Save the images under the name 'images'."
            )
        try:
            array = arrays[key]
        except (OSError, ValueError, EOFError) as error:
            raise DataFileError(f"Cannot read array {key!r} of {path}: {error}") from None
        return _scale_images(array, f"Array {key!r} of {path}")


def _read_image_folder(path):
    files = sorted(
        entry.name
        for entry in os.scandir(path)
        if entry.is_file() and entry.name.lower().endswith(IMAGE_SUFFIXES)
    )
    if not files:
        raise DataFileError(
            f"{path} contains no image files. Expected PNG, JPEG, GIF or BMP files "
            f"({', '.join(IMAGE_SUFFIXES)})."
        )
    images, first = [], None
    for name in files:
        file_path = os.path.join(path, name)
        data = _read_bytes(file_path)
        try:
            image = tf.io.decode_image(data, expand_animations=False).numpy()
        except (tf.errors.OpError, ValueError) as error:
            reason = getattr(error, "message", str(error)).splitlines()[0]
            raise DataFileError(f"Cannot decode image {file_path}: {reason}") from None
        if first is None:
            first = (name, image.shape)
        elif image.shape != first[1]:
            raise DataFileError(
                f"Image {file_path} has shape {image.shape}, but {first[0]} (the first image) has "
                f"shape {first[1]}. All images in a folder must have the same height, width "
                "and channels."
            )
        images.append(image)
    return _scale_images(np.stack(images), path)


def read_images(path):
    """Reads images into a float32 array `(N, H, W, C)` scaled to [0, 1].

    From an `.npz` file, the array named `images`, else `x`, else `x_train`, else the only
    array is used (an `.npy` file holds just one). Integer pixels in [0, 255] are divided by
    255; float pixels must already lie in [0, 1]. Arrays of shape `(N, H, W)` get a channel
    axis.

    From a folder, every PNG, JPEG, GIF or BMP file in it (not in subfolders) is decoded with
    `tf.io.decode_image`, in file-name order. All must share a shape; grayscale files give one
    channel, colour files three.

    Args:
        path: str or path-like. An `.npz`/`.npy` file or a folder of images.

    Returns:
        A float32 `numpy.ndarray` of shape `(N, H, W, C)` with values in [0, 1].

    Raises:
        DataFileError: the file or folder cannot be read, no array or image is found, values
            are out of range, or an image's shape differs from the first one's (the message
            names the odd file).

    Example:

    >>> import os, tempfile
    >>> import numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "digits.npz")
    >>> np.savez(path, x_train=np.full((2, 3, 3), 255, dtype="uint8"), y_train=np.array([0, 1]))
    >>> images = read_images(path)
    >>> images.shape, images.dtype, float(images.max())
    ((2, 3, 3, 1), dtype('float32'), 1.0)
    """
    path = _path(path)
    if os.path.isdir(path):
        return _read_image_folder(path)
    return _read_npz_images(path)


__all__ = ["read_images"]
