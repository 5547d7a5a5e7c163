"""Hostile requests against a `kzoo serve` process, one function per case.

Each case sends one request meant to take the server's memory or time (two million instances, a
40-byte gRPC request declaring a million values, `max_new_tokens=100000000`, a GAN asked for
two billion images, token ids outside
the vocabulary, a request past the deadline, a client that goes away) and returns an `Outcome`:
what the client got and the server's memory afterwards. `tests/faults/test_hostile_requests.py`
runs them all against a server in a subprocess; a benchmark can import the same functions from
the repository root:

    from tests.faults import hostile

    with hostile.ServerProcess("saved_models", "--request-timeout", "1") as server:
        idle = server.memory()
        outcome = hostile.grpc_shape_bomb(server, "reviews", "token_ids", "token_ids")
        print(outcome.code, outcome.rss_bytes - idle.rss_bytes)

`make_fault_models(base)` writes the small models the fault tests serve.
"""

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import grpc
from tensorflow.core.framework import tensor_pb2, types_pb2
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from kzoo.serving import Client, ServingError

# The slow model's loop: far more steps than any case waits for.
FOREVER = 10**15


@dataclasses.dataclass
class Memory:
    """A process's resident memory (VmRSS) and its peak so far (VmHWM), in bytes."""

    rss_bytes: int
    peak_bytes: int


def process_memory(pid):
    """`Memory` of a process, from `/proc/<pid>/status` (Linux)."""
    fields = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) * 1024
    return Memory(fields["VmRSS"], fields["VmHWM"])


@dataclasses.dataclass
class Outcome:
    """What one request got, and the server's memory once it was answered.

    Attributes:
        case: str. The case's name.
        code: str. The canonical status the client saw (`"OK"`, `"INVALID_ARGUMENT"`...), or
            `"NO_ANSWER"` for a client that went away.
        http_status: int or None. The REST status, for REST cases.
        message: str. The error message (empty when OK).
        seconds: float. From sending to the answer.
        rss_bytes, peak_bytes: int. The server's `Memory` afterwards.
        stopped: bool or None. For the slow cases: whether the computation stopped.
    """

    case: str
    code: str
    http_status: int
    message: str
    seconds: float
    rss_bytes: int
    peak_bytes: int
    stopped: bool = None


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServerProcess:
    """`kzoo serve` in a subprocess on free ports, up once every model under the base path is
    AVAILABLE.

    Args:
        model_base_path: str. The folder of models to serve.
        *options: str. More `kzoo serve` flags, e.g. `"--request-timeout", "1"`.
        start_timeout: float. Seconds to wait for the models. Defaults to 180.
    """

    def __init__(self, model_base_path, *options, start_timeout=180.0):
        self.model_base_path = str(model_base_path)
        self.options = [str(option) for option in options]
        self.start_timeout = start_timeout
        self.rest_port = _free_port()
        self.grpc_port = _free_port()
        self.process = None
        self._log = None

    @property
    def rest_url(self):
        return f"http://127.0.0.1:{self.rest_port}"

    @property
    def grpc_target(self):
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def pid(self):
        return self.process.pid

    def start(self):
        """Starts the server and waits for its models; returns self."""
        self._log = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
        command = [
            sys.executable,
            "-m",
            "kzoo",
            "serve",
            "--model-base-path",
            self.model_base_path,
            "--rest-port",
            str(self.rest_port),
            "--grpc-port",
            str(self.grpc_port),
            "--file-system-poll-wait-seconds",
            "0",
            *self.options,
        ]
        self.process = subprocess.Popen(
            command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        )
        names = sorted(
            entry
            for entry in os.listdir(self.model_base_path)
            if os.path.isdir(os.path.join(self.model_base_path, entry))
            and not entry.startswith(".")
        )
        deadline = time.monotonic() + self.start_timeout
        while not all(self._available(name) for name in names):
            if self.process.poll() is not None:
                raise RuntimeError(f"kzoo serve exited early:\n{self.log()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"kzoo serve did not load {names}:\n{self.log()}")
            time.sleep(0.2)
        return self

    def _available(self, name):
        # A new client each time: one whose connection was refused stays unusable.
        with Client(self.rest_url, timeout=5) as client:
            try:
                return client.status(name)[0]["state"] == "AVAILABLE"
            except Exception:  # noqa: BLE001 - not up yet
                return False

    def memory(self):
        """The server's `Memory` now."""
        return process_memory(self.pid)

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def log(self):
        """What the server printed so far."""
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read()

    def stop(self):
        """SIGTERM, then SIGKILL if it has not stopped within 20 s; returns the exit status."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
        if self._log is not None:
            self._log.close()


# === Sending ===


def _outcome(server, case, started, code, http_status=None, message="", stopped=None):
    memory = server.memory()
    return Outcome(
        case,
        code,
        http_status,
        message,
        time.monotonic() - started,
        memory.rss_bytes,
        memory.peak_bytes,
        stopped,
    )


def _post(server, case, model, body, timeout=120):
    """POSTs a JSON body (bytes, or an object) to `model:predict`; returns an `Outcome`."""
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    started = time.monotonic()
    with Client(server.rest_url, timeout=timeout) as client:
        status, payload = client.request("POST", f"/v1/models/{model}:predict", body)
    if status == 200:
        return _outcome(server, case, started, "OK", status)
    error = ServingError.from_http(status, payload.get("error", ""))
    return _outcome(server, case, started, error.code, status, error.message)


def _grpc_predict(server, case, request, timeout=60):
    started = time.monotonic()
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        try:
            stub.Predict(request, timeout=timeout)
        except grpc.RpcError as error:
            return _outcome(server, case, started, error.code().name, None, error.details())
    return _outcome(server, case, started, "OK")


def normal_request(server, model, inputs, signature_name=""):
    """A well-formed columnar predict request: the server should answer it."""
    body = {"inputs": inputs}
    if signature_name:
        body["signature_name"] = signature_name
    return _post(server, "normal request", model, body)


def huge_instance_count(server, model, instance="the film was good and fun", count=2_000_000):
    """A REST body of `count` instances (2 million short texts: about 60 MB)."""
    item = json.dumps(instance).encode()
    body = b'{"instances": [' + b", ".join([item] * count) + b"]}"
    return _post(server, f"{count} instances ({len(body) >> 20} MB)", model, body)


def grpc_shape_bomb(server, model, signature_name, input_name, shape=(1_000_000, 1)):
    """A gRPC request of about 40 bytes whose int32 input declares `shape` but sends two
    values (TensorFlow would repeat the last one to fill the shape)."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature_name
    proto = tensor_pb2.TensorProto(dtype=types_pb2.DT_INT32)
    for size in shape:
        proto.tensor_shape.dim.add().size = size
    proto.int_val.extend([1, 2])
    request.inputs[input_name].CopyFrom(proto)
    return _grpc_predict(server, f"gRPC shape bomb ({request.ByteSize()} bytes)", request)


def huge_max_new_tokens(server, model, value=100_000_000):
    """A generator's `sample` request for `value` new tokens."""
    inputs = {"prompt": ["hel"], "max_new_tokens": value, "sampler": "greedy"}
    inputs |= {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "num_beams": 1, "seed": 1}
    body = {"signature_name": "sample", "inputs": inputs}
    return _post(server, f"max_new_tokens={value}", model, body)


def huge_num_images(server, model, value=2**31 - 1):
    """A GAN's `sample` request for `value` images (28 x 28 floats each)."""
    body = {"signature_name": "sample", "inputs": {"num_images": value, "seed": 1}}
    return _post(server, f"num_images={value}", model, body)


def token_ids_request(server, model, input_name, ids, case, others=None):
    """A `token_ids` request with the given ids (out of range, negative, floats...)."""
    body = {"signature_name": "token_ids", "inputs": {input_name: ids, **(others or {})}}
    return _post(server, case, model, body)


def _steps(server, model):
    with Client(server.rest_url, timeout=10) as client:
        outputs = client.predict(model, [0.0], signature_name="steps")
    return int(outputs["steps"][0])


def _wait(condition, timeout):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _stops(server, model, timeout=10.0):
    """Whether the slow model's step counter stops moving within `timeout` seconds."""

    def still():
        first = _steps(server, model)
        time.sleep(0.3)
        return _steps(server, model) == first

    return _wait(still, timeout)


def past_the_deadline(server, model="slow"):
    """A request to the slow model that would run for hours: past the server's
    `--request-timeout` it should be answered DEADLINE_EXCEEDED and stopped."""
    outcome = _post(server, "request past the deadline", model, {"inputs": {"n": FOREVER}})
    outcome.stopped = _stops(server, model)
    return outcome


def disconnecting_client(server, model="slow"):
    """A REST client that sends an endless request to the slow model, then closes its
    connection once the computation runs: the server should stop it."""
    before = _steps(server, model)
    started = time.monotonic()
    body = json.dumps({"inputs": {"n": FOREVER}}).encode()
    head = f"POST /v1/models/{model}:predict HTTP/1.1\r\nHost: kzoo\r\nContent-Length: {len(body)}"
    with socket.create_connection(("127.0.0.1", server.rest_port), timeout=10) as connection:
        connection.sendall(head.encode() + b"\r\n\r\n" + body)
        running = _wait(lambda: _steps(server, model) > before, 10)
    outcome = _outcome(server, "client that disconnects", started, "NO_ANSWER")
    outcome.stopped = running and _stops(server, model)
    return outcome


def cancelled_grpc_call(server, model="slow"):
    """A gRPC call to the slow model that its client cancels once it runs."""
    before = _steps(server, model)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.inputs["n"].CopyFrom(tensor_pb2.TensorProto(dtype=types_pb2.DT_INT64))
    request.inputs["n"].int64_val.append(FOREVER)
    started = time.monotonic()
    with grpc.insecure_channel(server.grpc_target) as channel:
        call = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict.future(request)
        running = _wait(lambda: _steps(server, model) > before, 10)
        call.cancel()
    outcome = _outcome(server, "gRPC call cancelled by its client", started, "CANCELLED")
    outcome.stopped = running and _stops(server, model)
    return outcome


# === Models ===


def make_fault_models(base):
    """Writes the models the fault tests serve under `base`: `reviews` (a classifier with a
    `token_ids` endpoint), `writer` (a GPT with `sample`, context 16), `painter` (a GAN with
    `sample`) and `slow` (a loop to cancel, `tests/serving/make_models.py`). Returns `base`."""
    import keras

    import kzoo
    from kzoo.data import vectorization
    from kzoo.export import export_bundle
    from kzoo.signatures import ServingBundle
    from tests.serving.make_models import save_slow_model

    keras.utils.set_random_seed(0)
    texts = ["the film was good", "not good at all", "a dull movie"]
    words = vectorization.make_vectorizer(texts)
    chars = vectorization.make_vectorizer(["hello world\n"], split="character", standardize=None)
    classifier = ServingBundle(
        kzoo.build_lstm_classifier(vocabulary_size=words.vocabulary_size(), num_classes=2, units=4),
        "classification",
        {"text": words},
        ["bad", "good"],
        examples=texts,
    )
    writer = ServingBundle(
        kzoo.build_gpt(
            vocabulary_size=chars.vocabulary_size(),
            max_sequence_length=16,
            num_layers=1,
            hidden_dim=8,
            num_heads=2,
            intermediate_dim=16,
        ),
        "language_model",
        {"text": chars},
        split="character",
        max_new_tokens=4,
        examples=["hel"],
    )
    export_bundle(classifier, str(base), "reviews")
    export_bundle(writer, str(base), "writer")
    painter = kzoo.build_gan(latent_dim=8, generator_units=(8,), discriminator_units=(8,))
    export_bundle(ServingBundle(painter, "gan"), str(base), "painter")
    save_slow_model(os.path.join(str(base), "slow", "1"))
    return base
