"""`kzoo serve` as a drop-in for tensorflow_model_server: its flags, metrics, health checks,
Unix socket and CORS, each through a server started from a TF Serving command line."""

import grpc
import pytest
import tensorflow as tf
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from kzoo.serving import Client, ModelServer
from kzoo.serving.flags import server_options
from kzoo_cli import main

pytestmark = pytest.mark.usefixtures("local_only")


# One documented tensorflow_model_server flag each, and what `ModelServer` receives.
@pytest.mark.parametrize(
    "flag, option, expected",
    [
        ("--port=9000", "grpc_port", 9000),
        ("--port=0", "grpc_port", None),
        ("--rest_api_port=8601", "rest_port", 8601),
        ("--rest_api_port=0", "rest_port", None),
        ("--model_name=half", "model_name", "half"),
        ("--model_base_path=/models/half", "model_base_path", "/models/half"),
        ("--model_config_file=/models/models.config", "model_config_file", "/models/models.config"),
        ("--model_config_file_poll_wait_seconds=60", "model_config_file_poll_wait_seconds", 60.0),
        ("--file_system_poll_wait_seconds=5", "file_system_poll_wait_seconds", 5.0),
        ("--enable_batching", "enable_batching", True),
        ("--enable_batching=false", "enable_batching", False),
        ("--batching_parameters_file=/b.txt", "batching_parameters_file", "/b.txt"),
        ("--rest_api_timeout_in_ms=2500", "request_timeout", 2.5),
        ("--rest_api_num_threads=8", "rest_workers", 8),
        ("--rest_api_enable_cors_support=true", "enable_cors", True),
        ("--grpc_socket_path=/tmp/tfs.sock", "grpc_socket_path", "/tmp/tfs.sock"),
        ("--grpc_max_threads=4", "grpc_workers", 4),
        (
            "--grpc_channel_arguments=grpc.a=1,grpc.b=x",
            "grpc_channel_arguments",
            [
                ("grpc.a", 1),
                ("grpc.b", "x"),
            ],
        ),
        ("--monitoring_config_file=/m.config", "monitoring_config_file", "/m.config"),
        ("--enable_grpc_healthcheck_service=true", "enable_grpc_healthcheck_service", True),
        ("--enable_model_warmup=false", "warmup", False),
        ("--num_request_iterations_for_warmup=3", "warmup_iterations", 3),
        ("--saved_model_tags=serve,gpu", "saved_model_tags", ["serve", "gpu"]),
        ("--max_num_load_retries=2", "max_load_retries", 2),
        ("--load_retry_interval_micros=500000", "load_retry_interval", 0.5),
        ("--enable_signature_method_name_check", "check_signature_methods", True),
        ("--enable_serialization_as_tensor_content=true", "tensor_content", True),
    ],
)
def test_tf_serving_flag(flag, option, expected):
    assert server_options([flag])[0][option] == expected


def test_tf_serving_command_line_from_its_documentation():
    options, _ = server_options(
        ["--port=8500", "--rest_api_port=8501", "--model_name=half", "--model_base_path=/m/half"]
    )
    assert (options["grpc_port"], options["rest_port"]) == (8500, 8501)
    assert (options["model_name"], options["model_base_path"]) == ("half", "/m/half")
    # TF Serving's default model name, and kzoo's spellings beside TF Serving's.
    assert server_options(["--model_base_path=/m/half"])[0]["model_name"] == "default"
    kzoo = server_options(["--grpc-port", "9000", "--rest-port", "0"])[0]
    assert (kzoo["grpc_port"], kzoo["rest_port"]) == (9000, None)


def test_thread_flags():
    assert server_options(["--tensorflow_session_parallelism=2"])[1]["threads"] == (2, 2)
    assert server_options(["--tensorflow_intra_op_parallelism=3"])[1]["threads"] == (3, None)
    with pytest.raises(ValueError, match="You cannot configure all"):
        server_options(
            [
                "--tensorflow_session_parallelism=1",
                "--tensorflow_intra_op_parallelism=1",
                "--tensorflow_inter_op_parallelism=1",
            ]
        )


def test_tensorflow_session_config_file(tmp_path):
    config = tmp_path / "session.config"
    config.write_text("intra_op_parallelism_threads: 2 inter_op_parallelism_threads: 1")
    flag = f"--tensorflow_session_config_file={config}"
    assert server_options([flag])[1]["threads"] == (2, 1)
    config.write_text("intra_op_parallelism_threads: 2 allow_soft_placement: true")
    with pytest.raises(ValueError, match="this one sets allow_soft_placement"):
        server_options([flag])


def test_a_flag_kzoo_cannot_honour_is_an_error():
    assert server_options(["--use_alts_credentials=false"])[0]["grpc_port"] == 8500
    with pytest.raises(
        ValueError,
        match=r"Invalid value for setting --prefer_tflite_model\. kzoo serve cannot honour it "
        r"\(kzoo serve has no TensorFlow Lite runtime\)\. Expected: false\. "
        r"Received: --prefer_tflite_model=true",
    ):
        server_options(["--prefer_tflite_model=true"])


def test_kzoo_serve_refuses_a_flag_it_cannot_honour_in_one_line(capsys):
    assert main(["serve", "--ssl_config_file=ssl.config"]) == 2
    assert capsys.readouterr().err == (
        "kzoo serve: Invalid value for setting --ssl_config_file. kzoo serve cannot honour it "
        "(kzoo serve has no SSL credentials for gRPC). Expected it not given. "
        "Received: --ssl_config_file=ssl.config\n"
    )


@pytest.mark.parametrize(
    "flags, status, message",
    [
        (
            ["--model_base_path=a", "--model-base-path=b"],
            2,
            "Invalid value for setting --model_base_path. Expected one of --model_base_path (one "
            "model) and --model-base-path (a folder of models), not both "
            "(--model-base-path=b). Received: --model_base_path=a",
        ),
        (
            ["--rest_api_timeout_in_ms=100", "--request-timeout=1"],
            2,
            "Invalid value for setting --rest_api_timeout_in_ms. Expected it or "
            "--request-timeout, not both (--request-timeout=1.0). "
            "Received: --rest_api_timeout_in_ms=100",
        ),
        (
            ["--grpc_channel_arguments=grpc.a"],
            2,
            "Invalid value for setting --grpc_channel_arguments. Expected key=value pairs "
            "separated by commas. Received: --grpc_channel_arguments=grpc.a",
        ),
        (
            ["--monitoring_config_file={folder}/relative.config"],
            1,
            "Invalid value for setting --monitoring_config_file. Expected a prometheus_config "
            "path starting with /. Received: path: 'metrics' in {folder}/relative.config",
        ),
        (
            ["--monitoring_config_file={folder}/bad.config"],
            1,
            "Invalid protobuf file: '{folder}/bad.config'. Error parsing text-format "
            "tensorflow.serving.MonitoringConfig: 1:21: Message type "
            '"tensorflow.serving.PrometheusConfig" has no field named "enabled".',
        ),
        (
            ["--monitoring_config_file={folder}/on.config", "--rest_api_port=0"],
            1,
            "Invalid value for setting --monitoring_config_file. The metrics are served by the "
            "REST API: expected a --rest_api_port. Received: --rest_api_port=0",
        ),
    ],
)
def test_kzoo_serve_refuses_contradicting_or_bad_settings_in_one_line(
    serving_models, tmp_path, capsys, flags, status, message
):
    (tmp_path / "relative.config").write_text("prometheus_config { enable: true path: 'metrics' }")
    (tmp_path / "bad.config").write_text("prometheus_config { enabled: true }")
    (tmp_path / "on.config").write_text("prometheus_config { enable: true }")
    base = f"--model_base_path={serving_models / 'text_model'}"
    flags = [flag.format(folder=tmp_path) for flag in flags]
    if not any("base_path" in flag for flag in flags):
        flags.append(base)
    assert main(["serve", "--port=0", *flags]) == status
    assert capsys.readouterr().err == f"kzoo serve: {message.format(folder=tmp_path)}\n"


def test_kzoo_serve_version(capsys):
    assert main(["serve", "--version"]) == 0
    assert "TensorFlow Library: " in capsys.readouterr().out


def test_a_bad_batching_parameters_file(serving_models, tmp_path, capsys):
    batching = tmp_path / "batching.txt"
    batching.write_text("max_batch_size { value: 8 }\nnope: 4\n")
    argv = [
        "serve",
        f"--model_base_path={serving_models / 'text_model'}",
        "--enable_batching",
        f"--batching_parameters_file={batching}",
    ]
    assert main(argv) == 1
    assert capsys.readouterr().err == (
        f"kzoo serve: Invalid protobuf file: '{batching}'. Error parsing text-format "
        'tensorflow.serving.BatchingParameters: 2:1: Message type "tensorflow.serving.'
        'BatchingParameters" has no field named "nope".\n'
    )
    with pytest.raises(ValueError, match="batching_parameters_file is set without setting"):
        ModelServer(str(serving_models), batching_parameters_file=str(batching))


@pytest.fixture(scope="module")
def dropin_server(serving_models, tmp_path_factory):
    """kzoo's server from a TF Serving command line with metrics, health, socket, CORS and
    batching."""
    folder = tmp_path_factory.mktemp("dropin")
    (folder / "monitoring.config").write_text(
        "prometheus_config { enable: true path: '/monitoring/prometheus/metrics' }"
    )
    (folder / "batching.txt").write_text(
        "max_batch_size { value: 8 } batch_timeout_micros { value: 0 } "
        "num_batch_threads { value: 2 }"
    )
    options, _ = server_options(
        [
            f"--model_config_file={serving_models / 'models.config'}",
            "--file_system_poll_wait_seconds=0",
            f"--monitoring_config_file={folder / 'monitoring.config'}",
            "--enable_grpc_healthcheck_service",
            f"--grpc_socket_path={folder / 'grpc.sock'}",
            "--rest_api_enable_cors_support=true",
            "--enable_batching",
            f"--batching_parameters_file={folder / 'batching.txt'}",
        ]
    )
    options.update(rest_port=0, grpc_port=None)  # free port; gRPC on the socket alone
    with ModelServer(**options) as server:
        yield server


def _float_tensor(values):
    return tf.make_tensor_proto(values, dtype=tf.float32)


@pytest.fixture
def socket_channel(dropin_server):
    with grpc.insecure_channel(f"unix:{dropin_server.grpc_socket_path}") as channel:
        yield channel


def test_grpc_over_a_unix_socket(dropin_server, socket_channel):
    assert dropin_server.grpc_target is None
    stub = prediction_service_pb2_grpc.PredictionServiceStub(socket_channel)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "arith"
    request.model_spec.signature_name = "scale"
    request.inputs["x"].CopyFrom(_float_tensor([1.5, -2.0]))
    response = stub.Predict(request, timeout=10)
    assert list(response.outputs["scaled"].float_val) == [3.0, -4.0]
    request.model_spec.name = "nope"
    with pytest.raises(grpc.RpcError) as failure:
        stub.Predict(request, timeout=10)
    assert failure.value.code() == grpc.StatusCode.NOT_FOUND
    assert failure.value.details() == "Servable not found for request: Latest(nope)"
    with Client(f"unix:{dropin_server.grpc_socket_path}") as client:
        assert client.transport == "grpc"
        assert client.predict("arith", [0.25], signature_name="scale")["scaled"] == [0.5]
    with pytest.raises(ValueError, match="Received: url=unix:$"):
        Client("unix:")


def test_grpc_health_checks_on_the_socket(socket_channel):
    # The services and answers themselves: test_serving_grpc.test_health_check_service.
    health = health_pb2_grpc.HealthStub(socket_channel)
    answer = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_rest_readiness_per_model(dropin_server):
    client = Client(dropin_server.rest_url)
    assert client.request("GET", "/v2/health/live") == (200, {"live": True})
    assert client.request("GET", "/v2/health/ready") == (200, {"ready": True})
    assert client.request("GET", "/v2/models/versioned/versions/2/ready") == (
        200,
        {"name": "versioned", "ready": True},
    )
    assert client.request("GET", "/v2/models/nope/ready") == (
        404,
        {"error": "Could not find any versions of model nope"},
    )
    assert client.request("GET", "/v2/models/versioned/versions/7/ready")[0] == 404
    assert client.request("POST", "/v2/health/live", b"{}") == (
        400,
        {"error": "Malformed request: POST /v2/health/live"},
    )
    assert client.request("GET", "/v2/health/ready") == (200, {"ready": True})


def test_cors(dropin_server):
    client = Client(dropin_server.rest_url)
    connection = client._connection(fresh=True)
    connection.request("OPTIONS", "/v1/models/arith", headers={"Origin": "http://example.com"})
    answer = connection.getresponse()
    answer.read()
    assert answer.status == 200
    assert answer.getheader("Access-Control-Allow-Origin") == "*"
    assert answer.getheader("Access-Control-Allow-Methods") == "POST, GET"
    connection.request("OPTIONS", "/v1/models/arith")
    answer = connection.getresponse()
    assert (answer.status, answer.read()) == (
        400,
        b'{"error": "Origin header is missing in CORS preflight"}',
    )
    connection.request("GET", "/v1/models/arith")
    answer = connection.getresponse()
    answer.read()
    assert (answer.status, answer.getheader("Access-Control-Allow-Origin")) == (200, "*")


def _metrics(client):
    """The metrics page as {sample: value}, checking its TYPE lines on the way."""
    status, page = client.request("GET", "/monitoring/prometheus/metrics")
    assert status == 200
    assert "# TYPE :tensorflow:serving:request_count counter" in page.splitlines()
    samples = (line.rsplit(" ", 1) for line in page.splitlines() if not line.startswith("#"))
    return {sample: float(value) for sample, value in samples}


def test_prometheus_metrics(dropin_server, socket_channel, serving_models):
    client = Client(dropin_server.rest_url)
    # The first predict reads the signature's metadata too: it is not counted below.
    assert client.predict("arith", [0.5], signature_name="scale")["scaled"] == [1.0]
    before = _metrics(client)
    assert client.predict("arith", [1.0], signature_name="scale")["scaled"] == [2.0]
    assert client.request("POST", "/v1/models/unknown:predict", {"instances": [1]})[0] == 404
    assert client.request("POST", "/v1/models/arith:predict", b"{")[0] == 400
    stub = prediction_service_pb2_grpc.PredictionServiceStub(socket_channel)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "arith"
    request.model_spec.signature_name = "scale"
    request.inputs["x"].CopyFrom(_float_tensor([1.0]))
    stub.Predict(request, timeout=10)

    after = _metrics(client)
    counted = {sample: value - before.get(sample, 0.0) for sample, value in after.items()}
    request_count = ":tensorflow:serving:request_count"
    assert counted[f'{request_count}{{model_name="unknown",status="NOT_FOUND"}}'] == 1
    assert counted[f'{request_count}{{model_name="arith",status="INVALID_ARGUMENT"}}'] == 1
    assert counted[f'{request_count}{{model_name="arith",status="OK"}}'] == 2
    # One REST and one gRPC predict, each under its entrypoint; the batcher ran both.
    latency = ":tensorflow:serving:request_latency_count"
    assert counted[f'{latency}{{model_name="arith",API="predict",entrypoint="REST"}}'] == 1
    assert counted[f'{latency}{{model_name="arith",API="Predict",entrypoint="GRPC"}}'] == 1
    assert counted[":tensorflow:serving:batching_session:wrapped_run_count{}"] == 2
    loads = ":tensorflow:cc:saved_model:load_attempt_count"
    assert after[f'{loads}{{model_path="{serving_models / "arith" / "1"}",status="success"}}'] == 1
    # The server still serves after the bad requests.
    assert client.predict("arith", [2.0], signature_name="scale")["scaled"] == [4.0]
