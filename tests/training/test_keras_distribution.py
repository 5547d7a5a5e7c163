"""Tests for kzoo.distribute.keras_distribution: kzoo runs on several JAX devices and processes
through `keras.distribution`.

Keras picks its backend and JAX its devices once per process, so the training tests run
tests/training/keras_distribution_worker.py (or `kzoo train`) in fresh processes, as
tests/training/test_strategy.py does for tf.distribute; the dataset cut is checked here.
"""

import importlib.util
import json
import os
import re
import socket
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from kzoo.distribute import keras_distribution
from kzoo.distribute.keras_distribution import KerasDistribution

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKER = os.path.join(ROOT, "tests", "training", "keras_distribution_worker.py")
needs_jax = pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs jax")
TWO_DEVICES = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}


def _start(*arguments, env=None):
    environment = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "2", **env}
    return subprocess.Popen(
        [sys.executable, *arguments],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process, timeout=600):
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def _free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _processes(count, port):
    """Keras' variables for `keras.distribution.initialize`, one dict per process."""
    return [
        {
            "KERAS_DISTRIBUTION_JOB_ADDRESSES": f"localhost:{port}",
            "KERAS_DISTRIBUTION_NUM_PROCESSES": str(count),
            "KERAS_DISTRIBUTION_PROCESS_ID": str(index),
        }
        for index in range(count)
    ]


def _rows(dataset):
    def values(t):
        return t.to_list() if isinstance(t, tf.RaggedTensor) else t.numpy().tolist()

    return [tf.nest.map_structure(values, element) for element in dataset]


# === The cut: each batch to a multiple of the devices, then this process's slice ===


def _batches(*sizes):
    """Batches of `(x, y)` with consecutive row numbers, of the given sizes."""
    start, batches = 0, []
    for size in sizes:
        rows = np.arange(start, start + size)
        batches.append((rows[:, None] * np.ones((1, 2), "int64"), rows))
        start += size
    return tf.data.Dataset.from_generator(
        lambda: iter(batches),
        output_signature=(
            tf.TensorSpec((None, 2), tf.int64),
            tf.TensorSpec((None,), tf.int64),
        ),
    )


def test_batches_are_cut_to_a_multiple_of_the_devices_and_sliced_per_process():
    # 4 devices over 2 processes: a batch of 10 keeps 8 rows, 4 per process; a batch of 3 has
    # fewer rows than devices and is left out; 5 keeps 4, 2 per process.
    dataset = _batches(10, 3, 5)
    first = KerasDistribution(["cpu:0", "cpu:1", "cpu:2", "cpu:3"], object(), 0, 2)
    second = KerasDistribution(["cpu:0", "cpu:1", "cpu:2", "cpu:3"], object(), 1, 2)
    assert [y for _, y in _rows(first.distribute_dataset(dataset))] == [[0, 1, 2, 3], [13, 14]]
    assert [y for _, y in _rows(second.distribute_dataset(dataset))] == [[4, 5, 6, 7], [15, 16]]
    assert [x for x, _ in _rows(second.distribute_dataset(dataset))][1] == [[15, 15], [16, 16]]


def test_one_process_on_several_devices_keeps_every_whole_multiple():
    placement = KerasDistribution(["cpu:0", "cpu:1"], object())
    assert [y for _, y in _rows(placement.distribute_dataset(_batches(4, 3, 1)))] == [
        [0, 1, 2, 3],
        [4, 5],
    ]


def test_other_element_structures_are_cut_alike():
    placement = KerasDistribution(["cpu:0", "cpu:1"], object())
    single = tf.data.Dataset.range(5).batch(5)
    assert _rows(placement.distribute_dataset(single)) == [[0, 1, 2, 3]]
    named = tf.data.Dataset.from_tensor_slices({"a": np.arange(3), "b": np.arange(3) * 10}).batch(3)
    assert _rows(placement.distribute_dataset(named)) == [{"a": [0, 1], "b": [0, 10]}]
    ragged = tf.data.Dataset.from_tensor_slices(tf.ragged.constant([[1], [2, 2], [3]])).batch(3)
    assert _rows(placement.distribute_dataset(ragged)) == [[[1], [2, 2]]]


def test_one_device_leaves_datasets_alone():
    placement = KerasDistribution(["cpu:0"])
    dataset = tf.data.Dataset.range(3).batch(3)
    assert placement.distribute_dataset(dataset) is dataset
    assert placement.distribute_dataset(None) is None
    assert placement.num_replicas_in_sync == 1 and placement.chief


def test_a_bad_process_count_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("KERAS_DISTRIBUTION_NUM_PROCESSES", "two")
    with pytest.raises(
        ValueError,
        match="Expected a positive integer. Received: KERAS_DISTRIBUTION_NUM_PROCESSES=two",
    ):
        keras_distribution.join_jax_processes("auto")


def test_one_device_cannot_be_asked_of_several_processes(monkeypatch):
    monkeypatch.setenv("KERAS_DISTRIBUTION_NUM_PROCESSES", "2")
    message = "'default' trains on one device. Received: strategy=default"
    with pytest.raises(ValueError, match=message):
        keras_distribution.join_jax_processes("default")


# === Training on several devices and processes ===


@pytest.fixture(scope="module")
def two_devices(tmp_path_factory):
    """The tiny classifier on 2 CPU devices (DataParallel) and on one, in one JAX process."""
    out = tmp_path_factory.mktemp("devices") / "result.json"
    code, _, err = _finish(_start(WORKER, "devices", str(out), env=TWO_DEVICES))
    assert code == 0, err[-4000:]
    return json.loads(out.read_text())


@needs_jax
def test_two_devices_train_as_one_device_does(two_devices):
    assert two_devices["replicas"] == 2
    assert two_devices["description"] == (
        "keras.distribution.DataParallel on jax, 2 devices (cpu:0, cpu:1); training batches "
        "cut to a multiple of 2"
    )
    several, one = two_devices["several"], two_devices["one"]
    for key, values in one["history"].items():
        np.testing.assert_allclose(several["history"][key], values, rtol=1e-5, err_msg=key)
    for key, value in one["evaluate"].items():
        np.testing.assert_allclose(several["evaluate"][key], value, rtol=1e-5, err_msg=key)


@needs_jax
def test_two_processes_train_together_as_one_device_does(two_devices, tmp_path):
    """Two JAX processes on this machine (gloo), joined by Keras' variables: the same losses as
    one device on the same global batches, and only the chief writes the shared files."""
    started = []
    for index, environment in enumerate(_processes(2, _free_port())):
        out = tmp_path / f"process_{index}.json"
        started.append((out, _start(WORKER, "process", str(out), env=environment)))
    results = []
    for out, process in started:
        code, _, err = _finish(process)
        assert code == 0, err[-4000:]
        results.append(json.loads(out.read_text()))
    assert [r["chief"] for r in results] == [True, False]
    # JAX numbers a second process's devices from its own base (cpu:2048 on CPU).
    assert re.fullmatch(
        r"keras.distribution.DataParallel on jax, 2 devices \(cpu:0, cpu:\d+\), process 0 of 2; "
        r"training batches cut to a multiple of 2",
        results[0]["description"],
    )
    assert {r["process_count"] for r in results} == {2}
    one = two_devices["one"]
    for result in results:
        for key, values in one["history"].items():
            np.testing.assert_allclose(result["history"][key], values, rtol=1e-5, err_msg=key)
        for key, value in one["evaluate"].items():
            np.testing.assert_allclose(result["evaluate"][key], value, rtol=1e-5, err_msg=key)
    history = (tmp_path / "shared" / "history.csv").read_text().splitlines()
    assert len(history) == 1 + len(one["history"]["loss"])  # the chief's header and epochs


@needs_jax
def test_kzoo_train_runs_on_two_processes_and_the_chief_exports(tmp_path):
    """`kzoo train` started twice with Keras' variables: one run, written by the chief."""
    from kzoo.recipes.lstm_classifier import TINY

    run = tmp_path / "run"
    options = [*TINY, "--epochs", "2", "--output-dir", str(run)]
    options += ["--export-dir", str(tmp_path / "exports")]
    processes = [
        _start("-m", "kzoo_cli", "train", "lstm_classifier", *options, env=environment)
        for environment in _processes(2, _free_port())
    ]
    outcomes = [_finish(process) for process in processes]
    for code, out, err in outcomes:
        assert code == 0, out[-2000:] + err[-4000:]
    chief_out, worker_out = outcomes[0][1], outcomes[1][1]
    assert "process 0 of 2" in chief_out and "process 1 of 2" in worker_out
    log = (run / "run.log").read_text()
    assert "process 0 of 2" in log and "process 1 of 2" not in log
    assert len((run / "history.csv").read_text().splitlines()) == 3
    assert json.loads((run / "metrics.json").read_text())["test"]["accuracy"] >= 0
    assert (tmp_path / "exports" / "lstm_classifier" / "1" / "saved_model.pb").exists()
    assert "exported SavedModel" in chief_out and "exported SavedModel" not in worker_out
    assert not list(tmp_path.glob("kzoo_worker_logs_*"))
