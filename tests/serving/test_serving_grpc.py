"""gRPC API: PredictionService (Predict, GetModelMetadata, Classify, Regress, MultiInference),
ModelService and the health service, with TF Serving's stubs and status codes. Runs against
`KZOO_SERVING_GRPC` when it is set (the health checks need `--enable_grpc_healthcheck_service`
there)."""

import grpc
import numpy as np
import pytest
import tensorflow as tf
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)


@pytest.fixture(scope="module")
def channel(grpc_target):
    channel = grpc.insecure_channel(grpc_target)
    yield channel
    channel.close()


@pytest.fixture(scope="module")
def prediction(channel):
    return prediction_service_pb2_grpc.PredictionServiceStub(channel)


@pytest.fixture(scope="module")
def model_service(channel):
    return model_service_pb2_grpc.ModelServiceStub(channel)


def _predict_request(name, signature_name="", version=None, label=None, **inputs):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = version
    if label is not None:
        request.model_spec.version_label = label
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    return request


def _error(call, request):
    with pytest.raises(grpc.RpcError) as caught:
        call(request, timeout=10)
    return caught.value.code(), caught.value.details()


def test_predict_with_output_filter(prediction):
    request = _predict_request("text_model", text=np.array([b"ab", b"xyz"], dtype=object))
    request.output_filter.append("upper")
    response = prediction.Predict(request, timeout=10)
    assert list(response.outputs) == ["upper"]
    assert tf.make_ndarray(response.outputs["upper"]).tolist() == [b"AB", b"XYZ"]
    assert response.model_spec.name == "text_model"
    assert response.model_spec.version.value == 1
    assert response.model_spec.signature_name == "serving_default"


def test_predict_writes_typed_value_fields(prediction):
    # As TF Serving (Tensor::AsProtoField): clients read outputs["sum"].float_val directly.
    request = _predict_request(
        "arith",
        a=np.array([[1, 2]], dtype=np.float32),
        b=np.array([[3, 4]], dtype=np.float32),
    )
    response = prediction.Predict(request, timeout=10)
    assert list(response.outputs["sum"].float_val) == [4.0, 6.0]
    assert list(response.outputs["product"].float_val) == [3.0, 8.0]
    assert [dim.size for dim in response.outputs["sum"].tensor_shape.dim] == [1, 2]


def test_predict_by_version_and_label(prediction):
    x = np.array([1.5], dtype=np.float32)
    for spec, expected_version in (({"version": 1}, 1), ({"label": "canary"}, 2), ({}, 2)):
        response = prediction.Predict(_predict_request("versioned", x=x, **spec), timeout=10)
        assert response.model_spec.version.value == expected_version
        assert tf.make_ndarray(response.outputs["y"]).tolist() == [1.5 * expected_version]


def test_predict_signature_name(prediction):
    request = _predict_request("arith", "count", ids=np.array([[1, 0, 5]], dtype=np.int64))
    response = prediction.Predict(request, timeout=10)
    assert response.model_spec.signature_name == "count"
    assert tf.make_ndarray(response.outputs["nonzero"]).tolist() == [2]


def test_predict_unknown_model_is_not_found(prediction):
    code, details = _error(prediction.Predict, _predict_request("nope", x=np.zeros(1)))
    assert code == grpc.StatusCode.NOT_FOUND
    assert "Servable not found for request: Latest(nope)" in details


def test_predict_unknown_version_is_not_found(prediction):
    request = _predict_request("versioned", version=9, x=np.zeros(1, np.float32))
    code, details = _error(prediction.Predict, request)
    assert code == grpc.StatusCode.NOT_FOUND
    assert "Servable not found for request: Specific(versioned, 9)" in details


def test_predict_unknown_label_is_invalid(prediction):
    request = _predict_request("versioned", label="nope", x=np.zeros(1, np.float32))
    code, details = _error(prediction.Predict, request)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "Unrecognized servable version label: nope" in details


def test_predict_unknown_signature_fails_precondition(prediction):
    request = _predict_request("arith", "nope", x=np.zeros(1, np.float32))
    code, details = _error(prediction.Predict, request)
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert 'Serving signature key "nope" not found.' in details


def test_predict_unknown_output_filter(prediction):
    request = _predict_request("text_model", text=np.array([b"a"], dtype=object))
    request.output_filter.append("nope")
    code, details = _error(prediction.Predict, request)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "output tensor alias not found in signature: nope" in details


def test_predict_missing_input(prediction):
    request = _predict_request("arith", a=np.zeros((1, 2), np.float32))
    code, details = _error(prediction.Predict, request)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "input size does not match signature: 1!=2 len({a}) != len({a,b})" in details
    assert "Missing but required: {b}." in details


def test_predict_wrong_dtype(prediction, local_only):
    request = _predict_request("versioned", x=np.array([1, 2], dtype=np.int64))
    code, details = _error(prediction.Predict, request)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details == "Expects arg[0] to be float but int64 is provided"


def test_get_model_metadata(prediction):
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = "arith"
    response = prediction.GetModelMetadata(request, timeout=10)
    assert response.model_spec.name == "arith"
    assert response.model_spec.version.value == 1
    signatures = get_model_metadata_pb2.SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(signatures)
    assert {"serving_default", "scale", "count"} <= set(signatures.signature_def)
    default = signatures.signature_def["serving_default"]
    assert sorted(default.inputs) == ["a", "b"]
    assert default.method_name == "tensorflow/serving/predict"


def test_get_model_metadata_errors(prediction):
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = "arith"
    code, details = _error(prediction.GetModelMetadata, request)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "GetModelMetadataRequest must specify at least one metadata_field" in details
    request.metadata_field.append("signature_def")
    request.model_spec.name = "nope"
    code, details = _error(prediction.GetModelMetadata, request)
    assert code == grpc.StatusCode.NOT_FOUND


def test_get_model_status(model_service):
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "versioned"
    response = model_service.GetModelStatus(request, timeout=10)
    versions = {status.version: status for status in response.model_version_status}
    assert sorted(versions) == [1, 2]
    for status in versions.values():
        assert status.state == get_model_status_pb2.ModelVersionStatus.AVAILABLE
        assert status.status.error_code == 0
    request.model_spec.version.value = 2
    response = model_service.GetModelStatus(request, timeout=10)
    assert [status.version for status in response.model_version_status] == [2]


def test_get_model_status_not_found(model_service):
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "nope"
    code, details = _error(model_service.GetModelStatus, request)
    assert code == grpc.StatusCode.NOT_FOUND
    assert "Could not find any versions of model nope" in details
    request.model_spec.name = "versioned"
    request.model_spec.version.value = 7
    code, details = _error(model_service.GetModelStatus, request)
    assert code == grpc.StatusCode.NOT_FOUND
    assert "Could not find version 7 of model versioned" in details


def test_classify_on_a_predict_signature(prediction):
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = "arith"
    request.input.example_list.examples.add()
    code, details = _error(prediction.Classify, request)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details == "Expected one input Tensor."


def test_message_over_the_size_limit(serving_models, local_only):
    from kzoo.serving import ModelServer

    with ModelServer(
        str(serving_models / "text_model"), rest_port=None, grpc_port=0, max_request_bytes=2048
    ) as server:
        with grpc.insecure_channel(server.grpc_target) as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            big = np.array([b"x" * 4096], dtype=object)
            code, _ = _error(stub.Predict, _predict_request("text_model", text=big))
            assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
            small = np.array([b"ok"], dtype=object)
            response = stub.Predict(_predict_request("text_model", text=small), timeout=10)
            assert tf.make_ndarray(response.outputs["upper"]).tolist() == [b"OK"]


def test_regress_and_classify(prediction):
    from tensorflow_serving.apis import regression_pb2

    request = regression_pb2.RegressionRequest()
    request.model_spec.name = "half_plus_two"
    request.model_spec.signature_name = "regress_x_to_y"
    for x in (80.0, 2.0):
        request.input.example_list.examples.add().features.feature["x"].float_list.value.append(x)
    response = prediction.Regress(request, timeout=10)
    assert [item.value for item in response.result.regressions] == [42.0, 3.0]
    classify = classification_pb2.ClassificationRequest()
    classify.model_spec.name = "half_plus_two"
    classify.model_spec.signature_name = "classify_x_to_y"
    classify.input.example_list.examples.add().features.feature["x"].float_list.value.append(20.0)
    response = prediction.Classify(classify, timeout=10)
    (classes,) = response.result.classifications
    assert [(item.label, item.score) for item in classes.classes] == [("", 12.0)]


def _multi_inference_request(*tasks, model="half_plus_two", x=2.0):
    request = inference_pb2.MultiInferenceRequest()
    for signature_name, method in tasks:
        task = request.tasks.add()
        task.model_spec.name = model
        task.model_spec.signature_name = signature_name
        task.method_name = f"tensorflow/serving/{method}"
    if x is not None:
        example = request.input.example_list.examples.add()
        example.features.feature["x"].float_list.value.append(x)
    return request


def test_multi_inference_runs_regress_and_classify_on_the_same_examples(prediction):
    # TF Serving's MultiInferenceTest.RegressAndClassifySignaturesTest: y = 0.5 x + 2.
    request = _multi_inference_request(
        ("regress_x_to_y", "regress"), ("classify_x_to_y", "classify")
    )
    response = prediction.MultiInference(request, timeout=10)
    regression, classification = response.results
    assert regression.model_spec.name == "half_plus_two"
    assert regression.model_spec.signature_name == "regress_x_to_y"
    assert regression.model_spec.version.value == 1
    assert [item.value for item in regression.regression_result.regressions] == [3.0]
    assert classification.model_spec.signature_name == "classify_x_to_y"
    (classes,) = classification.classification_result.classifications
    assert [(item.label, item.score) for item in classes.classes] == [("", 3.0)]


def test_multi_inference_on_tf2_signatures(prediction):
    request = _multi_inference_request(
        ("classify", "classify"), ("regress", "regress"), model="tf2_examples", x=0.25
    )
    classification, regression = prediction.MultiInference(request, timeout=10).results
    (classes,) = classification.classification_result.classifications
    assert [(item.label, item.score) for item in classes.classes] == [("yes", 0.25), ("no", 0.75)]
    assert [item.value for item in regression.regression_result.regressions] == [1.5]


@pytest.mark.parametrize(
    "request_, code, message",
    [
        (
            _multi_inference_request(("regress_x_to_y", "regress"), x=None),
            grpc.StatusCode.INVALID_ARGUMENT,
            "Input is empty.",
        ),
        (
            _multi_inference_request(("nope", "regress")),
            grpc.StatusCode.INVALID_ARGUMENT,
            "Requested signature not found in model graph: nope",
        ),
        (
            _multi_inference_request(("regress_x_to_y", "regress"), ("regress_x_to_y", "regress")),
            grpc.StatusCode.INVALID_ARGUMENT,
            "Duplicate evaluation of signature: regress_x_to_y",
        ),
        (
            _multi_inference_request(("serving_default", "predict")),
            grpc.StatusCode.UNIMPLEMENTED,
            "Unsupported signature method_name: tensorflow/serving/predict",
        ),
    ],
    ids=["empty", "unknown_signature", "duplicate", "predict_task"],
)
def test_multi_inference_errors(prediction, request_, code, message):
    assert _error(prediction.MultiInference, request_) == (code, message)


def test_multi_inference_tasks_name_one_model(prediction):
    request = _multi_inference_request(("regress_x_to_y", "regress"))
    task = request.tasks.add()
    task.model_spec.name = "arith"
    task.method_name = "tensorflow/serving/regress"
    assert _error(prediction.MultiInference, request) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "All ModelSpecs in a MultiInferenceRequest must access the same model name.",
    )
    request.tasks[1].model_spec.name = ""
    assert _error(prediction.MultiInference, request) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "Found ModelSpec with an empty model name.",
    )


def test_health_check_service(channel):
    # server.cc: the default health service ("") with ModelService and PredictionService SERVING.
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "ModelService", "PredictionService"):
        answer = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING, service
    assert _error(health.Check, health_pb2.HealthCheckRequest(service="Nope"))[0] == (
        grpc.StatusCode.NOT_FOUND
    )
