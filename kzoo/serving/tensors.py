"""Data types, shapes and `TensorProto` conversion, as TF Serving sees them.

TF Serving names data types with TensorFlow's `DataTypeString` (`float`, not `float32`), prints
shapes as `[2,1]` (`[?]` for an unknown rank) and writes output tensors with
`Tensor::AsProtoField`: values go in the typed repeated field (`float_val`, `int64_val`,
`string_val`...), not in `tensor_content`, so clients that read `outputs["y"].float_val` work.

Example:

>>> import numpy as np
>>> proto = to_tensor_proto(np.array([[1.5, 2.0]], dtype=np.float32))
>>> list(proto.float_val), shape_string(shape_from_proto(proto.tensor_shape))
([1.5, 2.0], '[1,2]')
>>> from_tensor_proto(proto).tolist()
[[1.5, 2.0]]
"""

import math

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, types_pb2

from kzoo.serving.errors import invalid_argument

DT_STRING = types_pb2.DT_STRING

# TensorFlow's DataTypeString for the types a signature input or output can have.
_DTYPE_NAMES = {
    types_pb2.DT_FLOAT: "float",
    types_pb2.DT_DOUBLE: "double",
    types_pb2.DT_INT32: "int32",
    types_pb2.DT_UINT8: "uint8",
    types_pb2.DT_INT16: "int16",
    types_pb2.DT_INT8: "int8",
    types_pb2.DT_STRING: "string",
    types_pb2.DT_COMPLEX64: "complex64",
    types_pb2.DT_INT64: "int64",
    types_pb2.DT_BOOL: "bool",
    types_pb2.DT_BFLOAT16: "bfloat16",
    types_pb2.DT_UINT16: "uint16",
    types_pb2.DT_COMPLEX128: "complex128",
    types_pb2.DT_HALF: "half",
    types_pb2.DT_UINT32: "uint32",
    types_pb2.DT_UINT64: "uint64",
}

# Tensor::AsProtoField: the repeated field each data type's values go to.
_VALUE_FIELDS = {
    types_pb2.DT_FLOAT: "float_val",
    types_pb2.DT_DOUBLE: "double_val",
    types_pb2.DT_INT32: "int_val",
    types_pb2.DT_INT16: "int_val",
    types_pb2.DT_INT8: "int_val",
    types_pb2.DT_UINT8: "int_val",
    types_pb2.DT_UINT16: "int_val",
    types_pb2.DT_INT64: "int64_val",
    types_pb2.DT_BOOL: "bool_val",
    types_pb2.DT_STRING: "string_val",
    types_pb2.DT_UINT32: "uint32_val",
    types_pb2.DT_UINT64: "uint64_val",
}


def dtype_name(dtype):
    """Returns TensorFlow's name for a `DataType` enum value, e.g. `'float'` for `DT_FLOAT`.

    Example:

    >>> dtype_name(types_pb2.DT_FLOAT), dtype_name(types_pb2.DT_STRING)
    ('float', 'string')
    """
    if dtype in _DTYPE_NAMES:
        return _DTYPE_NAMES[dtype]
    try:
        return tf.dtypes.as_dtype(dtype).name
    except (TypeError, ValueError, KeyError):
        return types_pb2.DataType.Name(dtype) if dtype in types_pb2.DataType.values() else "?"


def numpy_dtype(dtype):
    """Returns the NumPy dtype holding values of a `DataType` (`object` for strings)."""
    if dtype == DT_STRING:
        return np.dtype(object)
    return np.dtype(tf.dtypes.as_dtype(dtype).as_numpy_dtype)


def dtype_enum(array):
    """Returns the `DataType` enum value of a NumPy array (`DT_STRING` for text or bytes)."""
    if array.dtype.kind in "OSU":
        return DT_STRING
    return tf.dtypes.as_dtype(array.dtype).as_datatype_enum


def shape_from_proto(shape):
    """Returns a `TensorShapeProto` as a tuple with -1 for unknown sizes, or None (unknown rank)."""
    if shape.unknown_rank:
        return None
    return tuple(dim.size for dim in shape.dim)


def shape_string(shape):
    """Formats a shape as TF Serving does in its messages: `[2,1]`, or `[?]` for unknown rank."""
    if shape is None:
        return "[?]"
    return "[" + ",".join(str(size) for size in shape) + "]"


def is_compatible(shape, expected):
    """Whether a concrete `shape` fits a signature's `expected` shape (-1 or None: any).

    Example:

    >>> is_compatible((3, 2), (-1, 2)), is_compatible((3,), (-1, 2)), is_compatible((3,), None)
    (True, False, True)
    """
    if expected is None:
        return True
    if len(shape) != len(expected):
        return False
    return all(want < 0 or want == got for got, want in zip(shape, expected))


def to_bytes(value):
    """Encodes a str as UTF-8 (raw bytes survive as surrogate escapes); bytes pass through."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, np.bytes_):
        return bytes(value)
    return encode_text(str(value))


def encode_text(text):
    """UTF-8 bytes of a str; undecodable bytes kept as surrogate escapes come back unchanged,
    and lone surrogates (from JSON `\\ud800` escapes) pass through as TensorFlow would see them.
    """
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def as_string_array(values):
    """Returns an object array of bytes from any array-like of str or bytes."""
    array = np.asarray(values, dtype=object)
    result = np.empty(array.size, dtype=object)
    result[:] = [to_bytes(value) for value in array.ravel()]
    return result.reshape(array.shape)


def to_tensor_proto(array, dtype=None, tensor_content=False):
    """Converts a NumPy array to a `TensorProto` with values in the typed field (AsProtoField),
    or in `tensor_content` (AsProtoTensorContent).

    Args:
        array: array-like. The values; strings become `DT_STRING`.
        dtype: `DataType` enum, optional. The type to convert to. Defaults to the array's own.
        tensor_content: bool. Write the values as little-endian bytes in `tensor_content`
            (strings, which have no such form, stay in `string_val`). Defaults to False.

    Returns:
        A `tensorflow.TensorProto`.
    """
    if dtype is None:
        array = np.asarray(array)
        dtype = dtype_enum(array)
    if dtype == DT_STRING:
        array = as_string_array(array)
    else:
        array = np.asarray(array, dtype=numpy_dtype(dtype))
    proto = tensor_pb2.TensorProto(dtype=dtype)
    for size in array.shape:
        proto.tensor_shape.dim.add().size = size
    field = _VALUE_FIELDS.get(dtype)
    if tensor_content and dtype != DT_STRING and array.dtype.kind in "biufc":
        proto.tensor_content = (
            np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes()
        )
    elif field is not None:
        getattr(proto, field).extend(array.ravel().tolist())
    elif dtype in (types_pb2.DT_HALF, types_pb2.DT_BFLOAT16):
        proto.half_val.extend(array.ravel().view(np.uint16).tolist())
    else:
        proto.CopyFrom(tf.make_tensor_proto(array, dtype=dtype))
    return proto


def from_tensor_proto(proto):
    """Converts a `TensorProto` to a NumPy array (strings as an object array of bytes).

    Raises:
        ServingError: INVALID_ARGUMENT when the proto does not describe a valid tensor.
    """
    shape = tuple(dim.size for dim in proto.tensor_shape.dim)
    if proto.tensor_shape.unknown_rank or any(size < 0 for size in shape):
        raise invalid_argument(f"Tensor shape {shape_string(shape)} is not fully defined")
    field = _VALUE_FIELDS.get(proto.dtype)
    if field is None or proto.tensor_content:
        try:
            return tf.make_ndarray(proto)
        except (TypeError, ValueError) as error:
            raise invalid_argument(f"Invalid tensor: {error}") from None
    values = getattr(proto, field)
    count = math.prod(shape)
    dtype = numpy_dtype(proto.dtype)
    if len(values) == count:
        flat = list(values)
    elif 0 < len(values) < count:
        # As TensorFlow reads a proto: the last value repeats to fill the shape.
        flat = list(values) + [values[-1]] * (count - len(values))
    elif not values:
        flat = [b""] * count if proto.dtype == DT_STRING else [0] * count
    else:
        raise invalid_argument(
            f"Tensor of shape {shape_string(shape)} has {len(values)} values in {field}"
        )
    if proto.dtype == DT_STRING:
        array = np.empty(count, dtype=object)
        array[:] = flat
        return array.reshape(shape)
    return np.array(flat, dtype=dtype).reshape(shape)
