"""Request deadlines: past `request_timeout` or the gRPC client's deadline a request is answered
DEADLINE_EXCEEDED and its computation stops; a client that goes away stops its computation too;
concurrent requests do not cancel each other's."""

import socket
import threading
import time

import grpc
import pytest
import tensorflow as tf
from make_models import save_slow_model
from serving_helpers import wait_for
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from kzoo.serving import Client, ModelServer, ServingError
from kzoo.serving.deadlines import Deadline, DeadlineWatch
from kzoo.serving.flags import build_parser, server_options

pytestmark = pytest.mark.usefixtures("local_only")

FOREVER = 10**15  # loop steps: far more than any test waits for


@pytest.fixture(scope="module")
def slow_base(tmp_path_factory):
    base = tmp_path_factory.mktemp("slow_models")
    save_slow_model(str(base / "slow" / "1"))
    return base


def _server(base, **options):
    return ModelServer(
        str(base), rest_port=0, grpc_port=0, file_system_poll_wait_seconds=0, **options
    )


@pytest.fixture(scope="module")
def timed_server(slow_base):
    with _server(slow_base, request_timeout=0.5) as server:
        yield server


@pytest.fixture(scope="module")
def untimed_server(slow_base):
    with _server(slow_base, request_timeout=None) as server:
        yield server


def _steps(server):
    return int(Client(server.rest_url).predict("slow", [0.0], signature_name="steps")["steps"][0])


def _wait_until_counting(server, since):
    wait_for(lambda: _steps(server) > since + 100, timeout=10)


def _assert_stopped(server):
    """The loop stops: the step counter stays put (a computation left running counts on)."""

    def still():
        first = _steps(server)
        time.sleep(0.3)
        return _steps(server) == first

    wait_for(still, timeout=10, interval=0)


def _count_request(n):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "slow"
    request.inputs["n"].CopyFrom(tf.make_tensor_proto(n, dtype=tf.int64))
    return request


@pytest.fixture
def stub(request):
    server = request.getfixturevalue(request.param)
    with grpc.insecure_channel(server.grpc_target) as channel:
        yield server, prediction_service_pb2_grpc.PredictionServiceStub(channel)


def test_rest_request_past_the_timeout_is_504_and_its_computation_stops(timed_server):
    client = Client(timed_server.rest_url)
    status, body = client.request("POST", "/v1/models/slow:predict", {"inputs": {"n": FOREVER}})
    assert (status, body) == (504, {"error": "Timed out waiting for notification"})
    _assert_stopped(timed_server)
    assert client.predict("slow", {"n": 5})["counted"] == 5  # and it keeps serving


@pytest.mark.parametrize("stub", ["timed_server"], indirect=True)
def test_grpc_request_past_the_server_timeout(stub):
    server, prediction = stub
    with pytest.raises(grpc.RpcError) as caught:
        prediction.Predict(_count_request(FOREVER), timeout=30)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert caught.value.details() == "Timed out waiting for notification"
    _assert_stopped(server)


@pytest.mark.parametrize("stub", ["untimed_server"], indirect=True)
def test_grpc_client_deadline_stops_the_computation(stub):
    server, prediction = stub
    with pytest.raises(grpc.RpcError) as caught:
        prediction.Predict(_count_request(FOREVER), timeout=0.5)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    _assert_stopped(server)


@pytest.mark.parametrize("stub", ["untimed_server"], indirect=True)
def test_grpc_call_cancelled_by_its_client_stops_the_computation(stub):
    server, prediction = stub
    before = _steps(server)
    call = prediction.Predict.future(_count_request(FOREVER))
    _wait_until_counting(server, before)
    call.cancel()
    _assert_stopped(server)
    assert prediction.Predict(_count_request(3), timeout=10).outputs["counted"].int64_val == [3]


def test_rest_client_that_disconnects_stops_the_computation(untimed_server):
    before = _steps(untimed_server)
    body = b'{"inputs": {"n": %d}}' % FOREVER
    connection = socket.create_connection(("127.0.0.1", untimed_server.rest_port))
    connection.sendall(
        b"POST /v1/models/slow:predict HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
        % (len(body), body)
    )
    _wait_until_counting(untimed_server, before)
    connection.close()
    _assert_stopped(untimed_server)
    assert Client(untimed_server.rest_url).predict("slow", {"n": 4})["counted"] == 4


def test_deadline_cancels_only_the_computation_of_its_own_thread(slow_base):
    loaded = tf.saved_model.load(str(slow_base / "slow" / "1"))
    count = loaded.signatures["serving_default"]
    deadline = Deadline()
    inside, leave = threading.Event(), threading.Event()

    def hold_a_running_deadline():
        with pytest.raises(ServingError, match="CANCELLED"):
            with deadline.running():
                inside.set()
                leave.wait(30)

    holder = threading.Thread(target=hold_a_running_deadline)
    holder.start()
    inside.wait(10)
    start = int(loaded.steps.numpy())

    def cancel_once_counting():
        wait_for(lambda: int(loaded.steps.numpy()) > start + 1000, timeout=10, interval=0.01)
        deadline.cancel()

    canceller = threading.Thread(target=cancel_once_counting)
    canceller.start()
    try:
        # This thread runs no deadline: the other thread's cancellation must not reach it.
        assert int(count(n=tf.constant(200_000, tf.int64))["counted"]) == 200_000
    finally:
        canceller.join()
        leave.set()
        holder.join()
    assert deadline.cancelled


def test_deadline_states():
    deadline = Deadline(timeout=None)
    assert deadline.remaining() is None and not deadline.expired
    deadline.check()
    past = Deadline(timeout=0)
    with pytest.raises(ServingError, match="DEADLINE_EXCEEDED: Timed out waiting for notification"):
        past.check()
    with pytest.raises(ServingError, match="DEADLINE_EXCEEDED"):
        with past.running():
            pass
    gone = Deadline(timeout=60)
    gone.cancel()
    with pytest.raises(ServingError, match="CANCELLED: The client cancelled the request"):
        gone.check()
    later = Deadline(timeout=60)
    combined = Deadline.latest([Deadline(timeout=1), later, gone])
    assert combined.expires == later.expires and not combined.cancelled
    assert Deadline.latest([later, Deadline()]).expires is None


def test_watch_expires_a_running_deadline():
    before = set(threading.enumerate())
    watch = DeadlineWatch().start()
    try:
        deadline = Deadline(timeout=0.1, watch=watch)
        with pytest.raises(ServingError, match="DEADLINE_EXCEEDED"):
            with deadline.running():
                wait_for(lambda: deadline.cancelled, timeout=10)
    finally:
        watch.stop()
    assert not [t for t in set(threading.enumerate()) - before if t.name == "kzoo-serving-watch"]


def test_request_timeout_setting():
    assert server_options([])[0]["request_timeout"] == 30.0
    assert server_options(["--request-timeout", "0"])[0]["request_timeout"] == 0.0
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--request-timeout", "-1"])
    with pytest.raises(ValueError, match="Invalid value for argument request_timeout"):
        ModelServer("/", request_timeout=-2)


def test_batching_server_honours_the_timeout(slow_base):
    with _server(slow_base, request_timeout=0.5, enable_batching=True) as server:
        client = Client(server.rest_url)
        status, body = client.request("POST", "/v1/models/slow:predict", {"inputs": {"n": FOREVER}})
        assert (status, body) == (504, {"error": "Timed out waiting for notification"})
        _assert_stopped(server)
