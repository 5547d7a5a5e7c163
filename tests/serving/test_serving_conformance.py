"""REST conformance: request → expected HTTP status and body, as TF Serving answers.

Each case names where its expectation comes from in tensorflow/serving:
`api_rest.md` (tensorflow_serving/g3doc), `handler_test` (model_servers/
http_rest_api_handler_test.cc), `handler` (http_rest_api_handler.cc, http_rest_api_util.cc),
`json_tensor` (util/json_tensor.cc), `status_impl` (model_servers/get_model_status_impl.cc),
`server_core` (ServerCore::GetModelVersionForLabel), `manager` (core/basic_manager.cc),
`classifier`/`regressor` (servables/tensorflow), `http_server` (model_servers/http_server.cc and
util/net_http/server/internal/evhttp_server.cc). Messages are asserted where TF Serving has one.

The suite runs against kzoo's local server, or against `KZOO_SERVING_URL` (e.g. a real TF
Serving serving the models written by `python -m tests.serving.make_models DIR`, started with
the monitoring config it writes, for the metrics page).
"""

import base64
import json
from dataclasses import dataclass

import pytest
from make_models import METRICS_PATH
from serving_helpers import assert_json_close

from kzoo.serving import Client


@dataclass
class Case:
    id: str
    method: str
    path: str
    body: object = None
    status: int = 200
    expect: object = None  # the whole JSON answer (floats compared to 1e-6)
    check: object = None  # or a callable on the parsed answer
    message: str = None  # a part of the error message
    source: str = ""
    body_may_be_empty: bool = False  # TF Serving answers some errors without a body


def _status(*versions):
    return {
        "model_version_status": [
            {
                "version": str(version),
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
            for version in versions
        ]
    }


def _versions(payload):
    return sorted(int(entry["version"]) for entry in payload["model_version_status"])


def _check_arith_metadata(payload):
    assert payload["model_spec"] == {"name": "arith", "signature_name": "", "version": "1"}
    signatures = payload["metadata"]["signature_def"]["signature_def"]
    assert {"serving_default", "scale", "count"} <= set(signatures)
    default = signatures["serving_default"]
    assert default["method_name"] == "tensorflow/serving/predict"
    assert sorted(default["inputs"]) == ["a", "b"]
    assert sorted(default["outputs"]) == ["product", "sum"]
    a = default["inputs"]["a"]
    assert a["dtype"] == "DT_FLOAT"
    assert a["tensor_shape"] == {
        "dim": [{"size": "-1", "name": ""}, {"size": "2", "name": ""}],
        "unknown_rank": False,
    }
    assert a["name"].endswith(":0")
    assert signatures["count"]["inputs"]["ids"]["dtype"] == "DT_INT64"


def _metadata_version(version):
    def check(payload):
        assert payload["model_spec"]["name"] == "versioned"
        assert payload["model_spec"]["version"] == str(version)
        signature = payload["metadata"]["signature_def"]["signature_def"]["serving_default"]
        assert signature["inputs"]["x"]["dtype"] == "DT_FLOAT"

    return check


def _b64(data):
    return base64.b64encode(data).decode("ascii")


CASES = [
    # --- model status ---
    Case(
        "status",
        "GET",
        "/v1/models/text_model",
        expect=_status(1),
        source="api_rest.md (curl .../v1/models/half_plus_three); handler_test GetStatus",
    ),
    Case(
        "status_paths_are_case_insensitive",
        "GET",
        "/V1/Models/text_model",
        expect=_status(1),
        source="handler: the path regexes are (?i)",
    ),
    Case(
        "status_all_versions",
        "GET",
        "/v1/models/versioned",
        check=lambda payload: _versions(payload) == [1, 2],
        source="api_rest.md: without /versions, status for all versions",
    ),
    Case(
        "status_one_version",
        "GET",
        "/v1/models/versioned/versions/1",
        expect=_status(1),
        source="handler_test GetStatus (specific version)",
    ),
    Case(
        "status_by_label",
        "GET",
        "/v1/models/versioned/labels/stable",
        check=lambda payload: 1 in _versions(payload),
        source="api_rest.md: /labels/${LABEL}; handler_test GetStatus (version label)",
    ),
    Case(
        "status_unknown_model",
        "GET",
        "/v1/models/no_such_model",
        status=404,
        message="Could not find any versions of model no_such_model",
        source="status_impl",
    ),
    Case(
        "status_unknown_version",
        "GET",
        "/v1/models/versioned/versions/7",
        status=404,
        message="Could not find version 7 of model versioned",
        source="status_impl",
    ),
    Case(
        "status_without_model_name",
        "GET",
        "/v1/models",
        status=400,
        message="Missing model name in request.",
        source="handler; handler_test UnsupportedApiCalls",
    ),
    # --- metadata ---
    Case(
        "metadata",
        "GET",
        "/v1/models/arith/metadata",
        check=_check_arith_metadata,
        source="api_rest.md Model Metadata API; handler_test GetModelMetadata "
        "(saved_model_half_plus_two_2_versions_metadata.json)",
    ),
    Case(
        "metadata_version",
        "GET",
        "/v1/models/versioned/versions/2/metadata",
        check=_metadata_version(2),
        source="api_rest.md Model Metadata API",
    ),
    Case(
        "metadata_label",
        "GET",
        "/v1/models/versioned/labels/canary/metadata",
        check=_metadata_version(2),
        source="api_rest.md Model Metadata API",
    ),
    Case(
        "metadata_unknown_model",
        "GET",
        "/v1/models/no_such_model/metadata",
        status=404,
        message="Servable not found for request: Latest(no_such_model)",
        source="manager",
    ),
    # --- predict: formats and types ---
    Case(
        "predict_row_strings",
        "POST",
        "/v1/models/text_model:predict",
        {"instances": ["ab", "héllo"]},
        expect={"predictions": [{"length": 2, "upper": "AB"}, {"length": 6, "upper": "HéLLO"}]},
        source="api_rest.md row format; several outputs → list of objects",
    ),
    Case(
        "predict_columnar_strings",
        "POST",
        "/v1/models/text_model:predict",
        {"inputs": {"text": ["ab", "c"]}},
        expect={"outputs": {"length": [2, 1], "upper": ["AB", "C"]}},
        source="api_rest.md columnar format; several outputs → object",
    ),
    Case(
        "predict_columnar_plain_value",
        "POST",
        "/v1/models/text_model:predict",
        {"inputs": ["xyz"]},
        expect={"outputs": {"length": [3], "upper": ["XYZ"]}},
        source="api_rest.md: inputs may be a single tensor; json_tensor FillTensorMapFromInputsMap",
    ),
    Case(
        "predict_b64_input",
        "POST",
        "/v1/models/text_model:predict",
        {"instances": [{"b64": _b64(b"hi")}]},
        expect={"predictions": [{"length": 2, "upper": "HI"}]},
        source="api_rest.md Encoding binary values",
    ),
    Case(
        "predict_b64_output_for_bytes_suffix",
        "POST",
        "/v1/models/text_model:predict",
        {"signature_name": "echo_bytes", "instances": [{"b64": _b64(b"\x00\x01\xff")}]},
        expect={"predictions": [{"b64": _b64(b"\x00\x01\xff")}]},
        source="api_rest.md Output of binary values (_bytes suffix); json_tensor "
        "IsNamedTensorBytes",
    ),
    Case(
        "predict_two_inputs_row",
        "POST",
        "/v1/models/arith:predict",
        {"instances": [{"a": [1, 2], "b": [3, 4]}, {"a": [0.5, 0], "b": [2, 1]}]},
        expect={
            "predictions": [
                {"product": [3.0, 8.0], "sum": [4.0, 6.0]},
                {"product": [1.0, 0.0], "sum": [2.5, 1.0]},
            ]
        },
        source="api_rest.md row format with several named inputs",
    ),
    Case(
        "predict_two_inputs_columnar",
        "POST",
        "/v1/models/arith:predict",
        {"inputs": {"a": [[1, 2]], "b": [[3, 4]]}},
        expect={"outputs": {"product": [[3.0, 8.0]], "sum": [[4.0, 6.0]]}},
        source="api_rest.md columnar format",
    ),
    Case(
        "predict_signature_name_single_output",
        "POST",
        "/v1/models/arith:predict",
        {"signature_name": "scale", "instances": [1.5, -2]},
        expect={"predictions": [3.0, -4.0]},
        source="api_rest.md: signature_name; one output → name omitted",
    ),
    Case(
        "predict_int64_columnar",
        "POST",
        "/v1/models/arith:predict",
        {"signature_name": "count", "inputs": {"ids": [[1, 0, 3], [0, 0, 0]]}},
        expect={"outputs": [2, 0]},
        source="api_rest.md JSON mapping (DT_INT64)",
    ),
    Case(
        "predict_nan_and_infinity",
        "POST",
        "/v1/models/versioned/versions/1:predict",
        '{"instances": [NaN, Infinity, -Infinity, 0.25]}',
        expect={"predictions": [float("nan"), float("inf"), float("-inf"), 0.25]},
        source="api_rest.md JSON conformance (NaN, Infinity)",
    ),
    # --- predict: versions and labels ---
    Case(
        "predict_latest_version",
        "POST",
        "/v1/models/versioned:predict",
        {"instances": [1.5]},
        expect={"predictions": [3.0]},
        source="api_rest.md: latest version when omitted",
    ),
    Case(
        "predict_version",
        "POST",
        "/v1/models/versioned/versions/1:predict",
        {"instances": [1.5]},
        expect={"predictions": [1.5]},
        source="handler_test Predict (specific version)",
    ),
    Case(
        "predict_label",
        "POST",
        "/v1/models/versioned/labels/stable:predict",
        {"instances": [1.5]},
        expect={"predictions": [1.5]},
        source="handler_test Predict (version label)",
    ),
    # --- predict: errors ---
    Case(
        "predict_unknown_model",
        "POST",
        "/v1/models/half:predict",
        {"instances": [1.0, 5.0]},
        status=404,
        message="Servable not found for request: Latest(half)",
        source="api_rest.md (curl -i ... /v1/models/half:predict → 404)",
    ),
    Case(
        "predict_unknown_version",
        "POST",
        "/v1/models/versioned/versions/99:predict",
        {"instances": [1.0]},
        status=404,
        message="Servable not found for request: Specific(versioned, 99)",
        source="handler_test PredictModelNameVersionErrors; manager",
    ),
    Case(
        "predict_unknown_label",
        "POST",
        "/v1/models/versioned/labels/no_such_label:predict",
        {"instances": [1.0]},
        status=400,
        message="Unrecognized servable version label: no_such_label",
        source="handler_test PredictRequestErrors; server_core",
    ),
    Case(
        "predict_unknown_signature",
        "POST",
        "/v1/models/arith:predict",
        {"signature_name": "no_such_signature", "instances": [1.0]},
        status=400,
        message='Serving signature name: "no_such_signature" not found in signature def',
        source="handler GetInfoMap",
    ),
    Case(
        "predict_empty_body",
        "POST",
        "/v1/models/versioned:predict",
        "",
        status=400,
        message="JSON Parse error: The document is empty",
        source="handler_test PredictRequestErrors",
    ),
    Case(
        "predict_invalid_json",
        "POST",
        "/v1/models/versioned:predict",
        "instances = [1, 2]",
        status=400,
        message="JSON Parse error: Invalid value",
        source="handler_test PredictRequestErrors",
    ),
    Case(
        "predict_body_not_an_object",
        "POST",
        "/v1/models/versioned:predict",
        "[1, 2]",
        status=400,
        message="Is not object",
        source="json_tensor ParseJson",
    ),
    Case(
        "predict_wrong_dtype",
        "POST",
        "/v1/models/versioned:predict",
        {"instances": ["x", "y"]},
        status=400,
        message="not of expected type: float",
        source="handler_test PredictRequestErrors",
    ),
    Case(
        "predict_decimal_for_integer_input",
        "POST",
        "/v1/models/arith:predict",
        {"signature_name": "count", "instances": [[1.5, 2]]},
        status=400,
        message="Type: Number is not of expected type: int64",
        source="json_tensor AddValueToTensor (IsInt64)",
    ),
    Case(
        "predict_integer_too_large_for_float",
        "POST",
        "/v1/models/versioned:predict",
        {"instances": [16777217]},
        status=400,
        message="Cannot convert JSON value: 16777217 to float without loss of precision.",
        source="json_tensor LossyDecimalError",
    ),
    Case(
        "predict_signature_name_not_a_string",
        "POST",
        "/v1/models/versioned:predict",
        {"signature_name": 100},
        status=400,
        message="'signature_name' key must be a string value.",
        source="handler_test PredictRequestErrors",
    ),
    Case(
        "predict_both_instances_and_inputs",
        "POST",
        "/v1/models/versioned:predict",
        {"instances": [1.0], "inputs": [1.0]},
        status=400,
        message="Not formatted correctly expecting only one of 'inputs' or 'instances' keys to "
        "exist",
        source="api_rest.md (either of them but NOT both); json_tensor",
    ),
    Case(
        "predict_neither_instances_nor_inputs",
        "POST",
        "/v1/models/versioned:predict",
        {"signature_name": "serving_default"},
        status=400,
        message="Missing 'inputs' or 'instances' key",
        source="json_tensor FillPredictRequestFromJson",
    ),
    Case(
        "predict_empty_instances",
        "POST",
        "/v1/models/versioned:predict",
        {"instances": []},
        status=400,
        message="No values in 'instances' array",
        source="json_tensor FillPredictRequestFromJson",
    ),
    Case(
        "predict_ragged_instances",
        "POST",
        "/v1/models/arith:predict",
        {"signature_name": "count", "instances": [[1, 2], [3]]},
        status=400,
        message="Failed to process element: 1 of 'instances' list. Error: INVALID_ARGUMENT: "
        "Expecting tensor size: 2 but got: 1",
        source="json_tensor AddInstanceItem",
    ),
    Case(
        "predict_ragged_columnar_inputs",
        "POST",
        "/v1/models/arith:predict",
        {"signature_name": "count", "inputs": {"ids": [[1, 2], [3]]}},
        status=400,
        message="Encountered list at unexpected size: 1 at level: 1 expected size: 2",
        source="json_tensor FillTensorProto",
    ),
    Case(
        "predict_plain_list_for_several_inputs",
        "POST",
        "/v1/models/arith:predict",
        {"instances": [[1, 2]]},
        status=400,
        message="instances is a plain list, but expecting list of objects as multiple input "
        "tensors required as per tensorinfo_map",
        source="json_tensor FillTensorMapFromInstancesList",
    ),
    Case(
        "predict_instance_missing_a_named_input",
        "POST",
        "/v1/models/arith:predict",
        {"instances": [{"a": [1, 2]}]},
        status=400,
        message="must only have keys: a,b",
        source="json_tensor FillTensorMapFromInstancesList",
    ),
    Case(
        "predict_instance_with_an_unknown_input",
        "POST",
        "/v1/models/arith:predict",
        {"instances": [{"a": [1, 2], "b": [3, 4], "c": 1}]},
        status=400,
        message="JSON object: does not have named input: c",
        source="json_tensor AddInstanceItem",
    ),
    Case(
        "predict_inputs_missing_a_named_input",
        "POST",
        "/v1/models/arith:predict",
        {"inputs": {"a": [[1, 2]]}},
        status=400,
        message="Missing named input: b in 'inputs' object.",
        source="json_tensor FillTensorMapFromInputsMap",
    ),
    Case(
        "predict_bad_base64",
        "POST",
        "/v1/models/text_model:predict",
        {"instances": [{"b64": "not base64!"}]},
        status=400,
        message="Unable to base64 decode",
        source="json_tensor JsonDecodeBase64Object",
    ),
    Case(
        "predict_shape_not_matching_the_signature",
        "POST",
        "/v1/models/arith:predict",
        {"inputs": {"a": [1, 2], "b": [3, 4]}},
        status=400,
        source="kzoo checks shapes before the call (TF Serving's message comes from the graph)",
    ),
    # --- classify and regress on a predict-only model (method_name is not checked without
    # --enable_signature_method_name_check: the signature's inputs are) ---
    Case(
        "classify_on_a_predict_signature",
        "POST",
        "/v1/models/arith:classify",
        {"examples": [{"x": 1.0}]},
        status=400,
        message="Expected one input Tensor.",
        source="classifier PreProcessClassification",
    ),
    Case(
        "regress_on_a_predict_signature",
        "POST",
        "/v1/models/arith:regress",
        {"examples": [{"x": 1.0}]},
        status=400,
        message="Expected one input Tensor.",
        source="regressor PreProcessRegression",
    ),
    Case(
        "classify_without_examples",
        "POST",
        "/v1/models/arith:classify",
        {"context": {"x": 1.0}},
        status=400,
        message="When method is classify, key 'examples' is expected and was not found",
        source="json_tensor FillClassifyRegressRequestFromJson",
    ),
    Case(
        "regress",
        "POST",
        "/v1/models/half_plus_two:regress",
        {"signature_name": "regress_x_to_y", "examples": [{"x": 80.0}]},
        expect={"results": [42.0]},
        source="handler_test Regress",
    ),
    Case(
        "classify_scores_only",
        "POST",
        "/v1/models/half_plus_two:classify",
        {"signature_name": "classify_x_to_y", "examples": [{"x": 20.0}, {"x": 10.0}]},
        expect={"results": [[["", 12.0]], [["", 7.0]]]},
        source="handler_test Classify",
    ),
    Case(
        "regress_with_context",
        "POST",
        "/v1/models/half_plus_two/versions/1:regress",
        {"signature_name": "regress_x_to_y", "context": {"x": 2.0}, "examples": [{}, {}]},
        expect={"results": [3.0, 3.0]},
        source="api_rest.md Classify and Regress API (context shared by all examples)",
    ),
    Case(
        "classify_a_tf2_signature",
        "POST",
        "/v1/models/tf2_examples:classify",
        {"signature_name": "classify", "examples": [{"x": 0.25}]},
        expect={"results": [[["yes", 0.25], ["no", 0.75]]]},
        source="classifier PreProcessClassification (no method_name check by default)",
    ),
    Case(
        "regress_a_tf2_signature",
        "POST",
        "/v1/models/tf2_examples:regress",
        {"signature_name": "regress", "examples": [{"x": 1.5}, {"x": -1.0}]},
        expect={"results": [4.0, -1.0]},
        source="regressor PreProcessRegression (no method_name check by default)",
    ),
    Case(
        "predict_tf1_graph",
        "POST",
        "/v1/models/half_plus_two:predict",
        {"instances": [[1.0], [3.0]]},
        expect={"predictions": [[2.5], [3.5]]},
        source="handler_test Predict (half_plus_two)",
    ),
    # --- malformed paths and methods ---
    Case(
        "predict_with_get",
        "GET",
        "/v1/models/text_model:predict",
        status=400,
        message="Malformed request: GET /v1/models/text_model:predict",
        source="handler_test UnsupportedApiCalls",
    ),
    Case(
        "post_to_an_unknown_api",
        "POST",
        "/v1/foo",
        status=400,
        message="Malformed request: POST /v1/foo",
        source="handler_test UnsupportedApiCalls",
    ),
    Case(
        "version_misspelled_in_path",
        "POST",
        "/v1/models/text_model/version/1:predict",
        {"instances": ["a"]},
        status=400,
        message="Malformed request",
        source="handler_test UnsupportedApiCalls",
    ),
    Case(
        "version_not_a_number",
        "POST",
        "/v1/models/text_model/versions/HELLO:predict",
        {"instances": ["a"]},
        status=400,
        message="Malformed request",
        source="handler_test UnsupportedApiCalls",
    ),
    Case(
        "version_and_label_together",
        "POST",
        "/v1/models/text_model/versions/1/labels/stable:predict",
        {"instances": ["a"]},
        status=400,
        message="Malformed request",
        source="handler_test UnsupportedApiCalls",
    ),
    Case(
        "version_overflows_int64",
        "GET",
        "/v1/models/text_model/versions/18446744073709551615",
        status=400,
        message="Failed to convert version",
        body_may_be_empty=True,
        source="handler_test UnsupportedApiCalls; TF Serving returns before writing the body",
    ),
    Case(
        "unsupported_method",
        "DELETE",
        "/v1/models/text_model",
        status=400,
        message="Malformed request: DELETE /v1/models/text_model",
        source="handler: only GET and POST are dispatched",
    ),
    Case(
        "method_refused_by_the_http_server",
        "TRACE",
        "/v1/models/text_model",
        status=501,
        source="http_server: evhttp allows GET POST HEAD PUT DELETE OPTIONS PATCH; libevent "
        "answers other known methods with HTTP_NOTIMPLEMENTED",
    ),
    Case(
        "path_outside_the_api",
        "GET",
        "/v2/models/text_model",
        status=404,
        source="http_server: only (?i)/v1/.* is dispatched",
    ),
]


@pytest.fixture(scope="module")
def client(rest_url):
    client = Client(rest_url)
    yield client
    client.close()


def test_there_are_enough_cases():
    assert len(CASES) >= 20
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_conformance(client, case):
    body = case.body
    if isinstance(body, dict):
        body = json.dumps(body)
    status, payload = client.request(case.method, case.path, body)
    assert status == case.status, (status, payload)
    if case.expect is not None:
        assert_json_close(payload, case.expect)
    if case.check is not None:
        assert case.check(payload) is not False
    # 404 and 501 come from TF Serving's HTTP layer, with an HTML body there.
    if case.status >= 400 and case.status not in (404, 501) or case.message:
        if case.body_may_be_empty and payload == "":
            return
        assert isinstance(payload, dict) and isinstance(payload.get("error"), str), payload
        if case.message:
            assert case.message in payload["error"]


def test_server_keeps_serving_after_every_case(client):
    status, payload = client.request("GET", "/v1/models/text_model")
    assert status == 200
    assert payload["model_version_status"][0]["state"] == "AVAILABLE"


def _metrics(client):
    """The metrics page as {sample: value} (`prometheus_exporter.cc`'s text format)."""
    status, page = client.request("GET", METRICS_PATH)
    assert status == 200, page
    lines = page.splitlines()
    assert "# TYPE :tensorflow:serving:request_count counter" in lines
    samples = (line.rsplit(" ", 1) for line in lines if line and not line.startswith("#"))
    return {sample: float(value) for sample, value in samples}


def test_metrics_count_rest_requests(client):
    # http_server.cc: each REST request is counted by model and status; OK ones are timed
    # under their API (the verb) and entrypoint REST.
    before = _metrics(client)
    predict = {"signature_name": "scale", "instances": [1.0]}
    assert client.request("POST", "/v1/models/arith:predict", json.dumps(predict))[0] == 200
    assert client.request("POST", "/v1/models/conformance_nope:predict", "{}")[0] == 404
    after = _metrics(client)
    for sample in (
        ':tensorflow:serving:request_count{model_name="arith",status="OK"}',
        ':tensorflow:serving:request_count{model_name="conformance_nope",status="NOT_FOUND"}',
        ':tensorflow:serving:request_latency_count{model_name="arith",API="predict",'
        'entrypoint="REST"}',
    ):
        assert after.get(sample, 0) - before.get(sample, 0) == 1, sample
