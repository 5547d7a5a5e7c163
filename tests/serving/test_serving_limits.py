"""kzoo's request limits: instances and tensor elements, checked before tensors are built, with
TF Serving's error bodies and status codes; the server keeps serving."""

import json

import grpc
import pytest
from tensorflow.core.framework import tensor_pb2, types_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from kzoo.serving import Client, ModelServer
from kzoo.serving.errors import ServingError
from kzoo.serving.limits import RequestLimits

pytestmark = pytest.mark.usefixtures("local_only")

INSTANCES_ERROR = (
    "Too many instances in the request: {count}{detail}. This server accepts at most {limit} per "
    "request (kzoo serve --max-request-instances)."
)
ELEMENTS_ERROR = (
    "Too many tensor elements in the request: {count}{detail}. This server accepts at most "
    "{limit} per request (kzoo serve --max-request-elements)."
)


@pytest.fixture(scope="module")
def limited(serving_models):
    """A server taking at most 4 instances and 20 tensor elements per request."""
    with ModelServer(
        model_config_file=str(serving_models / "models.config"),
        rest_port=0,
        grpc_port=0,
        file_system_poll_wait_seconds=0,
        max_request_instances=4,
        max_request_elements=20,
    ) as server:
        yield server


@pytest.fixture(scope="module")
def stub(limited):
    with grpc.insecure_channel(limited.grpc_target) as channel:
        yield prediction_service_pb2_grpc.PredictionServiceStub(channel)


def _post(server, path, body):
    return Client(server.rest_url).request("POST", path, json.dumps(body))


def _compact_proto(shape, values, dtype=types_pb2.DT_FLOAT):
    """A TensorProto declaring `shape` but sending only `values` (TF repeats the last one)."""
    proto = tensor_pb2.TensorProto(dtype=dtype)
    for size in shape:
        proto.tensor_shape.dim.add().size = size
    if dtype == types_pb2.DT_FLOAT:
        proto.float_val.extend(values)
    else:
        proto.int64_val.extend(values)
    return proto


def _grpc_error(call, request):
    with pytest.raises(grpc.RpcError) as caught:
        call(request, timeout=10)
    return caught.value.code(), caught.value.details()


def _still_serving(server):
    client = Client(server.rest_url)
    assert client.predict("arith", [1.0, 2.0], signature_name="scale")["scaled"].tolist() == [
        2.0,
        4.0,
    ]


def test_rest_row_request_with_too_many_instances(limited):
    status, body = _post(limited, "/v1/models/text_model:predict", {"instances": ["a"] * 5})
    assert status == 400
    assert body == {"error": INSTANCES_ERROR.format(count=5, detail="", limit=4)}
    _still_serving(limited)


def test_rest_row_request_with_too_many_elements(limited):
    rows = [{"a": [1.0, 2.0], "b": [3.0, 4.0]}] * 4  # 16 elements: fine
    status, body = _post(limited, "/v1/models/arith:predict", {"instances": rows})
    assert status == 200, body
    status, body = _post(
        limited, "/v1/models/arith:predict", {"signature_name": "count", "instances": [[1] * 6] * 4}
    )
    assert status == 400
    assert body == {"error": ELEMENTS_ERROR.format(count=24, detail="", limit=20)}


def test_rest_columnar_request_limits(limited):
    path = "/v1/models/arith:predict"
    status, body = _post(limited, path, {"signature_name": "scale", "inputs": {"x": [1.0] * 5}})
    assert (status, body) == (
        400,
        {"error": INSTANCES_ERROR.format(count=5, detail=" (input x has shape [5])", limit=4)},
    )
    status, body = _post(limited, path, {"signature_name": "count", "inputs": [[1] * 7] * 3})
    assert (status, body) == (
        400,
        {"error": ELEMENTS_ERROR.format(count=21, detail=" (input ids has shape [3,7])", limit=20)},
    )
    _still_serving(limited)


def test_rest_classify_with_too_many_examples(limited):
    status, body = _post(
        limited,
        "/v1/models/half_plus_two:classify",
        {"signature_name": "classify_x_to_y", "examples": [{"x": 1.0}] * 5},
    )
    assert (status, body) == (400, {"error": INSTANCES_ERROR.format(count=5, detail="", limit=4)})


def test_grpc_shape_bomb_is_refused_before_it_is_built(limited, stub):
    # 40 bytes on the wire declaring a million values: TF would repeat the last one to fill it.
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "arith"
    request.model_spec.signature_name = "scale"
    request.inputs["x"].CopyFrom(_compact_proto([1000000], [1.0, 2.0]))
    assert request.ByteSize() < 50
    code, details = _grpc_error(stub.Predict, request)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details == INSTANCES_ERROR.format(
        count=1000000, detail=" (input x has shape [1000000])", limit=4
    )
    request.inputs["ids"].CopyFrom(_compact_proto([2, 11], [1], types_pb2.DT_INT64))
    del request.inputs["x"]
    request.model_spec.signature_name = "count"
    code, details = _grpc_error(stub.Predict, request)
    assert (code, details) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        ELEMENTS_ERROR.format(count=22, detail=" (input ids has shape [2,11])", limit=20),
    )
    _still_serving(limited)


def test_grpc_compact_proto_within_the_limits_is_filled_as_tensorflow_does(limited, stub):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "arith"
    request.model_spec.signature_name = "scale"
    request.inputs["x"].CopyFrom(_compact_proto([4], [1.0, 3.0]))
    response = stub.Predict(request, timeout=10)
    assert list(response.outputs["scaled"].float_val) == [2.0, 6.0, 6.0, 6.0]


def test_grpc_classify_with_too_many_examples(limited, stub):
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = "half_plus_two"
    request.model_spec.signature_name = "classify_x_to_y"
    for _ in range(5):
        request.input.example_list.examples.add().features.feature["x"].float_list.value.append(1)
    code, details = _grpc_error(stub.Classify, request)
    assert (code, details) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        INSTANCES_ERROR.format(count=5, detail="", limit=4),
    )


def test_default_limits_refuse_the_shape_bomb(local_server):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "arith"
    request.model_spec.signature_name = "scale"
    request.inputs["x"].CopyFrom(_compact_proto([1000000], [1.0, 2.0]))
    with grpc.insecure_channel(local_server.grpc_target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        code, details = _grpc_error(stub.Predict, request)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details == INSTANCES_ERROR.format(
        count=1000000, detail=" (input x has shape [1000000])", limit=1024
    )


def test_request_limits_arguments_are_checked():
    with pytest.raises(ValueError, match="argument max_instances. Expected a positive integer"):
        RequestLimits(max_instances=0)
    with pytest.raises(ValueError, match="argument max_elements. Expected a positive integer"):
        RequestLimits(max_elements=-1)
    limits = RequestLimits(max_instances=3, max_elements=13)
    # A scalar is one element; a shape with an unknown size is left to the tensor reader.
    limits.check_shapes({"a": (3, 2), "b": (3, 2), "scalar": (), "unknown": (-1, 5)})
    with pytest.raises(ServingError, match=r"tensor elements in the request: 14 \(input a has"):
        limits.check_shapes({"a": (3, 4), "b": (2,)})
    with pytest.raises(ServingError, match=r"instances in the request: 4 \(input b has shape"):
        limits.check_shapes({"a": (3,), "b": (4,)})


def test_kzoo_serve_help_shows_the_limits(capsys):
    from kzoo_cli import main

    assert main(["serve", "--help"]) == 0
    usage = " ".join(capsys.readouterr().out.split())  # however argparse wraps it
    assert "--max-request-instances" in usage and "--max-request-elements" in usage
    assert "(default: 1024)" in usage and "(default: 16777216)" in usage
