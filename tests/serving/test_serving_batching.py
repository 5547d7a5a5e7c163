"""Request batching: concurrent requests merged into one call give the answers of single calls."""

import json
import re
import threading
import time

import numpy as np
import pytest

from kzoo.serving import Client, ModelServer, ServingError
from kzoo.serving.batching import Batcher

pytestmark = pytest.mark.usefixtures("local_only")


def _concurrently(functions):
    """Runs the functions at the same moment, one thread each; returns their results in order."""
    barrier = threading.Barrier(len(functions))
    results = [None] * len(functions)

    def run(index):
        barrier.wait()
        try:
            results[index] = functions[index]()
        except Exception as error:  # noqa: BLE001 - reported by the caller
            results[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(functions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_batcher_merges_concurrent_calls():
    sizes = []

    def double(inputs):
        sizes.append(len(inputs["x"]))
        return {"y": inputs["x"] * 2, "rows": np.arange(len(inputs["x"]))}

    batcher = Batcher(max_batch_size=64, batch_timeout_micros=200_000)
    calls = [
        lambda i=i: batcher.run("double", {"x": np.full(i % 3 + 1, float(i))}, double)
        for i in range(8)
    ]
    results = _concurrently(calls)
    for i, result in enumerate(results):
        np.testing.assert_array_equal(result["y"], np.full(i % 3 + 1, 2.0 * i))
    assert sum(sizes) == sum(i % 3 + 1 for i in range(8))
    assert len(sizes) < 8 and batcher.merged_requests >= 2


def test_batcher_keeps_unbatchable_calls_apart():
    batcher = Batcher(max_batch_size=4, batch_timeout_micros=50_000)

    def total(inputs):
        return {"y": np.array([np.sum(inputs["x"])])}

    scalar = batcher.run("sum", {"x": np.array(3.0)}, total)
    too_big = batcher.run("sum", {"x": np.ones(9)}, total)
    assert scalar["y"].tolist() == [3.0] and too_big["y"].tolist() == [9.0]
    # Outputs without the batch dimension cannot be split: each request runs on its own.
    results = _concurrently(
        [lambda i=i: batcher.run("sum", {"x": np.full(2, float(i))}, total) for i in range(3)]
    )
    assert [result["y"].tolist() for result in results] == [[0.0], [2.0], [4.0]]


def test_batcher_gives_each_request_its_own_error():
    def fragile(inputs):
        if np.any(inputs["x"] < 0):
            raise ServingError("INVALID_ARGUMENT", "negative input")
        return {"y": np.sqrt(inputs["x"])}

    batcher = Batcher(max_batch_size=16, batch_timeout_micros=200_000)
    results = _concurrently(
        [lambda v=v: batcher.run("sqrt", {"x": np.array([v])}, fragile) for v in (4.0, -1.0, 9.0)]
    )
    assert results[0]["y"].tolist() == [2.0] and results[2]["y"].tolist() == [3.0]
    assert isinstance(results[1], ServingError) and results[1].message == "negative input"


def test_batched_answers_equal_single_answers(serving_models, local_server):
    requests = []
    for i in range(6):
        requests.append(("text_model", {"instances": [f"text {i}", "é" * i]}))
        a, b = [[i, 0.5 * i]], [[1.25, -i]]
        requests.append(("arith", {"inputs": {"a": a, "b": b}}))
        requests.append(("arith", {"signature_name": "count", "instances": [[1, 0, i] * (i + 1)]}))
    single = Client(local_server.rest_url)
    expected = [
        single.request("POST", f"/v1/models/{name}:predict", json.dumps(body))
        for name, body in requests
    ]
    with ModelServer(
        model_config_file=str(serving_models / "models.config"),
        rest_port=0,
        grpc_port=None,
        file_system_poll_wait_seconds=0,
        enable_batching=True,
        max_batch_size=8,
        batch_timeout_micros=100_000,
    ) as server:
        client = Client(server.rest_url)
        results = _concurrently(
            [
                lambda name=name, body=body: client.request(
                    "POST", f"/v1/models/{name}:predict", json.dumps(body)
                )
                for name, body in requests
            ]
        )
        assert server.batcher.merged_requests >= 2
    assert results == expected


def test_a_request_past_its_deadline_leaves_its_batch_to_the_others():
    from kzoo.serving.deadlines import Deadline

    batcher = Batcher(max_batch_size=8, batch_timeout_micros=100_000)
    finish = threading.Event()

    def slow_double(inputs):
        finish.wait(10)
        return {"y": inputs["x"] * 2}

    threading.Timer(0.5, finish.set).start()
    short, long = Deadline(timeout=0.2), Deadline(timeout=30)
    results = _concurrently(
        [
            lambda: batcher.run("double", {"x": np.ones(1)}, slow_double, short),
            lambda: batcher.run("double", {"x": np.full(2, 3.0)}, slow_double, long),
        ]
    )
    assert isinstance(results[0], ServingError) and results[0].code == "DEADLINE_EXCEEDED"
    np.testing.assert_array_equal(results[1]["y"], [6.0, 6.0])


def _held_batcher():
    """A one-thread batcher whose first call holds its thread until `release` is set."""
    batcher = Batcher(max_batch_size=64, num_batch_threads=1)
    started, release, sizes = threading.Event(), threading.Event(), []

    def double(inputs):
        sizes.append(len(inputs["x"]))
        if len(sizes) == 1:
            started.set()
            release.wait(10)
        return {"y": inputs["x"] * 2}

    first = threading.Thread(target=batcher.run, args=("k", {"x": np.ones(1)}, double))
    first.start()
    assert started.wait(10)
    return batcher, double, release, sizes, first


def test_a_busy_batcher_gathers_requests_while_its_threads_run():
    # TF Serving's scheduling: with the default timeout of 0, a request arriving while every
    # batch thread runs waits in the open batch, and the next free thread runs them together.
    batcher, double, release, sizes, first = _held_batcher()
    threading.Timer(0.3, release.set).start()
    results = _concurrently(
        [lambda i=i: batcher.run("k", {"x": np.full(1, float(i))}, double) for i in range(5)]
    )
    first.join()
    batcher.stop()
    assert [result["y"].tolist() for result in results] == [[2.0 * i] for i in range(5)]
    assert sizes == [1, 5] and batcher.calls == 2 and batcher.merged_requests == 5


def test_an_idle_batcher_answers_at_once_in_the_callers_thread():
    batcher = Batcher(max_batch_size=8)
    threads = []

    def where(inputs):
        threads.append(threading.current_thread())
        return {"y": inputs["x"]}

    batcher.run("k", {"x": np.ones(2)}, where)
    assert threads == [threading.current_thread()] and not batcher._threads


def test_a_full_queue_is_unavailable():
    batcher = Batcher(max_batch_size=1, num_batch_threads=1, max_enqueued_batches=1)
    started, release = threading.Event(), threading.Event()

    def hold(inputs):
        started.set()
        release.wait(10)
        return {"y": inputs["x"]}

    first = threading.Thread(target=batcher.run, args=("k", {"x": np.ones(1)}, hold))
    first.start()
    assert started.wait(10)
    second = threading.Thread(target=batcher.run, args=("k", {"x": np.ones(1)}, hold))
    second.start()
    time.sleep(0.2)  # the second request's batch is queued, waiting for the thread
    with pytest.raises(
        ServingError,
        match="The batch scheduling queue to which this task was "
        "submitted is full; currently 1 batches enqueued and max_enqueued_batches is 1",
    ):
        batcher.run("k", {"x": np.ones(1)}, hold)
    release.set()
    first.join()
    second.join()
    batcher.stop()


def test_allowed_batch_sizes_pad_merged_batches():
    batcher = Batcher(max_batch_size=4, batch_timeout_micros=200_000, allowed_batch_sizes=[2, 4])
    sizes = []

    def double(inputs):
        sizes.append(len(inputs["x"]))
        return {"y": inputs["x"] * 2}

    results = _concurrently(
        [lambda i=i: batcher.run("k", {"x": np.full(1, float(i + 1))}, double) for i in range(3)]
    )
    batcher.stop()
    assert [result["y"].tolist() for result in results] == [[2.0], [4.0], [6.0]]
    assert sizes == [4]  # 3 rows padded to the allowed size 4


@pytest.mark.parametrize(
    "arguments, message",
    [
        (
            {"max_batch_size": 8, "allowed_batch_sizes": [4, 2, 8]},
            "allowed_batch_sizes entries must be monotonically increasing",
        ),
        (
            {"max_batch_size": 8, "allowed_batch_sizes": [2, 4]},
            "Last entry in allowed_batch_sizes must match max_batch_size; last entry was 4; "
            "expected 8",
        ),
        (
            {
                "max_batch_size": 8,
                "allowed_batch_sizes": [2, 8],
                "enable_large_batch_splitting": True,
                "max_execution_batch_size": 4,
            },
            "Last entry in allowed_batch_sizes must be equal to max_execution_batch_size; last "
            "entry was 8; expected 4",
        ),
        (
            {"num_batch_threads": 0},
            "Invalid value for argument num_batch_threads. Expected a positive integer. "
            "Received: num_batch_threads=0",
        ),
    ],
)
def test_bad_batching_parameters(arguments, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Batcher(**arguments)


def test_large_batch_splitting_runs_a_large_request_in_chunks():
    batcher = Batcher(
        max_batch_size=10, enable_large_batch_splitting=True, max_execution_batch_size=4
    )
    sizes = []

    def double(inputs):
        sizes.append(len(inputs["x"]))
        return {"y": inputs["x"] * 2}

    result = batcher.run("k", {"x": np.arange(10.0)}, double)
    assert result["y"].tolist() == [2.0 * i for i in range(10)] and sizes == [4, 4, 2]


class _Answers:
    """Collects `Batcher.submit` callbacks: `(outputs, error, thread)` by request index."""

    def __init__(self, count):
        self.results = {}
        self.all_in = threading.Event()
        self.count = count

    def callback(self, index):
        def called(outputs, error):
            self.results[index] = (outputs, error, threading.current_thread())
            if len(self.results) == self.count:
                self.all_in.set()

        return called


def test_submitted_calls_are_answered_by_callback_from_their_batch():
    from kzoo.serving.deadlines import Deadline

    batcher, double, release, sizes, first = _held_batcher()
    answers = _Answers(5)
    for i in range(5):
        queued = batcher.submit(
            "k", {"x": np.full(1, float(i))}, double, Deadline(), answers.callback(i)
        )
        assert queued
    assert not answers.results  # nobody waits in the caller's thread
    release.set()
    assert answers.all_in.wait(10)
    first.join()
    batcher.stop()
    for i in range(5):
        outputs, error, thread = answers.results[i]
        assert error is None and outputs["y"].tolist() == [2.0 * i]
        assert thread.name.startswith("kzoo-serving-batch")
    assert sizes == [1, 5] and batcher.merged_requests == 5


def test_a_submitted_request_stopped_while_it_waits_is_answered_at_once():
    from kzoo.serving.deadlines import Deadline, DeadlineWatch

    watch = DeadlineWatch().start()
    batcher, double, release, sizes, first = _held_batcher()
    answers = _Answers(3)
    short, gone, patient = Deadline(0.2, watch=watch), Deadline(watch=watch), Deadline(30, watch)
    for index, deadline in enumerate((short, gone, patient)):
        batcher.submit("k", {"x": np.ones(1)}, double, deadline, answers.callback(index))
    gone.cancel()
    started = time.monotonic()
    while len(answers.results) < 2 and time.monotonic() - started < 5:
        time.sleep(0.01)
    # Both answered while the batch thread is still held, and only they.
    assert set(answers.results) == {0, 1} and not release.is_set()
    assert answers.results[0][1].code == "DEADLINE_EXCEEDED"
    assert answers.results[1][1].code == "CANCELLED"
    release.set()
    assert answers.all_in.wait(10)
    first.join()
    batcher.stop()
    watch.stop()
    assert answers.results[2][0]["y"].tolist() == [2.0]
    assert sizes == [1, 1]  # the stopped requests were left out of the batch


def test_submit_leaves_calls_that_cannot_join_a_batch_to_run():
    from kzoo.serving.deadlines import Deadline

    batcher = Batcher(max_batch_size=4)
    never = _Answers(1).callback(0)
    assert not batcher.submit("k", {"x": np.array(1.0)}, None, Deadline(), never)
    assert not batcher.submit("k", {"x": np.ones(5)}, None, Deadline(), never)
    assert not batcher._queues


def test_submitted_requests_still_queued_at_stop_are_unavailable():
    from kzoo.serving.deadlines import Deadline

    batcher, double, release, sizes, first = _held_batcher()
    answers = _Answers(1)
    batcher.submit("k", {"x": np.ones(1)}, double, Deadline(), answers.callback(0))
    stopping = threading.Thread(target=batcher.stop)
    stopping.start()
    assert answers.all_in.wait(10)
    release.set()
    stopping.join()
    first.join()
    outputs, error, _ = answers.results[0]
    assert outputs is None and error.code == "UNAVAILABLE"
    assert error.message == "The server is shutting down."
