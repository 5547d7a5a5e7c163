"""Tests for kzoo.distribute.strategy, .multi_worker and .xla: choosing, describing and training
under strategies, and when XLA can compile.

Strategies over several devices or workers need TensorFlow's runtime configured before it
starts, so those tests run tests/training/multi_worker_worker.py in fresh processes, with
timeouts so that a hung collective fails the test instead of blocking CI.
"""

import importlib
import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import types
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import kzoo
from kzoo.distribute import multi_worker, xla
from kzoo.distribute import strategy as strategies
from kzoo.training.run_state import RunState

HELPER = Path(__file__).with_name("multi_worker_worker.py")
TIMEOUT_S = 120

# Losses and metrics under a strategy must match one device at the same global batch size up to
# float32 rounding: the replicas' gradients are summed in a different order (two half-batch
# gradients all-reduced instead of one full-batch gradient). Measured: at most 6e-8 apart
# (MirroredStrategy on 2 CPUs and 2 workers alike). A real mistake moves the 2-epoch losses of both
# tiny models by 8e-4 or more: the per-replica batch (4) used as the global batch, each worker
# taking a whole global batch (16), or both workers reading the same half of each batch (no
# sharding) change them by 8e-4 to 1e-3, 1e-2 to 2e-2 and 3e-3 to 7e-3. So 1e-5 leaves
# 100x room for rounding and still catches each of these by 80x.
LOSS_ATOL = 1e-5


def _helper_module():
    spec = importlib.util.spec_from_file_location("multi_worker_worker", HELPER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _clean_env(monkeypatch):
    for name in ("TF_CONFIG", "TPU_NAME", "KUBE_GOOGLE_CLOUD_TPU_ENDPOINTS", "TPU_CONFIG"):
        monkeypatch.delenv(name, raising=False)


class _FakeMultiWorker:
    """Stands in for `tf.distribute.MultiWorkerMirroredStrategy`, which would wait for peers."""

    created = 0

    def __init__(self):
        type(self).created += 1


@pytest.fixture
def fake_multi_worker(monkeypatch):
    _FakeMultiWorker.created = 0
    monkeypatch.setattr(tf.distribute, "MultiWorkerMirroredStrategy", _FakeMultiWorker)
    return _FakeMultiWorker


class _NoTPUResolver:
    calls = 0

    @classmethod
    def connect(cls, tpu=None):
        cls.calls += 1
        raise RuntimeError(f"no TPU named {tpu!r} here")


@pytest.fixture
def no_tpu_resolver(monkeypatch):
    _NoTPUResolver.calls = 0
    monkeypatch.setattr(tf.distribute.cluster_resolver, "TPUClusterResolver", _NoTPUResolver)
    return _NoTPUResolver


@pytest.fixture
def fake_gpu(monkeypatch):
    """Makes TensorFlow report one logical GPU and records when Keras picks the cuDNN kernel.

    The cuDNN functions are replaced by spies that raise `NotImplementedError`, which makes
    Keras fall back to its generic kernel, so layers still run on the CPU.
    """
    # The module, not the `rnn` function its package exports under the same name.
    rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")

    real_list = tf.config.list_logical_devices
    gpu = tf.config.LogicalDevice(name="/device:GPU:0", device_type="GPU")

    def list_logical_devices(device_type=None):
        if device_type == "GPU":
            return [gpu]
        return real_list(device_type) + ([gpu] if device_type is None else [])

    cudnn_calls = []

    def spy(name):
        def cudnn_kernel(*args, **kwargs):
            cudnn_calls.append(name)
            raise NotImplementedError

        return cudnn_kernel

    monkeypatch.setattr(tf.config, "list_logical_devices", list_logical_devices)
    monkeypatch.setattr(rnn, "_cudnn_lstm", spy("lstm"))
    monkeypatch.setattr(rnn, "_cudnn_gru", spy("gru"))
    return cudnn_calls


# === resolve_strategy ===


def test_resolve_strategy_rejects_unknown_names():
    for name in ["foo", "", None, "Mirrored", "parameter_server"]:
        with pytest.raises(ValueError) as info:
            strategies.resolve_strategy(name)
        assert str(info.value) == (
            "Invalid value for argument strategy. Expected one of {'auto', 'default', "
            f"'mirrored', 'multi_worker', 'tpu'}}. Received: strategy={name}"
        )


def test_auto_is_the_default_strategy_here_without_asking_for_a_tpu(monkeypatch, no_tpu_resolver):
    _clean_env(monkeypatch)
    assert strategies.resolve_strategy() is tf.distribute.get_strategy()
    assert strategies.resolve_strategy("default") is tf.distribute.get_strategy()
    # No TPU environment variable or device file: the resolver is never asked.
    assert no_tpu_resolver.calls == 0


def test_tpu_without_a_tpu_is_a_clear_error(monkeypatch):
    _clean_env(monkeypatch)
    with pytest.raises(ValueError, match=r"Invalid value for argument strategy\. Expected a TPU"):
        strategies.resolve_strategy("tpu")


def test_auto_falls_back_when_a_tpu_hint_does_not_resolve(monkeypatch, no_tpu_resolver):
    _clean_env(monkeypatch)
    monkeypatch.setenv("TPU_NAME", "missing-tpu")
    assert strategies.resolve_strategy("auto") is tf.distribute.get_strategy()
    with pytest.raises(ValueError, match="RuntimeError: no TPU named None here"):
        strategies.resolve_strategy("tpu")
    assert no_tpu_resolver.calls == 2


def test_auto_prefers_a_tpu_that_resolves(monkeypatch, fake_multi_worker):
    _clean_env(monkeypatch)
    monkeypatch.setenv("TPU_NAME", "my-tpu")
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:2"]}}))
    resolver = object()
    monkeypatch.setattr(
        tf.distribute.cluster_resolver,
        "TPUClusterResolver",
        types.SimpleNamespace(connect=lambda tpu=None: resolver),
    )
    monkeypatch.setattr(tf.distribute, "TPUStrategy", lambda r: ("TPUStrategy", r))
    assert strategies.resolve_strategy() == ("TPUStrategy", resolver)
    assert fake_multi_worker.created == 0


def test_auto_reads_tf_config(monkeypatch, no_tpu_resolver, fake_multi_worker):
    _clean_env(monkeypatch)
    clusters = [
        ({"worker": ["localhost:1", "localhost:2"]}, True),
        ({"chief": ["localhost:1"], "worker": ["localhost:2"]}, True),
        ({"worker": ["localhost:1"]}, False),
        ({}, False),
    ]
    for cluster, several_workers in clusters:
        fake_multi_worker.created = 0
        monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {}}))
        strategy = strategies.resolve_strategy("auto")
        assert isinstance(strategy, _FakeMultiWorker) is several_workers, cluster
        assert fake_multi_worker.created == int(several_workers)


def test_multi_worker_by_name(monkeypatch, fake_multi_worker):
    _clean_env(monkeypatch)
    assert isinstance(strategies.resolve_strategy("multi_worker"), _FakeMultiWorker)


def test_bad_tf_config_is_a_clear_error(monkeypatch, fake_multi_worker):
    _clean_env(monkeypatch)
    cases = [
        ("{not json", "Expected a JSON object"),
        ('["worker"]', "Expected a JSON object"),
        (json.dumps({"cluster": {"worker": ["a:1"], "ps": ["b:2"]}}), "parameter-server"),
    ]
    for tf_config, message in cases:
        monkeypatch.setenv("TF_CONFIG", tf_config)
        for name in ("auto", "multi_worker"):
            with pytest.raises(ValueError, match=f"environment variable TF_CONFIG.*{message}"):
                strategies.resolve_strategy(name)
    assert fake_multi_worker.created == 0


def test_mirrored_uses_the_visible_cpu_without_gpus():
    strategy = strategies.resolve_strategy("mirrored")
    assert isinstance(strategy, tf.distribute.MirroredStrategy)
    assert strategies.describe_strategy(strategy) == "MirroredStrategy, 1 replica (CPU:0)"


# === describe_strategy, global_batch_size, is_chief ===


def test_describe_the_default_strategy():
    strategy = tf.distribute.get_strategy()
    assert strategies.describe_strategy(strategy) == "default strategy, 1 replica (CPU:0)"


def test_describe_the_default_strategy_on_a_gpu(fake_gpu):
    strategy = tf.distribute.get_strategy()
    assert strategies.describe_strategy(strategy) == "default strategy, 1 replica (GPU:0)"


def test_global_batch_size_multiplies_by_the_replicas():
    assert strategies.global_batch_size(32, tf.distribute.get_strategy()) == 32
    assert strategies.global_batch_size(32, types.SimpleNamespace(num_replicas_in_sync=4)) == 128


def test_global_batch_size_rejects_bad_sizes():
    for value in [0, -8, 2.5, True, "32"]:
        with pytest.raises(ValueError) as info:
            strategies.global_batch_size(value, tf.distribute.get_strategy())
        assert str(info.value) == (
            "Invalid value for argument per_replica_batch_size. Expected a positive integer. "
            f"Received: per_replica_batch_size={value}"
        )


def test_is_chief_outside_a_cluster():
    assert strategies.is_chief() is True
    assert strategies.is_chief(strategies.resolve_strategy("mirrored")) is True


# === shard_options ===


def _policy(dataset):
    return dataset.options().experimental_distribute.auto_shard_policy


def test_in_memory_datasets_are_sharded_by_data():
    dataset = tf.data.Dataset.from_tensor_slices((np.ones((8, 3)), np.ones(8))).batch(4)
    sharded = multi_worker.shard_options(dataset.map(lambda x, y: (x * 2, y)).prefetch(1))
    assert _policy(sharded) == tf.data.experimental.AutoShardPolicy.DATA
    assert [y.numpy().tolist() for _, y in sharded] == [[1.0] * 4] * 2


def test_file_datasets_keep_auto_sharding(tmp_path):
    path = str(tmp_path / "data")
    datasets = {
        "tfrecord": tf.data.TFRecordDataset([path]),
        "text_lines": tf.data.TextLineDataset([path]).batch(2),
        "interleaved_tfrecords": tf.data.Dataset.from_tensor_slices([path]).interleave(
            tf.data.TFRecordDataset
        ),
    }
    for name, dataset in datasets.items():
        policy = _policy(multi_worker.shard_options(dataset))
        assert policy == tf.data.experimental.AutoShardPolicy.AUTO, name


def test_an_explicit_policy_is_kept():
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    dataset = tf.data.Dataset.range(4).with_options(options)
    assert _policy(multi_worker.shard_options(dataset)) == tf.data.experimental.AutoShardPolicy.OFF


def test_shard_options_leaves_other_inputs_alone():
    arrays = (np.ones((4, 2)), np.ones(4))
    assert multi_worker.shard_options(arrays) is arrays
    assert multi_worker.shard_options(None) is None


# === fit ===


def test_fit_is_model_fit_outside_multi_worker_training():
    helper = _helper_module()
    train, valid = helper.datasets()
    model = helper.build_model(helper.CLUSTER_MODEL)
    expected = model.fit(train, validation_data=valid, **helper.FIT_ARGS).history
    model = helper.build_model(helper.CLUSTER_MODEL)
    history = multi_worker.fit(model, train, validation_data=valid, **helper.FIT_ARGS)
    assert history is model.history
    for key, values in expected.items():
        np.testing.assert_allclose(history.history[key], values, rtol=0, atol=LOSS_ATOL)
    logs = multi_worker.evaluate(model, valid, verbose=0, return_dict=True)
    assert logs == model.evaluate(valid, verbose=0, return_dict=True)


def test_multi_worker_overrides_are_removed_afterwards():
    model = kzoo.build_model("lstm_classifier", vocabulary_size=20, embedding_dim=4, units=4)

    def own_train_step(data):  # an override already on the instance must come back
        return {}

    model.train_step = own_train_step
    names = ("_maybe_symbolic_build", "train_step", "test_step")
    with multi_worker._multi_worker_fixes(model):
        assert all(name in vars(model) for name in names)
        assert model.train_step is not own_train_step
        assert model.train_function is None and model.test_function is None
    assert model.train_step is own_train_step
    assert "_maybe_symbolic_build" not in vars(model) and "test_step" not in vars(model)

    with pytest.raises(RuntimeError), multi_worker._multi_worker_fixes(model):
        raise RuntimeError("fit failed")
    assert model.train_step is own_train_step and "test_step" not in vars(model)

    # Nested (a callback evaluating during fit): the inner call leaves the outer's state alone.
    with multi_worker._multi_worker_fixes(model):
        outer_step, model.train_function = model.train_step, "traced"
        with multi_worker._multi_worker_fixes(model):
            assert model.train_step is outer_step and model.train_function == "traced"
        assert model.train_step is outer_step and model.train_function == "traced"
    assert model.train_step is own_train_step


def test_only_the_chief_writes_callback_files(tmp_path):
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    checkpoint = keras.callbacks.ModelCheckpoint(str(tmp_path / "ckpt" / "best.keras"))
    csv_logger = keras.callbacks.CSVLogger(str(tmp_path / "history.csv"))
    tensorboard = keras.callbacks.TensorBoard(str(tmp_path / "logs"))
    stopping = keras.callbacks.EarlyStopping()
    run_state = RunState(str(tmp_path / "run"), monitor="val_loss")
    callbacks = [backup, checkpoint, csv_logger, tensorboard, stopping, run_state]
    originals = [dict(vars(callback)) for callback in callbacks]

    with multi_worker._chief_writes_only(callbacks, False, "worker_1") as worker_callbacks:
        assert worker_callbacks[0] is backup and worker_callbacks[2:-1] == callbacks[1:]
        for path in (checkpoint.filepath, csv_logger.filename, tensorboard.log_dir):
            assert not path.startswith(str(tmp_path))
        assert checkpoint.filepath.endswith("best.keras")
        # BackupAndRestore restores from the shared directory, then writes to the worker's.
        assert backup._weights_path == str(tmp_path / "backup" / "latest.weights.h5")
        worker_callbacks[1].on_train_begin()
        assert not backup.backup_dir.startswith(str(tmp_path))
        assert backup._weights_path == os.path.join(backup.backup_dir, "latest.weights.h5")
        # kzoo's RunState likewise: every path it writes lies under its run folder.
        assert worker_callbacks[-1] is not run_state and run_state.run_dir == str(tmp_path / "run")
        worker_callbacks[-1].on_train_begin()
        assert not run_state.run_dir.startswith(str(tmp_path))
        assert not run_state.checkpoint_path.startswith(str(tmp_path))
        workdir = Path(tensorboard.log_dir).parent
        assert workdir.is_dir()
    assert [dict(vars(callback)) for callback in callbacks] == originals
    assert not workdir.exists()

    with multi_worker._chief_writes_only(callbacks, True, "worker_0") as chief_callbacks:
        assert chief_callbacks is callbacks


def test_mirrored_strategy_on_two_cpus_matches_one_device(tmp_path):
    out = tmp_path / "mirrored.json"
    subprocess.run(
        [sys.executable, str(HELPER), "mirrored", str(out)],
        env={**os.environ, "CUDA_VISIBLE_DEVICES": "-1"},
        timeout=TIMEOUT_S,
        check=True,
        capture_output=True,
    )
    result = json.loads(out.read_text())
    assert result["description"] == "MirroredStrategy, 2 replicas (CPU:0, CPU:1)"
    for key, values in result["single_device_history"].items():
        np.testing.assert_allclose(result["history"][key], values, rtol=0, atol=LOSS_ATOL)

    # kzoo's row-wise Adadelta gives Keras' whole-table update's weights under the strategy too
    # (measured: 2e-8 apart; 1e-3 without the decay the idle rows missed, 4e-2 without summing
    # the gradients of a repeated id).
    weights = result["adadelta_weights"]
    assert len(weights["rows"]) == len(weights["whole_table"]) > 0
    for rows, whole_table in zip(weights["rows"], weights["whole_table"]):
        np.testing.assert_allclose(rows, whole_table, rtol=1e-5, atol=1e-7)

    # XLA under two replicas fails as xla_supported says it does.
    assert result["jit_compile"] is True
    assert result["xla_supported"][0] is False and "2 replicas" in result["xla_supported"][1]
    assert "Trying to access resource" in result["jit_fit_error"]["error"]
    # A model built in the scope must be compiled in it too.
    error = result["compiled_outside_scope_error"]["error"]
    assert "Mixing different tf.distribute.Strategy objects" in error


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_multi_worker_fit_matches_one_worker(tmp_path):
    helper = _helper_module()
    workdir, scratch = tmp_path / "shared", tmp_path / "scratch"
    workdir.mkdir()
    scratch.mkdir()
    cluster = {"worker": [f"localhost:{port}" for port in _free_ports(2)]}
    env = {
        **os.environ,
        "CUDA_VISIBLE_DEVICES": "-1",
        "TMPDIR": str(scratch),  # where non-chief workers put, then delete, their files
        # TensorFlow logs a FILE → DATA auto-shard fallback at this verbosity.
        "TF_CPP_MIN_LOG_LEVEL": "0",
        "TF_CPP_VMODULE": "auto_shard=2",
    }
    workers = []
    for index in range(2):
        tf_config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        log = open(tmp_path / f"worker_{index}.log", "w")
        command = [sys.executable, str(HELPER), "worker", str(tmp_path / f"worker_{index}.json")]
        workers.append(
            subprocess.Popen(
                [*command, str(workdir)],
                env={**env, "TF_CONFIG": json.dumps(tf_config)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        log.close()

    try:
        for worker in workers:
            worker.wait(timeout=TIMEOUT_S)
    finally:
        for worker in workers:
            worker.kill()
    logs = [(tmp_path / f"worker_{index}.log").read_text() for index in range(2)]
    for worker, log in zip(workers, logs):
        assert worker.returncode == 0, log[-3000:]
    results = [json.loads((tmp_path / f"worker_{i}.json").read_text()) for i in range(2)]

    # The reference, computed after the workers (collectives slow down a lot when a third
    # process competes for 2 cores): one device, same data and global batch, one more epoch.
    train, valid = helper.datasets()
    model = helper.build_model(helper.CLUSTER_MODEL)
    reference = model.fit(train, validation_data=valid, epochs=helper.EPOCHS + 1, verbose=0)
    reference_eval = model.evaluate(valid, verbose=0, return_dict=True)

    for index, result in enumerate(results):
        assert result["strategy"] == "CollectiveAllReduceStrategy"  # MultiWorkerMirroredStrategy
        assert result["description"] == (
            f"MultiWorkerMirroredStrategy, 2 replicas on 2 workers, this is worker {index} (CPU:0)"
        )
        assert result["is_chief"] is (index == 0)

        # Upstream (keras-team/keras#20585): Keras' own fit fails in _maybe_symbolic_build. If
        # this starts passing, Keras has changed: revisit kzoo's workaround.
        plain = result["plain_fit_error"]
        assert plain is not None, "model.fit now works on several workers"
        assert "PerReplica" in plain["error"] and "unsupported type" in plain["error"]
        functions = [frame.split()[-1] for frame in plain["stack"]]
        assert functions[functions.index("_maybe_symbolic_build") + 1] == "reduce"

        # kzoo's fit: the same history as one device, and no override left on the model.
        history = result["history"]
        for key, values in history.items():
            expected = reference.history[key][: helper.EPOCHS]
            np.testing.assert_allclose(values, expected, rtol=0, atol=LOSS_ATOL, err_msg=key)
        assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
        assert result["overrides_left"] == [] and result["callback_paths_restored"]

        # The restarted fit resumed from the chief's backup after epoch 2, on every worker.
        assert result["resumed_epochs"] == [helper.EPOCHS]
        for key, values in result["resumed_history"].items():
            expected = reference.history[key][helper.EPOCHS :]
            np.testing.assert_allclose(values, expected, rtol=0, atol=LOSS_ATOL, err_msg=key)
        for key, value in reference_eval.items():
            np.testing.assert_allclose(result["evaluate"][key], value, rtol=0, atol=LOSS_ATOL)

        # In-memory data was sharded by DATA: no FILE attempt and fallback from kzoo's calls.
        assert result["shard_policy"] == "DATA"
        kzoo_part = logs[index].split(helper.KZOO_MARKER)[1]
        assert "failed to apply FILE sharding" not in kzoo_part

    # Only the chief wrote to the shared paths; the other worker's files are gone.
    assert (workdir / "checkpoints" / "best.keras").is_file()
    assert len((workdir / "history.csv").read_text().splitlines()) == 1 + helper.EPOCHS
    for split in ("train", "validation"):
        assert len(list((workdir / "logs" / split).iterdir())) == 1
    assert not (workdir / "backup").exists()  # deleted by the chief when training ended
    assert list(scratch.iterdir()) == []


# === xla_supported ===


def test_xla_is_supported_for_recurrent_models_on_cpu():
    model = kzoo.build_model("lstm_classifier", vocabulary_size=20, embedding_dim=4, units=4)
    assert xla.xla_supported(model) == (True, None)


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("kim_cnn", {}),  # dropout on its pooled features
        ("rnn_generator", dict(dropout=0.2)),  # one mask per sequence
        ("mha_classifier", {}),  # attention dropout
        ("gpt", dict(dropout=0.1)),
        ("attention_seq2seq", dict(dropout=0.3)),
        ("lstm_classifier", dict(num_layers=2, dropout=0.2)),
        ("gan", {}),  # noise drawn in its train step
    ],
)
def test_random_numbers_keep_xla_on_cpu(name, kwargs):
    # Drawn with Philox named (xla.trace_with_philox), they cost XLA what they cost TensorFlow.
    model = kzoo.build_model(name, **{**kzoo.registry.get_model_entry(name).tiny.kwargs, **kwargs})
    assert xla.xla_supported(model) == (True, None)


def test_recurrent_dropout_keeps_xla_on_cpu():
    inputs = keras.Input(shape=(None, 3))
    model = keras.Model(inputs, keras.layers.LSTM(2, recurrent_dropout=0.1, name="rnn")(inputs))
    assert xla.xla_supported(model) == (True, None)


@pytest.mark.parametrize(
    "kwargs, layer",
    [
        (dict(rnn="lstm"), "lstm_0"),
        (dict(rnn="gru", num_layers=2), "gru_0"),
        (dict(rnn="lstm", bidirectional=True), "(forward|backward)_lstm_0"),
    ],
)
def test_cudnn_layers_on_a_gpu_are_not_xla_compilable(fake_gpu, kwargs, layer):
    model = kzoo.build_model(
        "lstm_classifier", vocabulary_size=20, embedding_dim=4, units=4, **kwargs
    )
    supported, reason = xla.xla_supported(model)
    assert supported is False
    assert re.match(f"layer '{layer}' \\((LSTM|GRU)\\) runs the cuDNN kernel on GPU", reason)
    assert "cuDNN" in reason and "keras-team/keras/issues/18456" in reason
    # Keras itself turns jit_compile off for these layers (with a warning) when a GPU shows.
    with pytest.warns(UserWarning, match="doesn't support `jit_compile=True`"):
        model.compile(optimizer="adam", loss="binary_crossentropy", jit_compile=True)
    assert model.jit_compile is False


def test_simple_rnn_on_a_gpu_is_xla_compilable(fake_gpu):
    model = kzoo.build_model(
        "lstm_classifier", vocabulary_size=20, embedding_dim=4, units=4, rnn="simple_rnn"
    )
    assert xla.xla_supported(model) == (True, None)


_CUDNN_CASES = [
    {},
    dict(dropout=0.2),
    dict(use_cudnn=False),
    dict(recurrent_dropout=0.2),
    dict(activation="relu"),
    dict(recurrent_activation="tanh"),
    dict(unroll=True),
    dict(use_bias=False),
]


def test_cudnn_condition_matches_what_keras_runs(fake_gpu):
    """kzoo's cuDNN test agrees with the kernel Keras actually picks, on a (faked) GPU."""
    cases = [(keras.layers.LSTM, kwargs) for kwargs in _CUDNN_CASES]
    cases += [(keras.layers.GRU, kwargs) for kwargs in [*_CUDNN_CASES, dict(reset_after=False)]]
    kernels = []
    for layer_class, kwargs in cases:
        fake_gpu.clear()
        layer = layer_class(3, **kwargs)
        layer(np.zeros((2, 4, 5), "float32"), training=True)
        kernels.append(bool(fake_gpu))
        assert xla._uses_cudnn(layer) is kernels[-1], (layer_class.__name__, kwargs)
    assert kernels.count(True) == 4  # LSTM and GRU, with defaults and with input dropout


def test_xla_refused_by_keras_names_the_layer():
    lookup = keras.layers.StringLookup(vocabulary=["a", "b"], name="lookup")
    inputs = keras.Input(shape=(None,), dtype="string")
    model = keras.Model(inputs, lookup(inputs))
    assert xla.xla_supported(model) == (
        False,
        "Keras' model_supports_jit is False: layer 'lookup' (StringLookup) does not support XLA",
    )


def test_xla_refused_by_keras_under_op_determinism(monkeypatch):
    from tensorflow.python.framework import config

    monkeypatch.setattr(config, "is_op_determinism_enabled", lambda: True)
    model = kzoo.build_model("cnn_sentiment", vocabulary_size=20)
    assert xla.xla_supported(model) == (
        False,
        "Keras' model_supports_jit is False: op determinism is enabled",
    )


def test_xla_is_not_supported_with_several_replicas():
    model = kzoo.build_model("cnn_sentiment", vocabulary_size=20)
    two_replicas = types.SimpleNamespace(num_replicas_in_sync=2)
    supported, reason = xla.xla_supported(model, two_replicas)
    assert supported is False and "2 replicas" in reason
    one_device = tf.distribute.MirroredStrategy(["/cpu:0"])
    assert xla.xla_supported(model, one_device) == (True, None)
