"""JSON ↔ tensors for the REST API, with TF Serving's formats, checks and messages.

This is kzoo's reading of TF Serving's `tensorflow_serving/util/json_tensor.cc` and of the REST
API document (`tensorflow_serving/g3doc/api_rest.md`):

- A predict request is a JSON object with an optional `signature_name` and either `instances`
  (row format: one item per example, objects when the signature has several inputs) or
  `inputs` (columnar format: one tensor, or an object of named tensors). Not both.
- Values are checked against the signature's data types: a float input takes JSON numbers, an
  integer input only whole numbers, a string input strings or `{"b64": "<base64>"}` for bytes.
  Lists must be dense: every item of the same shape, every nested list of the same length.
- A row request answers `{"predictions": [...]}` (a list of objects when there are several
  outputs), a columnar one `{"outputs": ...}`. String outputs whose name ends in `_bytes` are
  written as `{"b64": ...}`. Floats are written as TF Serving writes them: six significant digits
  when that reads back to the same value, full precision otherwise, `.0` on whole numbers, and
  `NaN`/`Infinity` tokens.
- Errors are INVALID_ARGUMENT with TF Serving's messages (`JSON Parse error: ...`,
  `... is not of expected type: float`, `Expecting tensor size: 2 but got: 1`...).

Example:

>>> from tensorflow.core.framework import types_pb2
>>> request = parse_predict_request(
...     b'{"instances": [[1.0, 2.0], [3.0, 4.0]]}', lambda signature: {"x": types_pb2.DT_FLOAT}
... )
>>> request.format, request.signature_name, request.inputs["x"].shape
('row', '', (2, 2))
>>> import numpy as np
>>> make_predict_response({"y": np.array([0.5, 3.0], np.float32)}, "row")
b'{"predictions": [0.5, 3.0]}'
>>> try:
...     parse_predict_request(b'{"instances": ["a"]}', lambda s: {"x": types_pb2.DT_FLOAT})
... except Exception as error:
...     print(error.message)
Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: JSON Value: "a" ...
"""

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass

import numpy as np
from tensorflow.core.example import example_pb2, feature_pb2
from tensorflow.core.framework import types_pb2

from kzoo.serving.errors import ServingError, invalid_argument
from kzoo.serving.tensors import dtype_name, encode_text, numpy_dtype, shape_string

ROW = "row"
COLUMNAR = "columnar"

_BASE64_KEY = "b64"
_BYTES_SUFFIX = "_bytes"
_FLOAT_MAX = float(np.finfo(np.float32).max)
_DOUBLE_MAX = float(np.finfo(np.float64).max)
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_UINT32 = (0, 2**32 - 1)
_UINT64 = (0, 2**64 - 1)
# Error messages quote JSON values; a huge request should not make a huge error.
_MAX_QUOTED_CHARS = 65536


@dataclass
class PredictJsonRequest:
    """A parsed REST predict request.

    Attributes:
        signature_name: str. The requested signature, `""` for the default.
        inputs: dict. Input name → NumPy array (strings as object arrays of bytes).
        format: str. `"row"` for `instances`, `"columnar"` for `inputs`.
    """

    signature_name: str
    inputs: dict
    format: str


# === Parsing ===


def _error_context(text, position):
    """The innermost JSON container open at `position`: '{', '[' or None."""
    stack = []
    in_string = escaped = False
    for char in text[:position]:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            stack.append(char)
        elif char in "}]" and stack:
            stack.pop()
    return stack[-1] if stack else None


def _rapidjson_message(error, text):
    """Words a Python JSON error as rapidjson's GetParseError_En does (TF Serving's parser)."""
    message = error.msg
    if message.startswith("Expecting value"):
        if not text.strip(" \t\r\n"):
            return "The document is empty."
        return "Invalid value."
    if message.startswith("Expecting property name"):
        return "Missing a name for object member."
    if message.startswith("Expecting ':'"):
        return "Missing a colon after a name of object member."
    if message.startswith("Expecting ','"):
        if _error_context(text, error.pos) == "[":
            return "Missing a comma or ']' after an array element."
        return "Missing a comma or '}' after an object member."
    if message.startswith("Extra data"):
        return "The document root must not be followed by other values."
    if message.startswith("Unterminated string"):
        return "Missing a closing quotation mark in string."
    if message.startswith("Invalid control character"):
        return "Invalid encoding in string."
    if message.startswith("Invalid \\uXXXX"):
        return "Incorrect hex digit after \\u escape in string."
    if message.startswith("Invalid \\escape"):
        return "Invalid escape character in string."
    return message + "."


def parse_json(body):
    """Parses a request body into a JSON object, with TF Serving's parse errors.

    Args:
        body: bytes or str. The request body. Bytes that are not UTF-8 pass into strings
            unchanged, as they do through TF Serving's parser.

    Returns:
        The parsed object (a dict).

    Raises:
        ServingError: INVALID_ARGUMENT, e.g. `JSON Parse error: Invalid value. at offset: 0`.

    Example:

    >>> parse_json(b'{"instances": [1, NaN]}')
    {'instances': [1, nan]}
    >>> try:
    ...     parse_json(b"instances = [1, 2]")
    ... except ServingError as error:
    ...     print(error.message)
    JSON Parse error: Invalid value. at offset: 0
    """
    if not body:
        raise invalid_argument("JSON Parse error: The document is empty")
    text = body.decode("utf-8", "surrogateescape") if isinstance(body, bytes) else body
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise invalid_argument(
            f"JSON Parse error: {_rapidjson_message(error, text)} at offset: {error.pos}"
        ) from None
    except RecursionError:
        raise invalid_argument("JSON Parse error: The document is nested too deeply.") from None
    if type(document) is not dict:
        raise _format_error(document, "Is not object")
    return document


# === Quoting JSON values in messages (rapidjson's PrettyWriter) ===


def format_decimal(value, single_precision):
    """Writes a float as TF Serving does: `%g`, full precision if needed, `.0`, `NaN`/`Infinity`.

    Example:

    >>> format_decimal(3.0, True), format_decimal(0.1, True), format_decimal(1 / 3, False)
    ('3.0', '0.1', '0.33333333333333331')
    >>> format_decimal(float("nan"), True), format_decimal(-float("inf"), False)
    ('NaN', '-Infinity')
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "-Infinity" if value < 0 else "Infinity"
    text = f"{value:g}"
    if single_precision:
        if np.float32(float(text)) != np.float32(value):
            text = f"{value:.9g}"
    elif float(text) != value:
        text = f"{value:.17g}"
    if "." not in text and "e" not in text:
        text += ".0"
    return text


def _format_floats(values, single_precision):
    """`format_decimal` over a 1-D float array, vectorised for large outputs."""
    python_values = values.tolist()
    texts = [f"{value:g}" for value in python_values]
    read_back = np.array(texts, dtype=np.float64)
    if single_precision:
        read_back = read_back.astype(np.float32)
    rewrite = np.flatnonzero((read_back != values) | ~np.isfinite(values))
    texts = [text if "." in text or "e" in text else text + ".0" for text in texts]
    for index in rewrite:
        texts[index] = format_decimal(python_values[index], single_precision)
    return texts


def _scalar_to_string(value):
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is float:
        if math.isnan(value) or math.isinf(value):
            return format_decimal(value, False)
        # rapidjson writes exponents without '+' or leading zeros: 1e30, 1e-7.
        return re.sub(r"e\+?(-?)0*(\d)", r"e\1\2", repr(value))
    if type(value) is str:
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _pretty(value, depth):
    if type(value) is dict:
        if not value:
            return "{}"
        indent = "    " * (depth + 1)
        members = (
            f"{indent}{json.dumps(key, ensure_ascii=False)}: {_pretty(item, depth + 1)}"
            for key, item in value.items()
        )
        return "{\n" + ",\n".join(members) + "\n" + "    " * depth + "}"
    if type(value) is list:
        if not value:
            return "[]"
        indent = "    " * (depth + 1)
        items = (indent + _pretty(item, depth + 1) for item in value)
        return "[\n" + ",\n".join(items) + "\n" + "    " * depth + "]"
    return _scalar_to_string(value)


def json_value_to_string(value):
    """Quotes a parsed JSON value in an error message, as TF Serving's JsonValueToString does.

    Example:

    >>> print(json_value_to_string({"instances": [1, "a"]}))
    {
        "instances": [
            1,
            "a"
        ]
    }
    >>> json_value_to_string(0.5), json_value_to_string(True)
    ('0.5', 'true')
    """
    if type(value) is float:
        # A top-level decimal is written with WriteDecimal: as a float if it fits one.
        text = format_decimal(value, abs(value) <= _FLOAT_MAX or not math.isfinite(value))
    else:
        text = _pretty(value, 0)
    if len(text) > _MAX_QUOTED_CHARS:
        text = text[:_MAX_QUOTED_CHARS] + "..."
    return text


def _json_type(value):
    if value is None:
        return "Null"
    if value is True:
        return "True"
    if value is False:
        return "False"
    if type(value) is dict:
        return "Object"
    if type(value) is list:
        return "Array"
    if type(value) is str:
        return "String"
    return "Number"


def _format_error(value, *parts):
    return invalid_argument(f"JSON Value: {json_value_to_string(value)} " + "".join(parts))


def _type_error(value, dtype):
    return invalid_argument(
        f"JSON Value: {json_value_to_string(value)} Type: {_json_type(value)} "
        f"is not of expected type: {dtype_name(dtype)}"
    )


# === JSON values → tensor values ===


def _is_base64_object(value):
    return (
        type(value) is dict
        and len(value) == 1
        and _BASE64_KEY in value
        and type(value[_BASE64_KEY]) is str
    )


def decode_base64_object(value):
    """Decodes `{"b64": "<base64>"}` to bytes, with TF Serving's errors.

    Example:

    >>> decode_base64_object({"b64": "aGVsbG8="})
    b'hello'
    """
    if not _is_base64_object(value):
        raise _format_error(value, "not formatted correctly for base64 data")
    text = value[_BASE64_KEY]
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise invalid_argument("Unable to base64 decode") from None


def _is_lossless(value, max_integer, max_decimal):
    if type(value) is int and -(2**64) < value < 2**64:
        return abs(value) <= max_integer
    number = float(value) if type(value) is int else value
    return not math.isfinite(number) or -max_decimal <= number <= max_decimal


def _decimal_converter(dtype, target, max_integer, max_decimal):
    def convert(value):
        kind = type(value)
        if kind is not float and kind is not int:
            raise _type_error(value, dtype)
        if not _is_lossless(value, max_integer, max_decimal):
            raise invalid_argument(
                f"Cannot convert JSON value: {json_value_to_string(value)} to {target} "
                "without loss of precision."
            )
        return value

    return convert


def _integer_converter(dtype, low, high):
    def convert(value):
        if type(value) is not int or not low <= value <= high:
            raise _type_error(value, dtype)
        return value

    return convert


def _convert_bool(value):
    if type(value) is not bool:
        raise _type_error(value, types_pb2.DT_BOOL)
    return value


def _convert_string(value):
    if type(value) is not str:
        raise _type_error(value, types_pb2.DT_STRING)
    return encode_text(value)


_FLOAT_CONVERTER_ARGS = (2**24 - 1, _FLOAT_MAX)
_CONVERTERS = {
    types_pb2.DT_FLOAT: _decimal_converter(types_pb2.DT_FLOAT, "float", *_FLOAT_CONVERTER_ARGS),
    types_pb2.DT_HALF: _decimal_converter(types_pb2.DT_HALF, "float", *_FLOAT_CONVERTER_ARGS),
    types_pb2.DT_BFLOAT16: _decimal_converter(
        types_pb2.DT_BFLOAT16, "float", *_FLOAT_CONVERTER_ARGS
    ),
    types_pb2.DT_DOUBLE: _decimal_converter(types_pb2.DT_DOUBLE, "double", 2**53 - 1, _DOUBLE_MAX),
    types_pb2.DT_INT32: _integer_converter(types_pb2.DT_INT32, *_INT32),
    types_pb2.DT_INT16: _integer_converter(types_pb2.DT_INT16, *_INT32),
    types_pb2.DT_INT8: _integer_converter(types_pb2.DT_INT8, *_INT32),
    types_pb2.DT_UINT8: _integer_converter(types_pb2.DT_UINT8, *_INT32),
    types_pb2.DT_UINT16: _integer_converter(types_pb2.DT_UINT16, *_INT32),
    types_pb2.DT_INT64: _integer_converter(types_pb2.DT_INT64, *_INT64),
    types_pb2.DT_UINT32: _integer_converter(types_pb2.DT_UINT32, *_UINT32),
    types_pb2.DT_UINT64: _integer_converter(types_pb2.DT_UINT64, *_UINT64),
    types_pb2.DT_BOOL: _convert_bool,
    types_pb2.DT_STRING: _convert_string,
}


def _converter(dtype):
    convert = _CONVERTERS.get(dtype)
    if convert is None:

        def convert(value):
            raise ServingError(
                "UNIMPLEMENTED",
                f"Conversion of JSON Value: {json_value_to_string(value)} "
                f"to type: {dtype_name(dtype)}",
            )

    return convert


def _leaf(value, dtype, convert):
    if type(value) is dict:
        if dtype == types_pb2.DT_STRING:
            return decode_base64_object(value)
        raise _type_error(value, dtype)
    return convert(value)


def _dense_shape(value):
    """The shape a JSON value implies, read along first elements (GetDenseTensorShape)."""
    shape = []
    while type(value) is list:
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape


def _fill(value, level, shape, dtype, convert, out):
    """Appends the leaves of `value` to `out`, checking it is dense (FillTensorProto)."""
    rank = len(shape)
    if type(value) is not list:
        if level != rank:
            raise invalid_argument(
                f"JSON Value: {json_value_to_string(value)} found at incorrect level: "
                f"{level + 1} in the JSON DOM. Expected at level: {rank}"
            )
        out.append(_leaf(value, dtype, convert))
        return
    if level >= rank:
        raise invalid_argument(f"Encountered list at unexpected level: {level} expected < {rank}")
    if len(value) != shape[level]:
        raise invalid_argument(
            f"Encountered list at unexpected size: {len(value)} at level: {level} "
            f"expected size: {shape[level]}"
        )
    if level + 1 < rank:
        for item in value:
            _fill(item, level + 1, shape, dtype, convert, out)
        return
    for item in value:
        if type(item) is list:
            raise invalid_argument(
                f"Encountered list at unexpected level: {level + 1} expected < {rank}"
            )
        out.append(_leaf(item, dtype, convert))


def _to_array(values, shape, dtype):
    if dtype == types_pb2.DT_STRING:
        array = np.empty(len(values), dtype=object)
        array[:] = values
        return array.reshape(shape)
    target = numpy_dtype(dtype)
    if target.kind in "iu" and target.itemsize < 4:
        # TF Serving stores these in int_val; narrowing wraps as a C cast does.
        return np.array(values, dtype=np.int64).astype(target).reshape(shape)
    return np.array(values, dtype=target).reshape(shape)


def _tensor_from_value(value, dtype):
    """A whole tensor from one JSON value (columnar inputs)."""
    shape = _dense_shape(value)
    values = []
    _fill(value, 0, shape, dtype, _converter(dtype), values)
    return _to_array(values, shape, dtype)


class _InstanceTensor:
    """Accumulates one named input over the `instances` list (AddInstanceItem)."""

    def __init__(self, dtype):
        self.dtype = dtype
        self.convert = _converter(dtype)
        self.values = []
        self.size = None
        self.shape = None

    def add(self, item):
        shape = _dense_shape(item)
        values = []
        _fill(item, 0, shape, self.dtype, self.convert, values)
        if self.size is None:
            self.size, self.shape = len(values), shape
        elif self.size != len(values):
            raise invalid_argument(f"Expecting tensor size: {self.size} but got: {len(values)}")
        elif self.shape != shape:
            raise invalid_argument(
                f"Expecting shape {shape_string(self.shape)} but got: {shape_string(shape)}"
            )
        self.values.extend(values)

    def array(self, count):
        return _to_array(self.values, [count, *self.shape], self.dtype)


def _inputs_from_instances(instances, dtypes):
    """Row format: one item per example, objects keyed by input name when there are several."""
    if type(instances[0]) is not dict and len(dtypes) > 1:
        raise invalid_argument(
            "instances is a plain list, but expecting list of objects as multiple input tensors "
            "required as per tensorinfo_map"
        )

    def is_element_object(value):
        return type(value) is dict and not _is_base64_object(value)

    elements_are_objects = is_element_object(instances[0])
    input_names = sorted(dtypes)
    tensors = {}
    for index, element in enumerate(instances):
        if elements_are_objects:
            if not is_element_object(element):
                raise invalid_argument(
                    f"Expecting object but got list at item {index} of input list"
                )
            for name, item in element.items():
                try:
                    if name not in dtypes:
                        raise invalid_argument(f"JSON object: does not have named input: {name}")
                    tensors.setdefault(name, _InstanceTensor(dtypes[name])).add(item)
                except ServingError as error:
                    raise invalid_argument(
                        f"Failed to process element: {index} key: {name} of 'instances' list. "
                        f"Error: {error}"
                    ) from None
            if sorted(element) != input_names:
                raise invalid_argument(
                    f"Failed to process element: {index} of 'instances' list. JSON object: "
                    f"{json_value_to_string(element)} must only have keys: " + ",".join(input_names)
                )
        else:
            if is_element_object(element):
                raise invalid_argument(
                    f"Expecting value/list but got object at item {index} of input list"
                )
            name = input_names[0]
            try:
                tensors.setdefault(name, _InstanceTensor(dtypes[name])).add(element)
            except ServingError as error:
                raise invalid_argument(
                    f"Failed to process element: {index} of 'instances' list. Error: {error}"
                ) from None
    return {name: tensor.array(len(instances)) for name, tensor in tensors.items()}


def _inputs_from_columns(value, dtypes, limits):
    """Columnar format: one tensor, or an object of named tensors."""
    if type(value) is not dict or _is_base64_object(value):
        if len(dtypes) > 1:
            raise invalid_argument(
                "inputs is a plain value/list, but expecting an object as multiple input tensors "
                "required as per tensorinfo_map"
            )
        name, dtype = next(iter(dtypes.items()))
        values = {name: value}
    else:
        values = {}
        for name in sorted(dtypes):
            if name not in value:
                raise invalid_argument(f"Missing named input: {name} in 'inputs' object.")
            values[name] = value[name]
    if limits is not None:
        limits.check_shapes({name: _dense_shape(item) for name, item in values.items()})
    return {name: _tensor_from_value(item, dtypes[name]) for name, item in values.items()}


def _instance_elements(instance):
    """The tensor elements one item of `instances` holds (all its named inputs)."""
    if type(instance) is dict and not _is_base64_object(instance):
        return sum(math.prod(_dense_shape(item)) for item in instance.values())
    return math.prod(_dense_shape(instance))


def _signature_name(document):
    name = document.get("signature_name", "")
    if type(name) is not str:
        raise _format_error(
            document, "not formatted correctly. 'signature_name' key must be a string value."
        )
    return name


def parse_predict_request(body, input_dtypes, limits=None):
    """Parses a REST predict body into named input arrays (TF Serving's FillPredictRequestFromJson).

    Args:
        body: bytes. The request body.
        input_dtypes: callable. `input_dtypes(signature_name)` returns the signature's inputs as
            a dict name → `DataType` enum value (it raises the model's or signature's lookup
            errors, which happen after the body is parsed, as in TF Serving).
        limits: `RequestLimits`, optional. Instances and elements allowed, checked before the
            arrays are built.

    Returns:
        A `PredictJsonRequest`.

    Raises:
        ServingError: INVALID_ARGUMENT for a malformed body, or what `input_dtypes` raises.
    """
    document = parse_json(body)
    signature_name = _signature_name(document)
    dtypes = input_dtypes(signature_name)
    if not dtypes:
        raise invalid_argument(
            f"Failed to get input map for signature: {signature_name or 'DEFAULT'}"
        )
    if "instances" in document:
        if "inputs" in document:
            raise _format_error(
                document,
                "Not formatted correctly expecting only one of 'inputs' or 'instances' keys to "
                "exist ",
            )
        instances = document["instances"]
        if type(instances) is not list:
            raise _format_error(document, "Excepting 'instances' to be an list/array")
        if not instances:
            raise _format_error(document, "No values in 'instances' array")
        if limits is not None:
            limits.check_instances(len(instances))
            # Every instance must have the first one's size, so this is the request's count.
            limits.check_elements(len(instances) * _instance_elements(instances[0]))
        return PredictJsonRequest(signature_name, _inputs_from_instances(instances, dtypes), ROW)
    if "inputs" in document:
        return PredictJsonRequest(
            signature_name, _inputs_from_columns(document["inputs"], dtypes, limits), COLUMNAR
        )
    raise invalid_argument("Missing 'inputs' or 'instances' key")


# === Tensors → JSON ===


def _nest(texts, shape):
    if len(shape) == 1:
        return "[" + ", ".join(texts) + "]"
    step = math.prod(shape[1:])
    return (
        "["
        + ", ".join(_nest(texts[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0]))
        + "]"
    )


def _value_texts(flat, name):
    """JSON texts for the values of a flattened output tensor."""
    kind = flat.dtype.kind
    if kind == "f":
        single = flat.dtype.itemsize <= 4
        return _format_floats(flat.astype(np.float32) if single else flat, single)
    if kind == "V" and flat.dtype.itemsize == 2:  # bfloat16
        return _format_floats(flat.astype(np.float32), True)
    if kind in "iu":
        return [str(value) for value in flat.tolist()]
    if kind == "b":
        return ["true" if value else "false" for value in flat.tolist()]
    if kind in "OSU":
        values = [value if isinstance(value, bytes) else str(value).encode() for value in flat]
        if name.endswith(_BYTES_SUFFIX):
            return [
                '{"b64": "' + base64.b64encode(value).decode("ascii") + '"}' for value in values
            ]
        return [
            json.dumps(value.decode("utf-8", "surrogateescape"), ensure_ascii=False)
            for value in values
        ]
    raise invalid_argument(f"Failed to write JSON value for tensor type: {flat.dtype}")


def _tensor_json(array, name):
    """JSON text of a tensor."""
    texts = _value_texts(array.ravel(), name)
    if array.ndim == 0:
        return texts[0]
    return _nest(texts, array.shape)


def make_predict_response(outputs, response_format):
    """Writes predict outputs as TF Serving's REST API does (MakeJsonFromTensors).

    Args:
        outputs: dict. Output name → NumPy array.
        response_format: str. `"row"` (`predictions`) or `"columnar"` (`outputs`).

    Returns:
        The UTF-8 response body (raw bytes of non-UTF-8 strings are written unchanged).

    Example:

    >>> import numpy as np
    >>> outputs = {"n": np.array([2, 3]), "raw_bytes": np.array([b"hi", b"yo"], dtype=object)}
    >>> print(make_predict_response(outputs, "row").decode())
    {"predictions": [{"n": 2, "raw_bytes": {"b64": "aGk="}}, {"n": 3, "raw_bytes": {"b64": ...}}]}
    >>> print(make_predict_response(outputs, "columnar").decode())
    {"outputs": {"n": [2, 3], "raw_bytes": [{"b64": "aGk="}, {"b64": "eW8="}]}}
    """
    if not outputs:
        raise invalid_argument("Cannot convert empty tensor map to JSON")
    names = sorted(outputs)
    arrays = {name: np.asarray(outputs[name]) for name in names}
    if response_format == COLUMNAR:
        if len(names) == 1:
            body = _tensor_json(arrays[names[0]], names[0])
        else:
            members = ", ".join(
                f"{json.dumps(name)}: {_tensor_json(arrays[name], name)}" for name in names
            )
            body = "{" + members + "}"
        text = '{"outputs": ' + body + "}"
    elif response_format == ROW:
        batch_size = 0
        for name in names:
            array = arrays[name]
            if array.ndim == 0:
                raise invalid_argument(f"Tensor name: {name} has no shape information ")
            if array.shape[0] < 1:
                raise invalid_argument(
                    f"Tensor name: {name} has invalid batch size: {array.shape[0]}"
                )
            if batch_size and batch_size != array.shape[0]:
                raise invalid_argument(
                    f"Tensor name: {name} has inconsistent batch size: {array.shape[0]} "
                    f"expecting: {batch_size}"
                )
            batch_size = array.shape[0]
        if len(names) == 1:
            name = names[0]
            items = _tensor_json(arrays[name], name)[1:-1]
            text = '{"predictions": [' + items + "]}"
        else:
            rows = []
            per_name = {name: _row_texts(arrays[name], name) for name in names}
            for index in range(batch_size):
                members = ", ".join(
                    f"{json.dumps(name)}: {per_name[name][index]}" for name in names
                )
                rows.append("{" + members + "}")
            text = '{"predictions": [' + ", ".join(rows) + "]}"
    else:
        raise invalid_argument("Invalid request format")
    return encode_text(text)


def _row_texts(array, name):
    """JSON text of each item along the first dimension."""
    texts = _value_texts(array.ravel(), name)
    item_shape = array.shape[1:]
    step = math.prod(item_shape)
    if not item_shape:
        return texts
    return [_nest(texts[i * step : (i + 1) * step], item_shape) for i in range(array.shape[0])]


def error_body(message):
    """The REST error body: `{"error": "<message>"}` (MakeJsonFromStatus).

    Example:

    >>> error_body("Could not find any versions of model nope")
    b'{"error": "Could not find any versions of model nope"}'
    """
    text = json.dumps({"error": message}, ensure_ascii=False)
    return encode_text(text)


# === Classify and regress (tf.Example requests) ===

_FEATURE_KIND_NAMES = {"bytes_list": "bytes", "float_list": "float", "int64_list": "int64"}


def _add_to_feature(value, name, feature):
    def check_kind(kind):
        current = feature.WhichOneof("kind")
        if current is not None and current != kind:
            raise invalid_argument(
                f"Unexpected element type in feature: {name} expecting type: "
                f"{_FEATURE_KIND_NAMES[current]}"
            )

    kind = type(value)
    if kind is bool:
        check_kind("int64_list")
        feature.int64_list.value.append(int(value))
    elif kind is dict:
        if not _is_base64_object(value):
            raise invalid_argument(f"Feature: {name} has element with unexpected JSON type: Object")
        check_kind("bytes_list")
        feature.bytes_list.value.append(decode_base64_object(value))
    elif kind is str:
        check_kind("bytes_list")
        feature.bytes_list.value.append(_convert_string(value))
    elif kind is float or (kind is int and abs(value) >= 2**64):
        check_kind("float_list")
        if not _is_lossless(value, 2**24 - 1, _FLOAT_MAX):
            raise invalid_argument(
                f"Cannot convert JSON value: {json_value_to_string(value)} to float without "
                "loss of precision."
            )
        feature.float_list.value.append(value)
    elif kind is int:
        check_kind("int64_list")
        if value > _INT64[1]:
            raise invalid_argument(f"Feature: {name} has uint64 element. Only int64 is supported.")
        feature.int64_list.value.append(value)
    else:
        raise invalid_argument(
            f"Feature: {name} has element with unexpected JSON type: {_json_type(value)}"
        )


def example_from_json(value):
    """Builds a `tf.train.Example` from a JSON object of features (MakeExampleFromJsonObject).

    Example:

    >>> example = example_from_json({"x": 1.5, "tags": ["a", "b"], "n": [1, 2]})
    >>> example.features.feature["tags"].bytes_list.value
    [b'a', b'b']
    """
    if type(value) is not dict:
        raise invalid_argument(f"Example must be JSON object but got JSON {_json_type(value)}")
    example = example_pb2.Example()
    for name, content in value.items():
        feature = feature_pb2.Feature()
        for item in content if type(content) is list else [content]:
            if type(item) is list or item is None:
                raise invalid_argument(
                    f"Feature: {name} has element with unexpected JSON type: {_json_type(item)}"
                )
            _add_to_feature(item, name, feature)
        example.features.feature[name].CopyFrom(feature)
    return example


def parse_examples_request(body, limits=None):
    """Parses a REST classify or regress body (FillClassifyRegressRequestFromJson).

    Args:
        body: bytes. `{"signature_name": ..., "context": {...}, "examples": [{...}, ...]}`.
        limits: `RequestLimits`, optional. The number of examples allowed, checked before they
            are built.

    Returns:
        A tuple `(signature_name, examples, context)`: the examples as `tf.train.Example`s and
        the shared context as one (or None).
    """
    document = parse_json(body)
    signature_name = _signature_name(document)
    context = None
    if "context" in document:
        context = example_from_json(document["context"])
    if "examples" not in document:
        # TF Serving says "classify" for both methods.
        raise _format_error(
            document, "When method is classify, key 'examples' is expected and was not found"
        )
    examples = document["examples"]
    if type(examples) is not list:
        raise _format_error(document, "Expecting 'examples' value to be an list/array")
    if not examples:
        raise _format_error(document, "'examples' value is an empty array")
    if limits is not None:
        limits.check_instances(len(examples))
    return signature_name, [example_from_json(item) for item in examples], context


def make_classify_response(classes, scores):
    """`{"results": [[[label, score], ...], ...]}` from per-example labels and scores."""
    rows = []
    for labels, values in zip(classes, scores):
        pairs = (
            f"[{json.dumps(label.decode('utf-8', 'surrogateescape'), ensure_ascii=False)}, "
            f"{format_decimal(float(value), True)}]"
            for label, value in zip(labels, values)
        )
        rows.append("[" + ", ".join(pairs) + "]")
    return encode_text('{"results": [' + ", ".join(rows) + "]}")


def make_regress_response(values):
    """`{"results": [value, ...]}` from one regression value per example."""
    texts = (format_decimal(float(value), True) for value in values)
    return ('{"results": [' + ", ".join(texts) + "]}").encode("utf-8")
