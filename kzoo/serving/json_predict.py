"""The predict API's JSON: request bodies to input tensors, output tensors to response bodies.

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
  written as `{"b64": ...}`. Floats are written as TF Serving writes them (`json_values`).
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
import json
import math
from dataclasses import dataclass

import numpy as np
from tensorflow.core.framework import types_pb2

from kzoo.serving.errors import ServingError, invalid_argument
from kzoo.serving.json_values import (
    converter,
    decode_base64_object,
    format_error,
    format_floats,
    is_base64_object,
    json_value_to_string,
    parse_json,
    request_signature_name,
    type_error,
)
from kzoo.serving.tensors import encode_text, numpy_dtype, shape_string

ROW = "row"
COLUMNAR = "columnar"

_BYTES_SUFFIX = "_bytes"


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


# === JSON → tensors ===


def _leaf(value, dtype, convert):
    if type(value) is dict:
        if dtype == types_pb2.DT_STRING:
            return decode_base64_object(value)
        raise type_error(value, dtype)
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
    _fill(value, 0, shape, dtype, converter(dtype), values)
    return _to_array(values, shape, dtype)


class _InstanceTensor:
    """Accumulates one named input over the `instances` list (AddInstanceItem)."""

    def __init__(self, dtype):
        self.dtype = dtype
        self.convert = converter(dtype)
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
        return type(value) is dict and not is_base64_object(value)

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
    if type(value) is not dict or is_base64_object(value):
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
    if type(instance) is dict and not is_base64_object(instance):
        return sum(math.prod(_dense_shape(item)) for item in instance.values())
    return math.prod(_dense_shape(instance))


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
    signature_name = request_signature_name(document)
    dtypes = input_dtypes(signature_name)
    if not dtypes:
        raise invalid_argument(
            f"Failed to get input map for signature: {signature_name or 'DEFAULT'}"
        )
    if "instances" in document:
        if "inputs" in document:
            raise format_error(
                document,
                "Not formatted correctly expecting only one of 'inputs' or 'instances' keys to "
                "exist ",
            )
        instances = document["instances"]
        if type(instances) is not list:
            raise format_error(document, "Excepting 'instances' to be an list/array")
        if not instances:
            raise format_error(document, "No values in 'instances' array")
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
        return format_floats(flat.astype(np.float32) if single else flat, single)
    if kind == "V" and flat.dtype.itemsize == 2:  # bfloat16
        return format_floats(flat.astype(np.float32), True)
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
