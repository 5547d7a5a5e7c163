"""The classify and regress APIs' JSON: `tf.train.Example`s in, results out.

A request is `{"signature_name": ..., "context": {...}, "examples": [{...}, ...]}`, each example
an object of features (TF Serving's `MakeExampleFromJsonObject`): strings and `{"b64": ...}`
objects make a `bytes_list`, decimals a `float_list`, whole numbers and booleans an
`int64_list`; a feature holds one kind. Classify answers `{"results": [[[label, score], ...]]}`,
regress `{"results": [value, ...]}`, floats written as TF Serving writes them.

Example:

>>> signature, examples, context = parse_examples_request(
...     b'{"examples": [{"text": "good film", "year": 1999}]}'
... )
>>> signature, len(examples), context
('', 1, None)
>>> examples[0].features.feature["year"].int64_list.value
[1999]
>>> make_regress_response([0.25, 1.0])
b'{"results": [0.25, 1.0]}'
"""

import json

from tensorflow.core.example import example_pb2, feature_pb2
from tensorflow.core.framework import types_pb2

from kzoo.serving.errors import invalid_argument
from kzoo.serving.json_values import (
    converter,
    decode_base64_object,
    format_decimal,
    format_error,
    is_base64_object,
    json_type,
    parse_json,
    request_signature_name,
)
from kzoo.serving.tensors import encode_text

_FEATURE_KIND_NAMES = {"bytes_list": "bytes", "float_list": "float", "int64_list": "int64"}
# An int64_list holds signed 64-bit integers: larger whole numbers are refused.
_INT64_MAX = 2**63 - 1
# A feature's strings and decimals are checked as tensor elements of these types are.
_TO_BYTES = converter(types_pb2.DT_STRING)
_TO_FLOAT = converter(types_pb2.DT_FLOAT)


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
        if not is_base64_object(value):
            raise invalid_argument(f"Feature: {name} has element with unexpected JSON type: Object")
        check_kind("bytes_list")
        feature.bytes_list.value.append(decode_base64_object(value))
    elif kind is str:
        check_kind("bytes_list")
        feature.bytes_list.value.append(_TO_BYTES(value))
    elif kind is float or (kind is int and abs(value) >= 2**64):
        check_kind("float_list")
        feature.float_list.value.append(_TO_FLOAT(value))
    elif kind is int:
        check_kind("int64_list")
        if value > _INT64_MAX:
            raise invalid_argument(f"Feature: {name} has uint64 element. Only int64 is supported.")
        feature.int64_list.value.append(value)
    else:
        raise invalid_argument(
            f"Feature: {name} has element with unexpected JSON type: {json_type(value)}"
        )


def example_from_json(value):
    """Builds a `tf.train.Example` from a JSON object of features (MakeExampleFromJsonObject).

    Example:

    >>> example = example_from_json({"x": 1.5, "tags": ["a", "b"], "n": [1, 2]})
    >>> example.features.feature["tags"].bytes_list.value
    [b'a', b'b']
    """
    if type(value) is not dict:
        raise invalid_argument(f"Example must be JSON object but got JSON {json_type(value)}")
    example = example_pb2.Example()
    for name, content in value.items():
        feature = feature_pb2.Feature()
        for item in content if type(content) is list else [content]:
            if type(item) is list or item is None:
                raise invalid_argument(
                    f"Feature: {name} has element with unexpected JSON type: {json_type(item)}"
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
    signature_name = request_signature_name(document)
    context = None
    if "context" in document:
        context = example_from_json(document["context"])
    if "examples" not in document:
        # TF Serving says "classify" for both methods.
        raise format_error(
            document, "When method is classify, key 'examples' is expected and was not found"
        )
    examples = document["examples"]
    if type(examples) is not list:
        raise format_error(document, "Expecting 'examples' value to be an list/array")
    if not examples:
        raise format_error(document, "'examples' value is an empty array")
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
