"""Hostile requests against `kzoo serve` in a subprocess: each is refused or stopped with TF
Serving's status and body, the server keeps serving, and its memory stays within a bound of its
idle size (before these limits, two million instances took it from 1 GB to 10 GB, a 40-byte
gRPC request added 2.9 GB, both kept, and `max_new_tokens=100000000` ran for hours)."""

import pytest
from hostile import (
    ServerProcess,
    cancelled_grpc_call,
    disconnecting_client,
    grpc_shape_bomb,
    huge_instance_count,
    huge_max_new_tokens,
    huge_num_images,
    make_fault_models,
    normal_request,
    past_the_deadline,
    token_ids_request,
)

# Memory the server may keep after a case, and the most its peak may exceed its idle size
# (parsing a 55 MB JSON body of two million strings peaks near 300 MB before it is refused).
KEPT_BOUND_BYTES = 200 * 2**20
PEAK_BOUND_BYTES = 1024 * 2**20
REQUEST_TIMEOUT_SECONDS = 1
# The test models' vocabulary and the GPT's context (the default max_new_tokens limit).
VOCABULARY_SIZE = 12
CONTEXT = 16


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(server, idle memory): the fault models served, each answered once, within the
    1-second deadline from the first request on (the exports' warm-up requests prepared them;
    a generator's `sample` loop once took longer than that on its first call)."""
    base = make_fault_models(tmp_path_factory.mktemp("fault_models"))
    with ServerProcess(base, "--request-timeout", REQUEST_TIMEOUT_SECONDS) as server:
        sample = {"prompt": ["he"], "max_new_tokens": 2, "sampler": "greedy", "temperature": 1.0}
        sample |= {"top_k": 0, "top_p": 1.0, "num_beams": 1, "seed": 1}
        for model, inputs, signature in (
            ("reviews", {"text": ["a good film"]}, ""),
            ("writer", {"prompt": ["he"]}, ""),
            ("writer", sample, "sample"),
            ("painter", {"num_images": 2, "seed": 1}, "sample"),
        ):
            outcome = normal_request(server, model, inputs, signature)
            assert outcome.code == "OK", (model, signature, outcome.message)
        yield server, server.memory()
        assert server.stop() == 0, server.log()  # and it still stops cleanly


def _survived(served, outcome):
    """The server answers a normal request, and its memory is within the bounds."""
    server, idle = served
    assert server.alive(), server.log()
    assert normal_request(server, "reviews", {"text": ["still there?"]}).code == "OK"
    kept = outcome.rss_bytes - idle.rss_bytes
    assert kept < KEPT_BOUND_BYTES, f"{outcome.case}: kept {kept >> 20} MiB"
    peak = outcome.peak_bytes - idle.rss_bytes
    assert peak < PEAK_BOUND_BYTES, f"{outcome.case}: peaked {peak >> 20} MiB above idle"


def test_two_million_instances(served):
    outcome = huge_instance_count(served[0], "reviews", count=2_000_000)
    assert (outcome.http_status, outcome.message) == (
        400,
        "Too many instances in the request: 2000000. This server accepts at most 1024 per "
        "request (kzoo serve --max-request-instances).",
    )
    _survived(served, outcome)


def test_grpc_shape_bomb(served):
    outcome = grpc_shape_bomb(served[0], "reviews", "token_ids", "token_ids", (1_000_000, 1))
    assert outcome.code == "INVALID_ARGUMENT"
    assert outcome.message == (
        "Too many instances in the request: 1000000 (input token_ids has shape [1000000,1]). "
        "This server accepts at most 1024 per request (kzoo serve --max-request-instances)."
    )
    _survived(served, outcome)


def test_a_hundred_million_new_tokens(served):
    outcome = huge_max_new_tokens(served[0], "writer", 100_000_000)
    assert outcome.http_status == 400
    assert outcome.message.startswith(
        "assertion failed: [Invalid value for input max_new_tokens. Expected an integer from 1 "
        f"to {CONTEXT}, the limit this model was exported with. Received: "
        "max_new_tokens=100000000]"
    )
    _survived(served, outcome)


def test_two_billion_images(served):
    # 2**31 - 1 images of 28 x 28 floats: 6 TB, refused before any is drawn.
    outcome = huge_num_images(served[0], "painter", 2**31 - 1)
    assert outcome.http_status == 400
    assert outcome.message.startswith(
        "assertion failed: [Invalid value for input num_images. Expected an integer from 1 to "
        "1024, the limit this model was exported with. Received: num_images=2147483647]"
    )
    _survived(served, outcome)


@pytest.mark.parametrize("bad", [VOCABULARY_SIZE, 70000, -1])
def test_token_ids_outside_the_vocabulary(served, bad):
    outcome = token_ids_request(served[0], "reviews", "token_ids", [[2, bad]], f"token id {bad}")
    assert outcome.http_status == 400
    assert outcome.message.startswith(
        f"assertion failed: [Invalid value for input token_ids. Expected token ids in "
        f"[0, {VOCABULARY_SIZE}): the vocabulary has {VOCABULARY_SIZE} tokens. Received: a "
        f"token id of {bad}]"
    )
    _survived(served, outcome)


def test_float_token_ids(served):
    outcome = token_ids_request(served[0], "reviews", "token_ids", [[2.5, 1.0]], "float ids")
    assert (outcome.http_status, outcome.message) == (
        400,
        "JSON Value: 2.5 Type: Number is not of expected type: int32",
    )
    _survived(served, outcome)


def test_request_past_the_deadline(served):
    outcome = past_the_deadline(served[0])
    assert (outcome.http_status, outcome.message) == (504, "Timed out waiting for notification")
    assert outcome.stopped
    _survived(served, outcome)


def test_client_that_disconnects(served):
    outcome = disconnecting_client(served[0])
    assert outcome.stopped
    _survived(served, outcome)


def test_grpc_call_cancelled_by_its_client(served):
    outcome = cancelled_grpc_call(served[0])
    assert outcome.stopped
    _survived(served, outcome)
