"""Serving: REST predict of kzoo's local server against the in-process signature call.

A text classifier (the `lstm_classifier` recipe, trained briefly on the embedded sentiment
corpus and exported as `kzoo train` exports it: raw text in, label and scores out) is served by
`kzoo serve` in its own process on loopback. Clients in this process send one-sentence REST
predict requests (`{"instances": [sentence]}`) at 1, 8 and 32 concurrent clients, a fixed
number of requests per level, after a warm-up; every answer is checked against the in-process
answer. The same sentences go through the SavedModel's `serving_default` signature loaded in
this process, at the same concurrency, for the side-by-side figures; the p50 overhead comes
from a separate single-client run that alternates the two calls, so both meet the same load.
The server's resident memory (psutil) is read when it is ready and after each level.

Targets: p50 overhead (REST p50 − signature p50, 1 client) ≤ 2 ms, zero errors, flat memory.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

from benchmarks.harness import ROOT, Report

NAME = "serving"
TITLE = "Serving: REST predict on the local server vs the in-process signature call"

LEVELS = (1, 8, 32)
# Requests per concurrency level (after WARMUP per client), full and --quick.
REQUESTS, QUICK_REQUESTS = 3000, 300
WARMUP = 20
MODEL = "lstm_classifier"


def _export(folder):
    """Trains the recipe for one short epoch and exports it; returns the version folder."""
    from recipes import lstm_classifier

    export_dir = os.path.join(folder, "exports")
    lstm_classifier.main(
        [
            "--epochs",
            "1",
            "--num-examples",
            "2000",
            "--no-xla",
            "--output-dir",
            os.path.join(folder, "run"),
            "--export-dir",
            export_dir,
        ]
    )
    base = os.path.join(export_dir, MODEL)
    return export_dir, os.path.join(base, max(os.listdir(base), key=int))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(export_dir, log_path):
    """`kzoo serve` in a subprocess; returns (process, REST url) once the model is available."""
    from kzoo.serving import Client

    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "kzoo",
        "serve",
        "--model-base-path",
        export_dir,
        "--rest-port",
        str(port),
        "--grpc-port",
        "0",
        "--file-system-poll-wait-seconds",
        "0",
        "--log-level",
        "WARNING",
    ]
    log = open(log_path, "w", encoding="utf-8")
    process = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"kzoo serve exited with {process.returncode}; see {log_path}")
        # A new client each time: one whose connection was refused stays unusable
        # (http.client's CannotSendRequest on every later request).
        with Client(url, timeout=5) as client:
            try:
                if client.status(MODEL)[0]["state"] == "AVAILABLE":
                    return process, url
            except Exception:  # noqa: BLE001 - not up yet
                pass
        time.sleep(0.5)
    process.terminate()
    raise RuntimeError(f"kzoo serve did not make {MODEL} available in 300 s; see {log_path}")


def _load(clients, requests, call):
    """Runs `requests` calls of `call(i)` from `clients` threads; returns (wall s, latencies s,
    error count). Each thread warms up first; the timed part starts together."""
    per_client = [requests // clients + (i < requests % clients) for i in range(clients)]
    latencies = [[] for _ in range(clients)]
    errors = [0] * clients
    barrier = threading.Barrier(clients + 1)

    def worker(index):
        for n in range(WARMUP):
            call(index + n)
        barrier.wait()
        for n in range(per_client[index]):
            started = time.perf_counter()
            try:
                ok = call(index * 7919 + n)
            except Exception:  # noqa: BLE001 - counted as an error
                ok = False
            latencies[index].append(time.perf_counter() - started)
            errors[index] += not ok

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return wall, np.concatenate([np.asarray(x) for x in latencies]), sum(errors)


def _paired(count, first, second):
    """Alternates `first(i)` and `second(i)` from one client, so both see the same load;
    returns their latencies (s) and the number of falsy answers of `second`."""
    for n in range(WARMUP):
        first(n)
        second(n)
    a, b, errors = [], [], 0
    for n in range(count):
        started = time.perf_counter()
        first(n)
        middle = time.perf_counter()
        try:
            ok = second(n)
        except Exception:  # noqa: BLE001 - counted as an error
            ok = False
        b.append(time.perf_counter() - middle)
        a.append(middle - started)
        errors += not ok
    return np.asarray(a), np.asarray(b), errors


def run(args):
    import psutil
    import tensorflow as tf

    from kzoo.data import embedded
    from kzoo.serving import Client

    load_start = os.getloadavg()
    requests = QUICK_REQUESTS if args.quick else REQUESTS
    folder = tempfile.mkdtemp(prefix="kzoo-bench-serving-")
    export_dir, version_dir = _export(folder)
    sentences = embedded.sentiment_corpus(num_examples=64, seed=1)[0]

    signature = tf.saved_model.load(version_dir).signatures["serving_default"]

    def in_process(i):
        outputs = signature(text=tf.constant([sentences[i % len(sentences)]]))
        return {key: value.numpy() for key, value in outputs.items()}

    expected = [in_process(i)["label"][0].decode() for i in range(len(sentences))]
    bodies = [json.dumps({"instances": [s]}) for s in sentences]

    process, url = _start_server(export_dir, os.path.join(folder, "server.log"))
    server = psutil.Process(process.pid)
    client = Client(url)
    path = f"/v1/models/{MODEL}:predict"

    def over_rest(i):
        status, answer = client.request("POST", path, bodies[i % len(bodies)])
        return status == 200 and answer["predictions"][0]["label"] == expected[i % len(bodies)]

    rows, memory = [], []
    try:
        over_rest(0)
        memory.append(server.memory_info().rss / 2**20)
        paired_call, paired_rest, paired_errors = _paired(requests, in_process, over_rest)
        for clients in LEVELS:
            for way, call in (("in-process signature", in_process), ("REST predict", over_rest)):
                wall, latencies, errors = _load(clients, requests, call)
                rows.append(
                    [
                        clients,
                        way,
                        len(latencies),
                        round(len(latencies) / wall),
                        f"{np.percentile(latencies, 50) * 1e3:.2f}",
                        f"{np.percentile(latencies, 99) * 1e3:.2f}",
                        errors if way == "REST predict" else "",
                    ]
                )
            memory.append(server.memory_info().rss / 2**20)
    finally:
        client.close()
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(folder, ignore_errors=True)
    overhead = (np.median(paired_rest) - np.median(paired_call)) * 1e3
    total_errors = paired_errors + sum(row[-1] for row in rows if row[-1] != "")
    growth = memory[-1] - memory[0]
    load_end = os.getloadavg()
    return Report(
        columns=["clients", "way", "requests", "requests/s", "p50 ms", "p99 ms", "errors"],
        rows=rows,
        notes=[
            f"**p50 overhead** (REST p50 − signature p50, 1 client): {overhead:.2f} ms "
            f"(target ≤ 2 ms: {'met' if overhead <= 2 else 'missed'}), from {requests} "
            "pairs of calls alternating between the two ways, so that both meet the same load "
            f"(signature p50 {np.median(paired_call) * 1e3:.2f} ms, p99 "
            f"{np.percentile(paired_call, 99) * 1e3:.2f} ms; REST p50 "
            f"{np.median(paired_rest) * 1e3:.2f} ms, p99 "
            f"{np.percentile(paired_rest, 99) * 1e3:.2f} ms; median of the per-pair "
            f"differences {np.median(paired_rest - paired_call) * 1e3:.2f} ms). **Errors**: "
            f"{total_errors} of {requests * (len(LEVELS) + 1)} REST requests (an error is a "
            "non-200 status, an exception or a label that differs from the in-process answer). "
            f"**Server memory (RSS)**: {memory[0]:.0f} MiB when ready, "
            + ", ".join(f"{m:.0f}" for m in memory[1:])
            + f" MiB after each level: {growth:+.0f} MiB over the run.",
            "In the table, each way runs on its own, level by level. Latency is measured by "
            "each client from sending to the parsed answer; requests/s is all requests of a "
            "level over its wall time. Clients are threads of one Python "
            "process sharing its interpreter lock, and the server shares the machine's cores "
            "with them, so at 8 and 32 clients the figures are those of a 2-core machine "
            "running both ends, not of the server alone.",
        ],
        settings={
            "model": f"{MODEL} recipe, 1 epoch on 2,000 embedded sentences, exported SavedModel "
            "(raw text in; label, label_id, scores out)",
            "server": "`python -m kzoo serve` in a subprocess, REST on 127.0.0.1, no batching",
            "request": "one sentence per request, 64 distinct sentences in turn",
            "requests per level": f"{requests} (+ {WARMUP} warm-up per client)",
            "load average (1, 5, 15 min) at start": " ".join(f"{x:.2f}" for x in load_start),
            "load average at end": " ".join(f"{x:.2f}" for x in load_end),
        },
    )
