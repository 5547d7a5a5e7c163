"""JSON ↔ tensor conversion details, checked against TF Serving's json_tensor.cc rules."""

import json

import numpy as np
import pytest
from tensorflow.core.framework import types_pb2

from kzoo.serving.errors import ServingError
from kzoo.serving.json_examples import parse_examples_request
from kzoo.serving.json_predict import make_predict_response, parse_predict_request
from kzoo.serving.json_values import parse_json

FLOAT = {"x": types_pb2.DT_FLOAT}


def _parse(body, dtypes=FLOAT):
    return parse_predict_request(json.dumps(body).encode(), lambda signature: dtypes)


def _error(body, dtypes=FLOAT):
    with pytest.raises(ServingError) as caught:
        parse_predict_request(
            body if isinstance(body, bytes) else json.dumps(body).encode(), lambda s: dtypes
        )
    assert caught.value.code == "INVALID_ARGUMENT"
    return caught.value.message


def test_row_and_columnar_shapes():
    assert _parse({"instances": [[[1, 2]], [[3, 4]]]}).inputs["x"].shape == (2, 1, 2)
    assert _parse({"inputs": 5.0}).inputs["x"].shape == ()
    assert _parse({"inputs": [[]]}).inputs["x"].shape == (1, 0)
    request = _parse({"inputs": {"x": [1, 2]}, "signature_name": "sig"})
    assert request.signature_name == "sig" and request.format == "columnar"
    assert request.inputs["x"].dtype == np.float32


@pytest.mark.parametrize(
    "body, message",
    [
        ({"instances": [[1, [2]]]}, "Encountered list at unexpected level: 1 expected < 1"),
        ({"instances": [[[1], 2]]}, "JSON Value: 2 found at incorrect level: 2 in the JSON DOM."),
        ({"instances": [[1, 2], [[3], [4]]]}, "Expecting shape [2] but got: [2,1]"),
        ({"instances": [None]}, "JSON Value: null Type: Null is not of expected type: float"),
        ({"instances": [True]}, "Type: True is not of expected type: float"),
        ({"instances": [{"b64": "AA=="}]}, "Type: Object is not of expected type: float"),
        ({"instances": 1.5}, "Excepting 'instances' to be an list/array"),
        ({"inputs": [1e39]}, "Cannot convert JSON value: 1e+39 to float without loss"),
    ],
)
def test_value_errors(body, message):
    assert message in _error(body)


def test_integer_and_string_types():
    ints = {"n": types_pb2.DT_INT32}
    assert _parse({"inputs": [2**31 - 1]}, ints).inputs["n"].dtype == np.int32
    assert "is not of expected type: int32" in _error({"inputs": [2**31]}, ints)
    assert "is not of expected type: int32" in _error({"inputs": [1.0]}, ints)
    unsigned = {"n": types_pb2.DT_UINT64}
    assert _parse({"inputs": [2**64 - 1]}, unsigned).inputs["n"].tolist() == [2**64 - 1]
    assert "is not of expected type: uint64" in _error({"inputs": [-1]}, unsigned)
    flags = {"f": types_pb2.DT_BOOL}
    assert _parse({"inputs": [True, False]}, flags).inputs["f"].tolist() == [True, False]
    text = {"s": types_pb2.DT_STRING}
    assert _parse({"inputs": ["é", {"b64": "AP8="}]}, text).inputs["s"].tolist() == [
        "é".encode(),
        b"\x00\xff",
    ]
    assert "not formatted correctly for base64 data" in _error(
        {"inputs": [{"b64": "AA==", "extra": 1}]}, text
    )
    assert "Type: Number is not of expected type: string" in _error({"inputs": [1]}, text)


def test_json_parse_errors_use_rapidjson_words():
    assert _error(b"") == "JSON Parse error: The document is empty"
    assert _error(b"   ").startswith("JSON Parse error: The document is empty.")
    assert "Missing a name for object member." in _error(b'{"instances": [1],}')
    assert "Missing a comma or ']' after an array element." in _error(b'{"instances": [1 2]}')
    assert "Missing a comma or '}' after an object member." in _error(b'{"a": 1 "b": 2}')
    assert "Missing a colon after a name of object member." in _error(b'{"a" 1}')
    assert "The document root must not be followed by other values." in _error(b"{} {}")
    assert "Missing a closing quotation mark in string." in _error(b'{"a')
    assert parse_json(b'{"x": [NaN, -Infinity]}')["x"][1] == float("-inf")


def test_float_output_formatting():
    values = np.array([0.1, 3.0, 1e-5, 123456789.0, 1 / 3, -0.0, np.nan, np.inf], np.float32)
    text = make_predict_response({"y": values}, "columnar").decode()
    assert text == ('{"outputs": [0.1, 3.0, 1e-05, 123456792.0, 0.333333343, -0.0, NaN, Infinity]}')
    doubles = make_predict_response({"y": np.array([0.1, 1 / 3])}, "columnar").decode()
    assert doubles == '{"outputs": [0.1, 0.33333333333333331]}'


def test_row_output_of_several_outputs():
    outputs = {
        "scores": np.array([[0.5, 0.25], [1.0, 0.0]], np.float32),
        "label": np.array([b"a", b"b"], dtype=object),
        "ids": np.array([[[1]], [[2]]], np.int64),
    }
    assert json.loads(make_predict_response(outputs, "row")) == {
        "predictions": [
            {"ids": [[1]], "label": "a", "scores": [0.5, 0.25]},
            {"ids": [[2]], "label": "b", "scores": [1.0, 0.0]},
        ]
    }


def test_row_output_errors():
    with pytest.raises(ServingError, match="has inconsistent batch size: 3 expecting: 2"):
        make_predict_response({"a": np.zeros(2), "b": np.zeros(3)}, "row")
    with pytest.raises(ServingError, match="has no shape information"):
        make_predict_response({"a": np.float32(1.0)}, "row")
    assert make_predict_response({"a": np.float32(1.0)}, "columnar") == b'{"outputs": 1.0}'


def test_examples_request():
    body = {
        "signature_name": "classify",
        "context": {"lang": "en"},
        "examples": [{"x": 1.5, "tags": ["a", {"b64": "Yg=="}], "n": [1, True]}],
    }
    signature, examples, context = parse_examples_request(json.dumps(body).encode())
    assert signature == "classify"
    features = examples[0].features.feature
    assert list(features["tags"].bytes_list.value) == [b"a", b"b"]
    assert list(features["n"].int64_list.value) == [1, 1]
    assert list(context.features.feature["lang"].bytes_list.value) == [b"en"]
    with pytest.raises(ServingError, match="Unexpected element type in feature: x"):
        parse_examples_request(b'{"examples": [{"x": [1.5, "a"]}]}')
    with pytest.raises(ServingError, match="'examples' value is an empty array"):
        parse_examples_request(b'{"examples": []}')


def test_examples_feature_numbers():
    # Decimals are checked as float tensor elements are; whole numbers must fit an int64_list.
    body = b'{"examples": [{"x": 0.5, "big": 18446744073709551616}]}'
    features = parse_examples_request(body)[1][0].features.feature
    assert list(features["x"].float_list.value) == [0.5]
    assert list(features["big"].float_list.value) == [2.0**64]
    lossy = r"^INVALID_ARGUMENT: Cannot convert JSON value: 1e\+39 to float without loss of "
    lossy += r"precision\.$"
    with pytest.raises(ServingError, match=lossy):
        parse_examples_request(b'{"examples": [{"x": 1e39}]}')
    uint64 = r"^INVALID_ARGUMENT: Feature: n has uint64 element\. Only int64 is supported\.$"
    with pytest.raises(ServingError, match=uint64):
        parse_examples_request(b'{"examples": [{"n": 9223372036854775808}]}')
