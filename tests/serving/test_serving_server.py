"""kzoo's server itself: binding, body limits, bad bytes, clean stops, signals and `kzoo serve`."""

import gzip
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from serving_helpers import wait_for

from kzoo.serving import Client, ModelServer, serve
from kzoo_cli import main

pytestmark = pytest.mark.usefixtures("local_only")

PREDICT = "/v1/models/text_model:predict"


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _raw(port, data):
    """Sends raw bytes; returns what the server answers before closing or going quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(data)
        connection.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _status_ok(url):
    try:
        return Client(url, timeout=2).status("text_model")[0]["state"] == "AVAILABLE"
    except Exception:  # noqa: BLE001 - not up yet
        return False


@pytest.fixture
def small_server(serving_models):
    with ModelServer(
        str(serving_models / "text_model"),
        rest_port=0,
        grpc_port=None,
        file_system_poll_wait_seconds=0,
        max_request_bytes=1024,
    ) as server:
        yield server


def test_binds_loopback_by_default(local_server):
    assert local_server.host == "127.0.0.1"
    assert local_server._rest.server_address[0] == "127.0.0.1"
    assert local_server.rest_url.startswith("http://127.0.0.1:")


def test_body_over_the_limit_is_refused(small_server):
    client = Client(small_server.rest_url)
    status, payload = client.request("POST", PREDICT, json.dumps({"instances": ["x" * 2000]}))
    assert status == 413
    assert "larger than the limit of 1024 bytes" in payload["error"]
    status, payload = client.request("POST", PREDICT, json.dumps({"instances": ["fits"]}))
    assert (status, payload) == (200, {"predictions": [{"length": 4, "upper": "FITS"}]})


def test_chunked_and_gzip_bodies(small_server):
    connection = http.client.HTTPConnection("127.0.0.1", small_server.rest_port, timeout=5)
    body = json.dumps({"instances": ["chunks"]}).encode()
    connection.request("POST", PREDICT, body=iter([body[:10], body[10:]]), encode_chunked=True)
    response = connection.getresponse()
    assert json.loads(response.read()) == {"predictions": [{"length": 6, "upper": "CHUNKS"}]}
    squeezed = gzip.compress(json.dumps({"instances": ["zipped"]}).encode())
    connection.request("POST", PREDICT, body=squeezed, headers={"Content-Encoding": "gzip"})
    response = connection.getresponse()
    assert json.loads(response.read()) == {"predictions": [{"length": 6, "upper": "ZIPPED"}]}
    bomb = gzip.compress(json.dumps({"instances": ["z" * 100_000]}).encode())
    connection.request("POST", PREDICT, body=bomb, headers={"Content-Encoding": "gzip"})
    response = connection.getresponse()
    assert response.status == 413
    response.read()
    connection.close()


def test_bad_bytes_do_not_stop_the_server(small_server):
    port = small_server.rest_port
    assert b"400" in _raw(port, b"\x00\x01\x02 garbage\r\n\r\n")
    assert _raw(port, b"FOO /v1/models/text_model HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 400")
    answer = _raw(port, b"POST /v1/models/text_model:predict HTTP/1.1\r\nContent-Length: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400")
    truncated = b'POST /v1/models/text_model:predict HTTP/1.1\r\nContent-Length: 50\r\n\r\n{"inst'
    _raw(port, truncated)
    _raw(port, b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n")
    assert _status_ok(small_server.rest_url)


def test_requests_are_served_in_parallel(small_server):
    # A connection that sends half a request must not hold up the others.
    with socket.create_connection(("127.0.0.1", small_server.rest_port)) as slow:
        slow.sendall(b"POST /v1/models/text_model:predict HTTP/1.1\r\nContent-Length: 100\r\n\r\n")
        started = time.monotonic()
        assert _status_ok(small_server.rest_url)
        assert time.monotonic() - started < 2


def test_stop_is_clean(serving_models):
    before = set(threading.enumerate())
    server = ModelServer(
        str(serving_models / "text_model"),
        rest_port=0,
        grpc_port=0,
        file_system_poll_wait_seconds=1,
    ).start()
    port = server.rest_port
    idle = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    idle.request("GET", "/v1/models/text_model")
    assert idle.getresponse().read()
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 3
    assert not [t for t in set(threading.enumerate()) - before if t.name.startswith("kzoo-")]
    with socket.socket() as again:  # the port is free for a new server
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))
        again.listen()
    server.stop()  # a second stop does nothing


def test_serve_runs_until_sigint(serving_models):
    port = _free_port()
    url = f"http://127.0.0.1:{port}"

    def interrupt_when_up():
        wait_for(lambda: _status_ok(url), timeout=30)
        os.kill(os.getpid(), signal.SIGINT)

    helper = threading.Thread(target=interrupt_when_up)
    helper.start()
    server = serve(
        model_base_path=str(serving_models / "text_model"),
        rest_port=port,
        grpc_port=None,
        file_system_poll_wait_seconds=0,
    )
    helper.join()
    assert server.wait(0)
    assert not _status_ok(url)


def test_kzoo_serve_runs_until_sigterm(serving_models):
    port, grpc_port = _free_port(), _free_port()
    url = f"http://127.0.0.1:{port}"
    # TF Serving's documented command line, unchanged.
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kzoo",
            "serve",
            f"--port={grpc_port}",
            f"--rest_api_port={port}",
            "--model_name=text_model",
            f"--model_base_path={serving_models / 'text_model'}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    try:
        wait_for(lambda: _status_ok(url) or process.poll() is not None, timeout=60, interval=0.2)
        assert process.poll() is None, process.stdout.read()
        for client in (Client(url), Client(f"127.0.0.1:{grpc_port}", grpc=True)):
            assert client.predict("text_model", {"text": ["a b"]})["length"] == [3]
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "Exporting HTTP/REST API at:" in output and "Running gRPC ModelServer at" in output
    assert "Server stopped." in output


def test_kzoo_serve_help(capsys):
    assert main(["serve", "--help"]) == 0
    usage = capsys.readouterr().out
    for flag in ("--model-base-path", "--model-config-file", "--enable-batching", "--rest-port"):
        assert flag in usage


def test_kzoo_serve_reports_a_bad_config(tmp_path, capsys):
    config = tmp_path / "bad.config"
    config.write_text("model_config_list { config { name: 'x' } ")
    assert main(["serve", "--model-config-file", str(config)]) == 1
    assert capsys.readouterr().err == (
        f"kzoo serve: Invalid protobuf file: '{config}'. Error parsing text-format "
        'tensorflow.serving.ModelServerConfig: 1:40: Expected "}".\n'
    )


def _own_lines(stderr):
    """stderr without TensorFlow's import-time log lines (absl's format), which it prints
    whatever TF_CPP_MIN_LOG_LEVEL says."""
    return [
        line
        for line in stderr.splitlines()
        if not re.match(r"[IWEF]\d{4} |WARNING: All log messages before absl", line)
        and not line.startswith("To enable the following instructions")
    ]


@pytest.mark.parametrize(
    "kind, flag",
    [
        ("missing", "--model-base-path"),
        ("file", "--model-base-path"),
        ("file", "--model_base_path"),
    ],
)
def test_kzoo_serve_refuses_a_bad_base_path_in_one_line(tmp_path, capsys, kind, flag):
    path = tmp_path / "nope"
    if kind == "file":
        path.write_text("not a folder")
    status = main(["serve", f"{flag}={path}", "--rest-port", "0"])
    assert status == 2
    problem = "does not exist" if kind == "missing" else "is not a folder"
    assert capsys.readouterr().err == (
        f"kzoo serve: Invalid value for setting {flag}. Expected an existing folder "
        f"of models. Received: {flag}={path}, which {problem}\n"
    )


def test_kzoo_serve_process_exits_at_once_on_a_missing_base_path(tmp_path):
    missing = tmp_path / "nope"
    result = subprocess.run(
        [sys.executable, "-m", "kzoo", "serve", "--model-base-path", str(missing)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert result.returncode == 2
    lines = _own_lines(result.stderr)
    assert len(lines) == 1 and str(missing) in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_model_server_refuses_a_missing_base_path(tmp_path):
    with pytest.raises(ValueError, match="Expected an existing folder of models.*does not exist"):
        ModelServer(str(tmp_path / "nope"), rest_port=0, grpc_port=None)


def _read_answers(connection, count):
    """Reads `count` HTTP answers from a socket: a list of `(status line, body)`."""
    data, answers = b"", []
    while len(answers) < count:
        head_end = data.find(b"\r\n\r\n")
        if head_end >= 0:
            head = data[:head_end].decode("latin-1").split("\r\n")
            fields = dict(line.lower().split(": ", 1) for line in head[1:])
            length = int(fields["content-length"])
            if len(data) >= head_end + 4 + length:
                answers.append((head[0], data[head_end + 4 : head_end + 4 + length]))
                data = data[head_end + 4 + length :]
                continue
        chunk = connection.recv(65536)
        assert chunk, f"connection closed after {len(answers)} answers"
        data += chunk
    return answers


def _predict_bytes(text, extra_headers=b""):
    body = json.dumps({"instances": [text]}).encode()
    return b"POST /v1/models/text_model:predict HTTP/1.1\r\nContent-Length: %d\r\n%s\r\n%s" % (
        len(body),
        extra_headers,
        body,
    )


def test_pipelined_requests_are_answered_in_order(small_server):
    texts = [f"pipe {i}" for i in range(20)]
    with socket.create_connection(("127.0.0.1", small_server.rest_port), timeout=5) as sock:
        # A stray line end after a body (some clients send one) is not a request.
        sock.sendall(b"\r\n".join(_predict_bytes(text) for text in texts))
        answers = _read_answers(sock, len(texts))
    assert [status for status, _ in answers] == ["HTTP/1.1 200 OK"] * len(texts)
    uppers = [json.loads(body)["predictions"][0]["upper"] for _, body in answers]
    assert uppers == [text.upper() for text in texts]


def test_expect_100_continue_is_answered_before_the_body(small_server):
    body = json.dumps({"instances": ["later"]}).encode()
    with socket.create_connection(("127.0.0.1", small_server.rest_port), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/models/text_model:predict HTTP/1.1\r\nContent-Length: %d\r\n"
            b"Expect: 100-continue\r\n\r\n" % len(body)
        )
        assert sock.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        [(status, answer)] = _read_answers(sock, 1)
    assert status == "HTTP/1.1 200 OK"
    assert json.loads(answer) == {"predictions": [{"length": 5, "upper": "LATER"}]}


def test_http_1_0_and_connection_close_end_the_connection_after_the_answer(small_server):
    port = small_server.rest_port
    for request in (
        b"GET /v1/models/text_model HTTP/1.0\r\n\r\n",
        b"GET /v1/models/text_model HTTP/1.1\r\nConnection: close\r\n\r\n",
    ):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(request)  # no shutdown: the server closes
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 OK") and b"Connection: close" in answer
    head = _raw(port, b"HEAD /v2/health/live HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and head.endswith(b"\r\n\r\n")
    assert b"Content-Length: 14\r\n" in head  # of the GET's body, which HEAD leaves out


def test_a_batching_server_answers_predict_requests_without_a_thread_each(serving_models):
    before = set(threading.enumerate())  # other servers of the session have their own
    with ModelServer(
        str(serving_models / "text_model"),
        rest_port=0,
        grpc_port=None,
        file_system_poll_wait_seconds=0,
        enable_batching=True,
    ) as server:
        connections = [
            socket.create_connection(("127.0.0.1", server.rest_port), timeout=10) for _ in range(32)
        ]
        for round_ in range(3):
            for index, sock in enumerate(connections):
                sock.sendall(_predict_bytes(f"c{index} r{round_}"))
            for index, sock in enumerate(connections):
                [(status, body)] = _read_answers(sock, 1)
                assert json.loads(body)["predictions"][0]["upper"] == f"C{index} R{round_}"
        workers = [
            t for t in set(threading.enumerate()) - before if t.name.startswith("kzoo-serving-http")
        ]
        for sock in connections:
            sock.close()
        # Parsed on the event loop and answered by the batch threads: no worker thread began.
        assert workers == []
