"""A bounded load test on loopback, and a rough measure of the REST overhead (slow)."""

import json
import os
import statistics
import threading
import time

import numpy as np
import pytest
import tensorflow as tf

from kzoo.serving import Client

CLIENTS = 32
REQUESTS_PER_CLIENT = 20
OVERHEAD_REQUESTS = int(os.environ.get("KZOO_OVERHEAD_REQUESTS", 2000))


def _requests():
    """A fixed mix of predict requests: strings, two float inputs, integers, versions."""
    mix = []
    for i in range(8):
        mix.append(("/v1/models/text_model:predict", {"instances": [f"load {i}", "x" * i]}))
        mix.append(("/v1/models/arith:predict", {"inputs": {"a": [[i, 1.5]], "b": [[0.25, -i]]}}))
        mix.append(
            (
                "/v1/models/arith:predict",
                {"signature_name": "count", "instances": [[i, 0, 1], [0, 0, i]]},
            )
        )
        mix.append((f"/v1/models/versioned/versions/{i % 2 + 1}:predict", {"instances": [i]}))
    return mix


def test_concurrent_clients_get_the_single_request_answers(rest_url):
    mix = _requests()
    single = Client(rest_url)
    expected = [single.request("POST", path, json.dumps(body)) for path, body in mix]
    assert all(status == 200 for status, _ in expected)
    failures = []
    barrier = threading.Barrier(CLIENTS)

    def client_loop(index):
        client = Client(rest_url)
        barrier.wait()
        try:
            for n in range(REQUESTS_PER_CLIENT):
                which = (index * REQUESTS_PER_CLIENT + n) % len(mix)
                path, body = mix[which]
                answer = client.request("POST", path, json.dumps(body))
                if answer != expected[which]:
                    failures.append((path, body, answer))
        except Exception as error:  # noqa: BLE001 - counted as a failure
            failures.append(repr(error))
        finally:
            client.close()

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []


def test_concurrent_grpc_clients(grpc_target):
    client = Client(grpc_target, grpc=True)
    expected = client.predict("arith", {"a": [[1, 2]], "b": [[3, 4]]})
    failures = []

    def loop():
        for _ in range(10):
            answer = client.predict("arith", {"a": [[1, 2]], "b": [[3, 4]]})
            if any(not np.array_equal(answer[k], expected[k]) for k in expected):
                failures.append(answer)

    threads = [threading.Thread(target=loop) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []


@pytest.mark.slow
def test_rest_overhead_over_the_signature_call(serving_models, rest_url, local_only):
    """p50 of a REST predict minus p50 of the same in-process signature call (2 ms target)."""
    loaded = tf.saved_model.load(str(serving_models / "text_model" / "1"))
    signature = loaded.signatures["serving_default"]
    text = np.array([b"a short sentence to classify"], dtype=object)
    body = json.dumps({"instances": ["a short sentence to classify"]})
    client = Client(rest_url)

    def in_process():
        outputs = signature(text=tf.constant(text))
        return {key: value.numpy() for key, value in outputs.items()}

    def over_rest():
        status, _ = client.request("POST", "/v1/models/text_model:predict", body)
        assert status == 200

    def p50(function, count=OVERHEAD_REQUESTS):
        for _ in range(100):
            function()
        times = []
        for _ in range(count):
            start = time.perf_counter()
            function()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    call, rest = p50(in_process), p50(over_rest)
    print(
        f"\nsignature call p50 {call * 1e3:.3f} ms, REST predict p50 {rest * 1e3:.3f} ms, "
        f"overhead {(rest - call) * 1e3:.3f} ms"
    )
    assert rest - call < 2e-3
