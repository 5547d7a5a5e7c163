"""JSON values as TF Serving's REST API reads, quotes and converts them (rapidjson's ways).

The pieces of `tensorflow_serving/util/json_tensor.cc` that every request shares, so that
kzoo's messages are TF Serving's to the character:

- `parse_json`: a request body to a JSON object, with rapidjson's parse errors
  (`JSON Parse error: Invalid value. at offset: 0`).
- `json_value_to_string`: a JSON value quoted in an error message as rapidjson's PrettyWriter
  writes it; `format_decimal`: floats as TF Serving writes them (`%g` when that reads back,
  full precision otherwise, `.0` on whole numbers, `NaN`/`Infinity`).
- `converter`: JSON values to the elements of a tensor of a given `DataType`, with TF Serving's
  type and precision errors; `decode_base64_object` for `{"b64": "<base64>"}` bytes.
- `error_body`: the REST error answer, `{"error": "<message>"}`.

The predict API's formats are in `json_predict`, classify and regress in `json_examples`.

Example:

>>> from tensorflow.core.framework import types_pb2
>>> parse_json(b'{"instances": [1.5]}')
{'instances': [1.5]}
>>> to_int = converter(types_pb2.DT_INT32)
>>> try:
...     to_int(1.5)
... except ServingError as error:
...     print(error.message)
JSON Value: 1.5 Type: Number is not of expected type: int32
"""

import base64
import binascii
import json
import math
import re

import numpy as np
from tensorflow.core.framework import types_pb2

from kzoo.serving.errors import ServingError, invalid_argument
from kzoo.serving.tensors import dtype_name, encode_text

_BASE64_KEY = "b64"
_FLOAT_MAX = float(np.finfo(np.float32).max)
_DOUBLE_MAX = float(np.finfo(np.float64).max)
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_UINT32 = (0, 2**32 - 1)
_UINT64 = (0, 2**64 - 1)
# Error messages quote JSON values; a huge request should not make a huge error.
_MAX_QUOTED_CHARS = 65536


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
        raise format_error(document, "Is not object")
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


def format_floats(values, single_precision):
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


def json_type(value):
    """The name rapidjson gives a JSON value's type in messages: `Number`, `String`, `Array`...

    Example:

    >>> json_type([1]), json_type("a"), json_type(None), json_type(2.5)
    ('Array', 'String', 'Null', 'Number')
    """
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


def format_error(value, *parts):
    """INVALID_ARGUMENT `JSON Value: <value quoted> <parts>`: a value of the wrong form.

    Example:

    >>> format_error([], "Is not object").message
    'JSON Value: [] Is not object'
    """
    return invalid_argument(f"JSON Value: {json_value_to_string(value)} " + "".join(parts))


def type_error(value, dtype):
    """INVALID_ARGUMENT for a JSON value that a tensor of `dtype` cannot hold.

    Example:

    >>> from tensorflow.core.framework import types_pb2
    >>> type_error("a", types_pb2.DT_FLOAT).message
    'JSON Value: "a" Type: String is not of expected type: float'
    """
    return invalid_argument(
        f"JSON Value: {json_value_to_string(value)} Type: {json_type(value)} "
        f"is not of expected type: {dtype_name(dtype)}"
    )


# === JSON values → tensor values ===


def is_base64_object(value):
    """Whether a JSON value is a `{"b64": "<text>"}` object (bytes, not a tensor of objects)."""
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
    if not is_base64_object(value):
        raise format_error(value, "not formatted correctly for base64 data")
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
            raise type_error(value, dtype)
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
            raise type_error(value, dtype)
        return value

    return convert


def _convert_bool(value):
    if type(value) is not bool:
        raise type_error(value, types_pb2.DT_BOOL)
    return value


def _convert_string(value):
    if type(value) is not str:
        raise type_error(value, types_pb2.DT_STRING)
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


def converter(dtype):
    """The function that checks a JSON leaf for a tensor of `dtype` and returns its element.

    A float tensor takes JSON numbers that it holds without loss of precision, an integer one
    whole numbers in its range, a string one strings (returned as UTF-8 bytes). Each raises
    TF Serving's INVALID_ARGUMENT; a `DataType` JSON has no form for raises UNIMPLEMENTED.

    Args:
        dtype: int. A `DataType` enum value, e.g. `types_pb2.DT_FLOAT`.

    Example:

    >>> from tensorflow.core.framework import types_pb2
    >>> converter(types_pb2.DT_STRING)("hi"), converter(types_pb2.DT_DOUBLE)(3)
    (b'hi', 3)
    >>> try:
    ...     converter(types_pb2.DT_FLOAT)(2**24 + 1)
    ... except ServingError as error:
    ...     print(error.message)
    Cannot convert JSON value: 16777217 to float without loss of precision.
    """
    convert = _CONVERTERS.get(dtype)
    if convert is None:

        def convert(value):
            raise ServingError(
                "UNIMPLEMENTED",
                f"Conversion of JSON Value: {json_value_to_string(value)} "
                f"to type: {dtype_name(dtype)}",
            )

    return convert


def request_signature_name(document):
    """The `signature_name` a request object names, `""` when it names none.

    Example:

    >>> request_signature_name({"signature_name": "classify", "examples": []})
    'classify'
    """
    name = document.get("signature_name", "")
    if type(name) is not str:
        raise format_error(
            document, "not formatted correctly. 'signature_name' key must be a string value."
        )
    return name


# The headers of an answer whose body is JSON.
JSON_HEADERS = [("Content-Type", "application/json")]


def error_body(message):
    """The REST error body: `{"error": "<message>"}` (MakeJsonFromStatus).

    Example:

    >>> error_body("Could not find any versions of model nope")
    b'{"error": "Could not find any versions of model nope"}'
    """
    text = json.dumps({"error": message}, ensure_ascii=False)
    return encode_text(text)
