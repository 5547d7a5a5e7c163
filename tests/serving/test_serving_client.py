"""kzoo.serving.Client over REST and gRPC: the same answers and errors from both transports."""

import numpy as np
import pytest

from kzoo.serving import Client, ServingError


@pytest.fixture(scope="module", params=["rest", "grpc"])
def client(request, rest_url, grpc_target):
    if request.param == "rest":
        client = Client(rest_url)
    else:
        client = Client(f"grpc://{grpc_target}")
    yield client
    client.close()


def test_url_chooses_the_transport():
    assert Client("http://localhost:8501").transport == "rest"
    assert Client("localhost:8501").transport == "rest"
    assert Client("grpc://localhost:8500").transport == "grpc"
    assert Client("localhost:8500", grpc=True).transport == "grpc"
    with pytest.raises(ValueError, match="Invalid value for argument url"):
        Client("ftp://localhost:21")


def test_status(client):
    assert client.status("text_model") == [
        {"version": 1, "state": "AVAILABLE", "error_code": "OK", "error_message": ""}
    ]
    assert [entry["version"] for entry in client.status("versioned", version=2)] == [2]


def test_metadata_is_the_same_over_both_transports(rest_url, grpc_target):
    rest = Client(rest_url).metadata("arith")
    grpc_metadata = Client(grpc_target, grpc=True).metadata("arith")
    assert rest == grpc_metadata
    signatures = Client(rest_url).signatures("arith")
    assert signatures["scale"]["outputs"]["scaled"]["dtype"] == "DT_FLOAT"


def test_predict_strings(client):
    outputs = client.predict("text_model", {"text": ["ab", "héllo".encode()]})
    assert outputs["length"].dtype == np.int32
    assert outputs["length"].tolist() == [2, 6]
    assert outputs["upper"].dtype == object
    assert outputs["upper"].tolist() == [b"AB", "HéLLO".encode()]


def test_predict_bytes_output(client):
    outputs = client.predict("text_model", [b"\x00\xff"], signature_name="echo_bytes")
    assert outputs["data_bytes"].tolist() == [b"\x00\xff"]


def test_predict_two_inputs_casts_to_the_signature_types(client):
    outputs = client.predict("arith", {"a": [[1, 2]], "b": [[3, 4]]})
    assert outputs["sum"].dtype == np.float32
    np.testing.assert_array_equal(outputs["sum"], [[4.0, 6.0]])
    np.testing.assert_array_equal(outputs["product"], [[3.0, 8.0]])
    counted = client.predict("arith", {"ids": [[1, 0, 2]]}, signature_name="count")
    assert counted["nonzero"].dtype == np.int64 and counted["nonzero"].tolist() == [2]


def test_predict_versions_labels_and_output_filter(client):
    assert client.predict("versioned", [2.0])["y"].tolist() == [4.0]
    assert client.predict("versioned", [2.0], version=1)["y"].tolist() == [2.0]
    assert client.predict("versioned", [2.0], label="stable")["y"].tolist() == [2.0]
    outputs = client.predict("text_model", ["a"], output_filter=["upper"])
    assert list(outputs) == ["upper"]


def test_errors_carry_tf_serving_codes(client):
    with pytest.raises(ServingError) as caught:
        client.predict("no_such_model", {"x": [1.0]})
    assert caught.value.code == "NOT_FOUND"
    assert "no_such_model" in caught.value.message
    with pytest.raises(ServingError) as caught:
        client.status("versioned", label="no_such_label")
    assert caught.value.code == "INVALID_ARGUMENT"
    with pytest.raises(ServingError) as caught:
        client.predict("versioned", {"x": ["not a number"]})
    assert caught.value.code == "INVALID_ARGUMENT"


def test_rest_error_status(rest_url):
    with pytest.raises(ServingError) as caught:
        Client(rest_url).metadata("no_such_model")
    assert caught.value.http_status == 404


def test_client_is_thread_safe(client):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: client.predict("versioned", [i])["y"][0], range(32)))
    assert results == [2.0 * i for i in range(32)]


def test_a_failed_request_does_not_break_the_next_one():
    # A server whose first answer comes after the client's timeout: that request fails, and the
    # next one must go out on a new connection instead of the half-used one.
    import http.server
    import threading
    import time

    calls = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            calls.append(self.path)
            if len(calls) == 1:
                time.sleep(1.0)
            body = b'{"model_version_status": []}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            pass  # the slow answer's socket is closed by the client: expected

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = Client(f"http://127.0.0.1:{server.server_address[1]}", timeout=0.3)
        with pytest.raises(TimeoutError):
            client.request("GET", "/v1/models/slow")
        assert client.request("GET", "/v1/models/fine") == (200, {"model_version_status": []})
        client.close()
    finally:
        server.shutdown()
        server.server_close()


def test_floats_for_an_integer_input_are_refused_not_truncated(client):
    with pytest.raises(ServingError) as caught:
        client.predict("arith", {"ids": [[1.7, 0.2]]}, signature_name="count")
    assert caught.value.code == "INVALID_ARGUMENT"
    if client.transport == "rest":
        assert caught.value.message == (
            "JSON Value: 1.7 Type: Number is not of expected type: int64"
        )
    else:
        assert caught.value.message == "Expects arg[0] to be int64 but double is provided"
    counts = client.predict("arith", {"ids": [[1, 0]]}, signature_name="count")
    assert counts["nonzero"].tolist() == [1]
