"""Memory given back after large requests: glibc's malloc_trim returns what a request freed,
and the server asks for it after every request of 1 MiB or more in or out."""

import json
import subprocess
import sys
import textwrap

import pytest
from serving_helpers import wait_for

import kzoo.serving.deadlines
from kzoo.serving import Client, ModelServer
from kzoo.serving.memory import LARGE_REQUEST_BYTES, release_memory

pytestmark = pytest.mark.usefixtures("local_only")

# A request thread's heap: 100 kB blocks (below malloc's mmap threshold) with small blocks
# kept between them, so that freeing the large ones leaves holes glibc keeps; prints the MiB
# held after the free and after release_memory, above the thread's start.
_FRAGMENTED_HEAP = textwrap.dedent(
    """
    import threading
    from kzoo.serving.memory import release_memory

    def rss():
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024

    def work():
        start = rss()
        large, small = [], []
        for _ in range(400):
            large.append(b"\\x01" * 100_000)
            small.append(b"\\x02" * 1000)
        del large
        freed = rss()
        assert release_memory()
        print((freed - start) >> 20, (rss() - start) >> 20)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    """
)


def test_release_memory_returns_what_a_request_thread_freed():
    if not release_memory():
        pytest.skip("this C library has no malloc_trim")
    result = subprocess.run(
        [sys.executable, "-c", _FRAGMENTED_HEAP], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    kept_after_free, kept_after_release = (int(x) for x in result.stdout.split())
    if kept_after_free < 20:
        pytest.skip(f"this malloc kept only {kept_after_free} MiB: nothing to give back")
    assert kept_after_release < 5, (kept_after_free, kept_after_release)


def test_the_server_releases_memory_after_a_large_request(serving_models, monkeypatch):
    releases = []
    monkeypatch.setattr(kzoo.serving.deadlines, "release_memory", lambda: releases.append(1))
    with ModelServer(
        str(serving_models / "text_model"),
        rest_port=0,
        grpc_port=0,
        file_system_poll_wait_seconds=0,
    ) as server:
        rest, grpc = Client(server.rest_url), Client(server.grpc_target, grpc=True)
        rest.predict("text_model", {"text": ["small"] * 10})
        grpc.predict("text_model", {"text": ["small"] * 10})
        assert releases == []
        text = "x" * 1100
        body = json.dumps({"instances": [text] * 1024})
        assert len(body) > LARGE_REQUEST_BYTES
        status, _ = rest.request("POST", "/v1/models/text_model:predict", body)
        assert status == 200
        wait_for(lambda: len(releases) == 1, timeout=10)
        grpc.predict("text_model", {"text": [text] * 1024})
        wait_for(lambda: len(releases) == 2, timeout=10)
        # A large body refused before it is parsed (over the instance limit) counts too.
        status, _ = rest.request("POST", "/v1/models/text_model:predict", body[:-2] + ', "x"]}')
        assert status == 400
        wait_for(lambda: len(releases) == 3, timeout=10)
