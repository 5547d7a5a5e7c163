"""Distribution strategies for kzoo's training runner: choose one, describe it, fit under it.

`resolve_strategy("auto")` picks a TPU when one resolves, else `MultiWorkerMirroredStrategy`
when `TF_CONFIG` describes a cluster of several tasks, else `MirroredStrategy` over the visible
GPUs when there are several, else TensorFlow's default strategy. `fit` is `model.fit` that also
works under `MultiWorkerMirroredStrategy`, and `xla_supported` says whether `jit_compile=True`
can work for a model under a strategy, and why not.

Keras 3 `fit` under `MultiWorkerMirroredStrategy`
--------------------------------------------------

Upstream bug: https://github.com/keras-team/keras/issues/20585 (also
https://github.com/tensorflow/tensorflow/issues/72388). With TensorFlow 2.21 and Keras 3.15,
`model.fit` on two or more workers fails twice, on every worker:

1. `Trainer._maybe_symbolic_build` builds the model from the first batch and, when that batch
   holds `tf.distribute.DistributedValues`, first averages it across replicas with
   `strategy.reduce("MEAN", batch, axis=None)`. `strategy.reduce` does not accept a nested
   structure (its source marks nested values as still to be supported) and only
   `MirroredStrategy` happens to map over one; the collective strategy passes the whole
   `(x, y)` tuple to its cross-device ops, which fail with
   `ValueError: Attempt to convert a value (PerReplica:{...}) with an unsupported type
   (<class '...PerReplica'>) to a Tensor.` (The average of a batch of token ids would be
   meaningless anyway: only the shapes and dtypes are used.)
2. Once past that, `reduce_per_replica(..., reduction="auto")` reduces the logs of each train
   and test step in multi-worker mode with `strategy.reduce("MEAN", value, axis=0)`. Metric
   results are scalars, so tracing fails with
   `ValueError: Invalid reduction dimension 0 for input with 0 dimensions.`

kzoo keeps Keras' `fit` and fixes both on the model instance, only for the duration of
`kzoo.training.strategy.fit` (or `evaluate`), only in multi-worker mode, and removes the overrides
afterwards (a context manager; no Keras module is patched):

1. `model._maybe_symbolic_build` builds from the first local replica's part of the first batch
   instead of a cross-replica mean. Shapes and dtypes are the same, so the model, metrics and
   optimizer are built exactly as Keras would build them.
2. `model.train_step` and `model.test_step` return their logs with a leading axis of length 1.
   Keras' `strategy.reduce("MEAN", logs, axis=0)` then averages each value over all replicas
   of all workers, which is what Keras does for `MirroredStrategy` (the mean of the replicas'
   values). The epoch logs, read from the metrics' variables, are global totals as usual.

The train and test functions are retraced on entry and exit so that no override outlives the
call. Epoch losses and metrics match a single-worker run at the same global batch size, and a
restarted fit resumes from `BackupAndRestore` on every worker (tests/training/test_strategy.py).

Two more things `model.fit` leaves to the user on several workers, which kzoo's `fit` does:

- Every worker runs the callbacks, and Keras 3 writes their files from every worker to the
  same paths: two workers saving `BackupAndRestore`'s `latest.weights.h5` at once fail with
  `BlockingIOError: [Errno 11] Unable to synchronously create file (unable to lock file ...)`.
  As Keras 2 did, kzoo lets only the chief write where asked: on the other workers
  `ModelCheckpoint`, `BackupAndRestore`, `TensorBoard`, `CSVLogger` and kzoo's `RunState`
  write to a temporary directory that is deleted after `fit`. `BackupAndRestore` and
  `RunState` still restore from the shared run folder on every worker. Custom callbacks that
  write files should check `is_chief()`.
- In-memory `tf.data` datasets get the `DATA` auto-shard policy (`shard_options`). Left on
  `AUTO`, TensorFlow first tries `FILE`, fails and falls back to `DATA` (TensorFlow 2.21 logs
  "AUTO sharding policy will apply DATA sharding policy as it failed to apply FILE sharding
  policy" only at `TF_CPP_VMODULE=auto_shard=2`; earlier versions warned).

XLA and cuDNN
-------------

`xla_supported` answers for the runner before it compiles with `jit_compile=True`. On a GPU,
Keras' TensorFlow backend runs `LSTM` and `GRU` layers with the cuDNN kernel (`CudnnRNNV3`)
when `use_cudnn` is `"auto"` or `True`, `recurrent_dropout` is 0, the activation is tanh, the
recurrent activation sigmoid, `unroll` is off, `use_bias` is on (and, for `GRU`,
`reset_after` is on). XLA cannot compile that op (https://github.com/keras-team/keras/issues/18456).
Keras 3 avoids the crash itself: such a layer's constructor sets `supports_jit = False` when a
GPU is visible and `cudnn_ok` holds (it does not look at `recurrent_dropout`), so the model's
`jit_compile="auto"` resolves to `False` and `jit_compile=True` is turned off with a warning.
`xla_supported` says so before compiling, with the layer's name, for the log.
"""

import contextlib
import glob
import importlib.util
import json
import os
import platform
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf

from kzoo import validation
from kzoo.training.run_state import RunState

STRATEGIES = ("auto", "default", "mirrored", "multi_worker", "tpu")

# Dataset ops that read files: TensorFlow's FILE auto-sharding can split these by file.
_FILE_READER_OPS = (
    "ArrayRecordDataset",
    "CSVDataset",
    "ExperimentalCSVDataset",
    "FixedLengthRecordDataset",
    "RecordIODataset",
    "SSTableDataset",
    "TextLineDataset",
    "TFRecordDataset",
)

# The activations for which Keras' TensorFlow backend picks the cuDNN kernel
# (keras/src/backend/tensorflow/rnn.py, `_do_lstm_arguments_support_cudnn`).
_CUDNN_ACTIVATIONS = (keras.activations.tanh, tf.tanh, keras.ops.tanh)
_CUDNN_RECURRENT_ACTIVATIONS = (keras.activations.sigmoid, tf.sigmoid, keras.ops.sigmoid)


# === Choosing a strategy ===


def resolve_strategy(name="auto"):
    """Returns the `tf.distribute.Strategy` to train with.

    `"auto"` picks, in order: `TPUStrategy` when a TPU resolves; `MultiWorkerMirroredStrategy`
    when the `TF_CONFIG` environment variable describes a cluster of more than one task;
    `MirroredStrategy` over the GPUs when more than one is visible; else the default strategy.
    The TPU check reads only environment variables and device files unless they point to a
    TPU, so it costs nothing on a machine without one.

    Call this before anything else initialises TensorFlow's runtime: multi-worker training
    must configure collective ops first.

    Args:
        name: str. One of `"auto"`, `"default"` (the current strategy, usually the default
            one-device strategy), `"mirrored"` (`MirroredStrategy` over the visible GPUs, or
            over the visible logical CPU devices when there is no GPU), `"multi_worker"`
            (`MultiWorkerMirroredStrategy`, cluster from `TF_CONFIG`) or `"tpu"`
            (`TPUStrategy`; a `ValueError` when no TPU resolves). Defaults to `"auto"`.

    Returns:
        A `tf.distribute.Strategy`.

    Example:

    >>> from kzoo.training.strategy import describe_strategy, resolve_strategy
    >>> describe_strategy(resolve_strategy("default"))
    'default strategy, 1 replica (CPU:0)'
    """
    validation.one_of("strategy", name, STRATEGIES)
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "tpu":
        return _tpu_strategy(_tpu_hint() or "env")
    if name == "multi_worker":
        _tf_config_num_tasks()  # Fails early on a malformed or parameter-server TF_CONFIG.
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(devices=_mirrored_devices())

    # "auto". Order matters: a multi-worker strategy must be created before TensorFlow's
    # runtime starts, and listing devices starts it.
    hint = _tpu_hint()
    if hint:
        try:
            return _tpu_strategy(hint)
        except ValueError:
            pass
    if _tf_config_num_tasks() > 1:
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy(devices=[device.name for device in gpus])
    return tf.distribute.get_strategy()


def describe_strategy(strategy):
    """Returns a one-line description of a strategy for logs.

    Args:
        strategy: a `tf.distribute.Strategy`.

    Returns:
        A str such as `"MirroredStrategy, 2 replicas (CPU:0, CPU:1)"` or
        `"MultiWorkerMirroredStrategy, 4 replicas on 2 workers, this is worker 1 (GPU:0,
        GPU:1)"`.

    Example:

    >>> import tensorflow as tf
    >>> from kzoo.training.strategy import describe_strategy
    >>> describe_strategy(tf.distribute.MirroredStrategy(["/cpu:0"]))
    'MirroredStrategy, 1 replica (CPU:0)'
    """
    replicas = strategy.num_replicas_in_sync
    name = _strategy_name(strategy)
    text = f"{name}, {replicas} replica{'' if replicas == 1 else 's'}"
    if _in_multi_worker_mode(strategy):
        resolver = strategy.cluster_resolver
        workers = _count_workers(resolver.cluster_spec().as_dict())
        text += f" on {workers} workers, this is {resolver.task_type} {resolver.task_id}"
    devices = [_short_device_name(device) for device in _local_devices(strategy)]
    if len(devices) > 4:
        devices = [devices[0], "...", devices[-1]]
    return f"{text} ({', '.join(devices)})"


def global_batch_size(per_replica_batch_size, strategy):
    """Returns the global batch size: the per-replica batch size times the replicas in sync.

    Keras' `fit` under a strategy takes the global batch size and splits each batch across the
    replicas (of all workers).

    Args:
        per_replica_batch_size: int. Examples each replica sees per step.
        strategy: a `tf.distribute.Strategy`.

    Returns:
        An int.

    Example:

    >>> import tensorflow as tf
    >>> from kzoo.training.strategy import global_batch_size
    >>> global_batch_size(32, tf.distribute.get_strategy())
    32
    """
    validation.positive_int("per_replica_batch_size", per_replica_batch_size)
    return int(per_replica_batch_size) * strategy.num_replicas_in_sync


def is_chief(strategy=None):
    """Returns whether this process should write files: `True` except on non-chief workers.

    Args:
        strategy: a `tf.distribute.Strategy`, or `None` for the current one. Defaults to
            `None`.

    Returns:
        A bool.

    Example:

    >>> from kzoo.training.strategy import is_chief
    >>> is_chief()
    True
    """
    strategy = strategy or tf.distribute.get_strategy()
    return bool(strategy.extended.should_checkpoint)


# === Training ===


def fit(model, x=None, **fit_kwargs):
    """Trains `model` with `model.fit`, also under `MultiWorkerMirroredStrategy`.

    The arguments, the return value and the training are those of `model.fit`. On several
    workers kzoo works around Keras 3's multi-worker bugs for the duration of the call, shards
    in-memory datasets by `DATA`, and lets only the chief write callback files (see the module
    docstring). Build and compile the model inside `strategy.scope()`.

    Args:
        model: a compiled `keras.Model`.
        x: the training data, as for `model.fit`. Defaults to `None`.
        **fit_kwargs: any other `model.fit` argument (`y`, `batch_size`, `epochs`,
            `steps_per_epoch`, `validation_data`, `callbacks`, `initial_epoch`, ...).

    Returns:
        The `keras.callbacks.History` that `model.fit` returns.

    Example:

    >>> import numpy as np
    >>> import kzoo
    >>> from kzoo.training.strategy import fit, resolve_strategy
    >>> with resolve_strategy("default").scope():
    ...     model = kzoo.build_lstm_classifier(vocabulary_size=20, embedding_dim=4, units=4)
    >>> history = fit(model, np.ones((4, 3), "int32"), y=np.ones(4), epochs=2, verbose=0)
    >>> len(history.history["loss"])
    2
    """
    strategy = model.distribute_strategy
    if not _in_multi_worker_mode(strategy):
        return model.fit(x, **fit_kwargs)
    x = shard_options(x)
    if "validation_data" in fit_kwargs:
        fit_kwargs["validation_data"] = shard_options(fit_kwargs["validation_data"])
    callbacks = fit_kwargs.pop("callbacks", None)
    with _multi_worker_fixes(model), _chief_writes_only(callbacks, strategy) as callbacks:
        return model.fit(x, callbacks=callbacks, **fit_kwargs)


def evaluate(model, x=None, **evaluate_kwargs):
    """Evaluates `model` with `model.evaluate`, also under `MultiWorkerMirroredStrategy`.

    The counterpart of `fit`: the same fixes, for `model.evaluate`'s arguments and result.

    Args:
        model: a compiled `keras.Model`.
        x: the evaluation data, as for `model.evaluate`. Defaults to `None`.
        **evaluate_kwargs: any other `model.evaluate` argument.

    Returns:
        What `model.evaluate` returns.

    Example:

    >>> import numpy as np
    >>> import kzoo
    >>> from kzoo.training.strategy import evaluate
    >>> model = kzoo.build_lstm_classifier(vocabulary_size=20, embedding_dim=4, units=4)
    >>> logs = evaluate(model, np.ones((4, 3), "int32"), y=np.ones(4), verbose=0,
    ...                 return_dict=True)
    >>> sorted(logs)
    ['accuracy', 'loss']
    """
    strategy = model.distribute_strategy
    if not _in_multi_worker_mode(strategy):
        return model.evaluate(x, **evaluate_kwargs)
    callbacks = evaluate_kwargs.pop("callbacks", None)
    with _multi_worker_fixes(model), _chief_writes_only(callbacks, strategy) as callbacks:
        return model.evaluate(shard_options(x), callbacks=callbacks, **evaluate_kwargs)


def shard_options(dataset):
    """Returns `dataset` set to be auto-sharded by `DATA` across workers, unless it reads files.

    TensorFlow's default `AUTO` policy first tries to shard by file; for an in-memory dataset
    (`from_tensor_slices`, a generator) that fails and it falls back to sharding by data
    (older TensorFlow versions warn about it). This sets `DATA` up front. A dataset that reads
    files (TFRecord, text lines, CSV, fixed-length records) keeps `AUTO`, so that each worker
    reads its own files, and an explicit policy is never overridden. Anything that is not a
    `tf.data.Dataset` (arrays, which Keras already shards by `DATA`; an `(x, y)` tuple) is
    returned unchanged.

    Args:
        dataset: a `tf.data.Dataset`, or anything else `fit` accepts.

    Returns:
        The dataset with the sharding option set, or `dataset` itself.

    Example:

    >>> import tensorflow as tf
    >>> from kzoo.training.strategy import shard_options
    >>> dataset = shard_options(tf.data.Dataset.range(8).batch(4))
    >>> dataset.options().experimental_distribute.auto_shard_policy.name
    'DATA'
    """
    if not isinstance(dataset, tf.data.Dataset):
        return dataset
    policy = dataset.options().experimental_distribute.auto_shard_policy
    if policy != tf.data.experimental.AutoShardPolicy.AUTO or _reads_files(dataset):
        return dataset
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


# === XLA ===


def xla_supported(model, strategy=None):
    """Returns whether `jit_compile=True` can work for `model` under `strategy`, and why not.

    Not supported:

    - on a GPU, a Keras `LSTM` or `GRU` layer that runs the cuDNN kernel, which XLA cannot
      compile (https://github.com/keras-team/keras/issues/18456);
    - wherever Keras' own `model_supports_jit` says no (layers such as `StringLookup`, op
      determinism enabled, TensorFlow on Apple GPUs);
    - on CPU, a model with dropout over sequences (attention dropout, recurrent dropout, or a
      `Dropout` whose masks have a time axis or more than 4,096 values per example): XLA's
      random number generation on CPU is about 100x slower than TensorFlow's, which makes
      such a training step several times slower than without XLA
      (`benchmarks/results/flops.md`). Small masks, such as Kim's CNN's dropout on its 300
      pooled features, or the RNN generator's dropout whose mask every time step shares,
      cost little, and XLA stays on (`benchmarks/results/speed.md`: Kim's CNN trains 2.2x
      faster with it);
    - on CPU, a model that draws random numbers in its own train step (a `SeedGenerator` of
      the model, such as the GAN's noise): its several draws per step made the GAN's epochs
      1.5x slower with XLA;
    - under a strategy with more than one replica, other than a TPU: Keras 3 compiles
      `strategy.run` together with the cross-replica reduction as one XLA function, which
      fails. With TensorFlow 2.21, `MirroredStrategy` fails with "Trying to access resource
      ... located in device CPU:1 from device CPU:0"
      (https://www.tensorflow.org/xla/known_issues#tfvariable_on_a_different_device) and
      `MultiWorkerMirroredStrategy`, for a model with an embedding, with "No registered
      'CollectiveGatherV2' OpKernel for XLA_CPU_JIT devices". Keras' `jit_compile="auto"`
      already turns XLA off under `tf.distribute`.

    Args:
        model: a `keras.Model`.
        strategy: the `tf.distribute.Strategy` to train under, or `None` for the model's.
            Defaults to `None`.

    Returns:
        A tuple `(supported, reason)`: a bool, and `None` or a one-line str to log.

    Example:

    >>> import kzoo
    >>> from kzoo.training.strategy import xla_supported
    >>> xla_supported(kzoo.build_cnn_sentiment(vocabulary_size=20))
    (True, None)
    """
    strategy = strategy or model.distribute_strategy
    if _uses_gpu(strategy):
        for layer in model._flatten_layers(include_self=False):
            if _uses_cudnn(layer):
                return False, (
                    f"layer '{layer.name}' ({type(layer).__name__}) runs the cuDNN kernel on "
                    "GPU, which XLA cannot compile "
                    "(https://github.com/keras-team/keras/issues/18456)"
                )
    reason = _keras_jit_refusal(model)
    if reason:
        return False, reason
    if not _uses_gpu(strategy) and not _is_tpu(strategy):
        for name, value in vars(model).items():
            if isinstance(value, keras.random.SeedGenerator):
                return False, (
                    f"{model.name} draws random numbers in its train step ({name}), and on "
                    "CPU XLA's random numbers are about 100x slower than TensorFlow's"
                )
        for layer in model._flatten_layers(include_self=False):
            if _draws_large_random_masks(layer):
                return False, (
                    f"layer '{layer.name}' ({type(layer).__name__}) draws dropout masks over "
                    "sequences, and "
                    "on CPU XLA's random numbers are about 100x slower than TensorFlow's "
                    "(benchmarks/results/flops.md)"
                )
    replicas = strategy.num_replicas_in_sync
    if replicas > 1 and not _is_tpu(strategy):
        return False, (
            f"{_strategy_name(strategy)} has {replicas} replicas and Keras 3 XLA-compiles the "
            "whole distributed step, cross-replica reduction included, which XLA cannot do "
            "(variables on other devices, collective ops without XLA kernels)"
        )
    return True, None


# === Private helpers: strategies ===


def _strategy_name(strategy):
    """The public name: `tf.distribute.MultiWorkerMirroredStrategy()` is a
    `CollectiveAllReduceStrategy`, and `TPUStrategy` a `TPUStrategyV2`."""
    if _is_default(strategy):
        return "default strategy"
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return "MultiWorkerMirroredStrategy"
    if _is_tpu(strategy):
        return "TPUStrategy"
    return type(strategy).__name__


def _is_default(strategy):
    return type(strategy).__name__ == "_DefaultDistributionStrategy"


def _is_tpu(strategy):
    return any(cls.__name__.startswith("TPUStrategy") for cls in type(strategy).__mro__)


def _in_multi_worker_mode(strategy):
    # The test Keras uses to pick its collective reduction
    # (keras/src/backend/tensorflow/trainer.py, `_collective_all_reduce_multi_worker`).
    return (
        isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
        and strategy.extended._in_multi_worker_mode()
    )


def _local_devices(strategy):
    if _is_default(strategy):
        gpus = tf.config.list_logical_devices("GPU")
        return [gpus[0].name if gpus else "/device:CPU:0"]
    return list(strategy.extended.worker_devices)


def _short_device_name(device):
    spec = tf.DeviceSpec.from_string(device)
    return f"{spec.device_type}:{spec.device_index}"


def _mirrored_devices():
    gpus = tf.config.list_logical_devices("GPU")
    return [device.name for device in gpus or tf.config.list_logical_devices("CPU")]


def _count_workers(cluster):
    return sum(len(cluster.get(job, ())) for job in ("chief", "worker"))


def _tf_config_num_tasks():
    """Returns the number of chief and worker tasks in `TF_CONFIG`, 0 when it is unset."""
    raw = os.environ.get("TF_CONFIG", "")
    if not raw.strip():
        return 0
    try:
        config = json.loads(raw)
    except json.JSONDecodeError:
        config = None
    if not isinstance(config, dict) or not isinstance(config.get("cluster", {}), dict):
        raise ValueError(
            "Invalid value for environment variable TF_CONFIG. Expected a JSON object with a "
            f"'cluster' object and a 'task' object. Received: TF_CONFIG={raw}"
        )
    cluster = config.get("cluster", {})
    if "ps" in cluster:
        raise ValueError(
            "Invalid value for environment variable TF_CONFIG. Expected a cluster of 'chief' "
            "and 'worker' tasks for MultiWorkerMirroredStrategy (kzoo does not run "
            f"parameter-server training). Received: TF_CONFIG={raw}"
        )
    return _count_workers(cluster)


def _tpu_hint():
    """Returns how a TPU could be reached: `"env"`, `"local"`, or `None` when nothing hints one.

    Reads only environment variables and device files: `TPUClusterResolver` itself may query
    the GCE metadata server, which must not happen on every machine.
    """
    if any(os.environ.get(name) for name in ("TPU_NAME", "KUBE_GOOGLE_CLOUD_TPU_ENDPOINTS")):
        return "env"
    if os.environ.get("TPU_CONFIG"):
        return "env"
    # TPU VMs expose their chips as /dev/accel* (v2 to v4) or /dev/vfio/<n> (v5 and later) and
    # ship libtpu; other machines may have vfio devices but not libtpu.
    has_chips = glob.glob("/dev/accel[0-9]*") or glob.glob("/dev/vfio/[0-9]*")
    has_libtpu = (
        importlib.util.find_spec("libtpu") is not None
        or os.path.exists("/usr/lib/libtpu.so")
        or bool(os.environ.get("TPU_LIBRARY_PATH"))
    )
    return "local" if has_chips and has_libtpu else None


def _tpu_strategy(hint):
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver.connect(
            tpu="local" if hint == "local" else None
        )
    except Exception as error:  # The resolver raises ValueError, RuntimeError, URLError...
        raise ValueError(
            "Invalid value for argument strategy. Expected a TPU that "
            "tf.distribute.cluster_resolver.TPUClusterResolver resolves, but none did "
            f"({type(error).__name__}: {error}). Received: strategy=tpu"
        ) from error
    return tf.distribute.TPUStrategy(resolver)


# === Private helpers: multi-worker fit ===


@contextlib.contextmanager
def _multi_worker_fixes(model):
    """Overrides two trainer methods on `model` for a multi-worker fit; see the module doc."""
    if getattr(vars(model).get("train_step"), "_kzoo_replica_axis", False):
        # Already inside kzoo's fit (a callback evaluating, say): the overrides are in place,
        # and resetting the train function now would break the fit that is running.
        yield model
        return
    strategy = model.distribute_strategy
    keras_build = model._maybe_symbolic_build
    keras_train_step = model.train_step
    keras_test_step = model.test_step

    def build_from_local_batch(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = keras.tree.map_structure(_first_local_value, next(batches))
                break
        return keras_build(data_batch=data_batch)

    def _first_local_value(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    def with_replica_axis(step):
        def step_with_replica_axis(data):
            logs = step(data)
            return keras.tree.map_structure(lambda value: tf.expand_dims(value, 0), logs)

        step_with_replica_axis._kzoo_replica_axis = True
        return step_with_replica_axis

    overrides = {
        "_maybe_symbolic_build": build_from_local_batch,
        "train_step": with_replica_axis(keras_train_step),
        "test_step": with_replica_axis(keras_test_step),
    }
    shadowed = {name: vars(model)[name] for name in overrides if name in vars(model)}
    for name, method in overrides.items():
        object.__setattr__(model, name, method)
    model.train_function = model.test_function = None
    try:
        yield model
    finally:
        for name in overrides:
            object.__delattr__(model, name)
            if name in shadowed:
                object.__setattr__(model, name, shadowed[name])
        model.train_function = model.test_function = None


class _RedirectAfterRestore(keras.callbacks.Callback):
    """Moves a restoring callback's writes (`BackupAndRestore`, kzoo's `RunState`) to a worker
    directory once it has restored from the shared one."""

    def __init__(self, callback, redirect, attribute):
        super().__init__()
        self.callback = callback
        self.redirect = redirect
        self.attribute = attribute

    def on_train_begin(self, logs=None):
        self.redirect(self.callback, self.attribute, is_file=False)


@contextlib.contextmanager
def _chief_writes_only(callbacks, strategy):
    """Points non-chief workers' callback files to a temporary directory; see the module doc."""
    if is_chief(strategy) or not isinstance(callbacks, (list, tuple)):
        yield callbacks
        return
    resolver = strategy.cluster_resolver
    workdir = tempfile.mkdtemp(prefix=f"kzoo_{resolver.task_type}_{resolver.task_id}_")
    moved = []  # (callback, attribute, original value)

    def redirect(callback, attribute, is_file):
        original = getattr(callback, attribute)
        target = os.path.join(workdir, str(len(moved)))
        os.makedirs(target)
        if is_file:
            target = os.path.join(target, os.path.basename(original))
        # Also move the paths a callback derived from the root (BackupAndRestore's files).
        for name, value in list(vars(callback).items()):
            if isinstance(value, str) and (value == original or value.startswith(original + "/")):
                moved.append((callback, name, value))
                setattr(callback, name, target + value[len(original) :])

    worker_callbacks = []
    for callback in callbacks:
        worker_callbacks.append(callback)
        if isinstance(callback, keras.callbacks.BackupAndRestore):
            worker_callbacks.append(_RedirectAfterRestore(callback, redirect, "backup_dir"))
        elif isinstance(callback, RunState):
            worker_callbacks.append(_RedirectAfterRestore(callback, redirect, "run_dir"))
        elif isinstance(callback, keras.callbacks.ModelCheckpoint):
            redirect(callback, "filepath", is_file=True)
        elif isinstance(callback, keras.callbacks.CSVLogger):
            redirect(callback, "filename", is_file=True)
        elif isinstance(callback, keras.callbacks.TensorBoard):
            redirect(callback, "log_dir", is_file=False)
    try:
        yield worker_callbacks
    finally:
        for callback, name, value in reversed(moved):
            setattr(callback, name, value)
        shutil.rmtree(workdir, ignore_errors=True)


def _reads_files(dataset):
    """Whether a file-reading dataset op is anywhere in `dataset`'s pipeline."""
    stack, seen = [dataset], set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if type(current).__name__.startswith(_FILE_READER_OPS):
            return True
        try:
            functions, inputs = current._functions(), current._inputs()
        except (AttributeError, NotImplementedError):
            return True  # Unknown: leave the choice to TensorFlow's AUTO policy.
        for function in functions:
            graph = function.function.graph.as_graph_def()
            nodes = list(graph.node) + [n for f in graph.library.function for n in f.node_def]
            if any(node.op.startswith(_FILE_READER_OPS) for node in nodes):
                return True
        stack.extend(inputs)
    return False


# === Private helpers: XLA ===


def _uses_gpu(strategy):
    if _is_tpu(strategy) or not tf.config.list_logical_devices("GPU"):
        return False
    return any("GPU" in device.upper() for device in _local_devices(strategy))


def _draws_random_masks(layer):
    """Whether `layer` draws random numbers in training: dropout of any kind (Dropout and its
    spatial variants, attention dropout, recurrent dropout) with a rate above 0."""
    for attribute in ("rate", "dropout", "recurrent_dropout"):
        value = getattr(layer, attribute, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return True
    return False


# Largest dropout mask per example, in values, that XLA on CPU draws cheaply enough.
_SMALL_MASK = 4096


def _draws_large_random_masks(layer):
    """Whether `layer` draws many random numbers per example in training: any dropout but a
    plain `Dropout` whose mask has a fixed size of at most `_SMALL_MASK` values per example
    (no time axis, or one its `noise_shape` broadcasts, as time-shared dropout does)."""
    if not _draws_random_masks(layer):
        return False
    if type(layer) is not keras.layers.Dropout:
        return True
    try:
        per_example = layer.output.shape[1:]
    except (AttributeError, ValueError):  # never called, or called on several inputs
        return True
    if layer.noise_shape is not None:
        # Keras fills the noise shape's None entries from the input's shape.
        per_example = [
            size if noise is None else noise
            for size, noise in zip(per_example, layer.noise_shape[1:])
        ]
    return None in per_example or int(np.prod(per_example)) > _SMALL_MASK


def _uses_cudnn(layer):
    """Whether Keras' TensorFlow backend runs `layer` with cuDNN, given a visible GPU.

    Mirrors `keras.layers.LSTM.inner_loop` / `GRU.inner_loop` and `cudnn_ok` in
    keras/src/backend/tensorflow/rnn.py (Keras 3.15).
    """
    if not isinstance(layer, (keras.layers.LSTM, keras.layers.GRU)):
        return False
    cell = layer.cell
    return (
        layer.use_cudnn in ("auto", True)
        and not cell.recurrent_dropout
        and cell.activation in _CUDNN_ACTIVATIONS
        and cell.recurrent_activation in _CUDNN_RECURRENT_ACTIVATIONS
        and not layer.unroll
        and cell.use_bias
        and (not isinstance(layer, keras.layers.GRU) or cell.reset_after)
    )


def _keras_jit_refusal(model):
    """Returns why Keras' `model_supports_jit(model)` is False, or `None` when it is True."""
    from keras.src.trainers.trainer import model_supports_jit

    if model_supports_jit(model):
        return None
    if (
        platform.system() == "Darwin"
        and "arm" in platform.processor().lower()
        and tf.config.list_physical_devices("GPU")
    ):
        return "Keras' model_supports_jit is False: no XLA for TensorFlow on Apple GPUs"
    for layer in model._flatten_layers(include_self=True):
        if not layer.supports_jit:
            return (
                f"Keras' model_supports_jit is False: layer '{layer.name}' "
                f"({type(layer).__name__}) does not support XLA"
            )
    return "Keras' model_supports_jit is False: op determinism is enabled"
