"""Serving: REST and gRPC predict of kzoo's local server against the in-process signature call.

A text classifier (the `lstm_classifier` recipe, trained briefly on the embedded sentiment
corpus and exported as `kzoo train` exports it: raw text in, label and scores out) is served by
`kzoo serve` in its own process on loopback, started with tensorflow_model_server's command line
(`--port --rest_api_port --model_name --model_base_path`, and with batching
`--enable_batching --batching_parameters_file`). Clients in this process send one-sentence
predict requests, REST (`{"instances": [sentence]}`) and gRPC (a `PredictRequest`), at 1, 8 and
32 concurrent clients, a fixed number of requests per level, after a warm-up; every answer is
checked against the in-process answer. The same sentences go through the SavedModel's
`serving_default` signature loaded in this process, at the same concurrency, for the
side-by-side figures; the p50 overhead comes from a separate single-client run that alternates
the two calls, so both meet the same load. The server's resident memory (psutil) is read when it
is ready and after each level.

Targets (issue 21): with batching on, REST predict at 32 clients reaches at least 90 % of the
in-process rate; p50 overhead (REST p50 − signature p50, 1 client) ≤ 2 ms; zero errors; flat
memory. `--no-batching` measures the server without batching.
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
TITLE = "Serving: REST and gRPC predict on the local server vs the in-process signature call"

LEVELS = (1, 8, 32)
# Requests per concurrency level (after WARMUP per client), full and --quick.
REQUESTS, QUICK_REQUESTS = 3000, 300
WARMUP = 20
MODEL = "lstm_classifier"
# The server's BatchingParameters with batching on: TF Serving's defaults (no batch timeout,
# one batch thread per core) but for the largest batch, the most clients of a level.
BATCHING_PARAMETERS = "max_batch_size { value: 32 } batch_timeout_micros { value: 0 }"
# The rate REST predict reaches at the most clients, as a share of the in-process rate.
TARGET_SHARE = 0.9


def add_arguments(parser):
    parser.add_argument(
        "--no-batching", action="store_true", help="serve without --enable_batching"
    )


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


def _start_server(export_dir, log_path, batching_file=None):
    """`kzoo serve` in a subprocess, started with TF Serving's flags; returns (process, REST
    url, gRPC target) once the model is available."""
    from kzoo.serving import Client

    port, grpc_port = _free_port(), _free_port()
    command = [
        sys.executable,
        "-m",
        "kzoo",
        "serve",
        f"--port={grpc_port}",
        f"--rest_api_port={port}",
        f"--model_name={MODEL}",
        f"--model_base_path={os.path.join(export_dir, MODEL)}",
        "--file_system_poll_wait_seconds=0",
        "--log-level=WARNING",
    ]
    if batching_file:
        command += ["--enable_batching", f"--batching_parameters_file={batching_file}"]
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
                    return process, url, f"127.0.0.1:{grpc_port}"
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
    import grpc
    import psutil
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

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

    batching_file = None
    if not args.no_batching:
        batching_file = os.path.join(folder, "batching.txt")
        with open(batching_file, "w", encoding="utf-8") as file:
            file.write(BATCHING_PARAMETERS)
    process, url, target = _start_server(
        export_dir, os.path.join(folder, "server.log"), batching_file
    )
    server = psutil.Process(process.pid)
    client = Client(url)
    path = f"/v1/models/{MODEL}:predict"
    channel = grpc.insecure_channel(target)
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    messages = []
    for sentence in sentences:
        message = predict_pb2.PredictRequest()
        message.model_spec.name = MODEL
        message.inputs["text"].CopyFrom(tf.make_tensor_proto([sentence]))
        messages.append(message)

    def over_rest(i):
        status, answer = client.request("POST", path, bodies[i % len(bodies)])
        return status == 200 and answer["predictions"][0]["label"] == expected[i % len(bodies)]

    def over_grpc(i):
        answer = stub.Predict(messages[i % len(messages)], timeout=60)
        return answer.outputs["label"].string_val[0].decode() == expected[i % len(messages)]

    ways = (
        ("in-process signature", in_process),
        ("REST predict", over_rest),
        ("gRPC predict", over_grpc),
    )
    rows, memory, rates = [], [], {}
    try:
        over_rest(0)
        over_grpc(0)
        memory.append(server.memory_info().rss / 2**20)
        paired_call, paired_rest, paired_errors = _paired(requests, in_process, over_rest)
        for clients in LEVELS:
            for way, call in ways:
                wall, latencies, errors = _load(clients, requests, call)
                rates[clients, way] = len(latencies) / wall
                rows.append(
                    [
                        clients,
                        way,
                        len(latencies),
                        round(rates[clients, way]),
                        f"{np.percentile(latencies, 50) * 1e3:.2f}",
                        f"{np.percentile(latencies, 99) * 1e3:.2f}",
                        errors if way != "in-process signature" else "",
                    ]
                )
            memory.append(server.memory_info().rss / 2**20)
    finally:
        client.close()
        channel.close()
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
    most = LEVELS[-1]
    shares = {
        way: rates[most, way] / rates[most, "in-process signature"]
        for way in ("REST predict", "gRPC predict")
    }
    if batching_file:
        met = "met" if shares["REST predict"] >= TARGET_SHARE else "missed"
        target = f"target ≥ {TARGET_SHARE:.0%} with batching on: {met}"
    else:
        target = f"no batching in this run; the target ≥ {TARGET_SHARE:.0%} is with batching on"
    share_note = (
        f"**Rate at {most} clients**, as a share of the in-process rate "
        f"({rates[most, 'in-process signature']:.0f} requests/s): REST predict "
        f"{shares['REST predict']:.0%} ({target}), gRPC predict {shares['gRPC predict']:.0%}."
    )
    return Report(
        columns=["clients", "way", "requests", "requests/s", "p50 ms", "p99 ms", "errors"],
        rows=rows,
        notes=[
            share_note,
            f"**p50 overhead** (REST p50 − signature p50, 1 client): {overhead:.2f} ms "
            f"(target ≤ 2 ms: {'met' if overhead <= 2 else 'missed'}), from {requests} "
            "pairs of calls alternating between the two ways, so that both meet the same load "
            f"(signature p50 {np.median(paired_call) * 1e3:.2f} ms, p99 "
            f"{np.percentile(paired_call, 99) * 1e3:.2f} ms; REST p50 "
            f"{np.median(paired_rest) * 1e3:.2f} ms, p99 "
            f"{np.percentile(paired_rest, 99) * 1e3:.2f} ms; median of the per-pair "
            f"differences {np.median(paired_rest - paired_call) * 1e3:.2f} ms). **Errors**: "
            f"{total_errors} of {requests * (2 * len(LEVELS) + 1)} REST and gRPC requests (an "
            "error is a non-200 status or a failed call, an exception, or a label that differs "
            "from the in-process answer). "
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
            "server": "`python -m kzoo serve` in a subprocess with TF Serving's flags, REST and "
            "gRPC on 127.0.0.1, "
            + (
                f"`--enable_batching`, BatchingParameters `{BATCHING_PARAMETERS}`"
                if batching_file
                else "no batching"
            ),
            "request": "one sentence per request, 64 distinct sentences in turn",
            "requests per level": f"{requests} (+ {WARMUP} warm-up per client)",
            "load average (1, 5, 15 min) at start": " ".join(f"{x:.2f}" for x in load_start),
            "load average at end": " ".join(f"{x:.2f}" for x in load_end),
        },
    )
