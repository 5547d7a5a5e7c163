"""Choosing and describing the distribution strategy that kzoo trains under.

`resolve_strategy("auto")` picks a TPU when one resolves, else `MultiWorkerMirroredStrategy`
when `TF_CONFIG` describes a cluster of several tasks, else `MirroredStrategy` over the visible
GPUs when there are several, else TensorFlow's default strategy. Training under it is
`kzoo.distribute.multi_worker.fit`; whether XLA can compile for it, `kzoo.distribute.xla`.
"""

import glob
import importlib.util
import json
import os

import tensorflow as tf

from kzoo import validation

STRATEGIES = ("auto", "default", "mirrored", "multi_worker", "tpu")


# === Choosing and describing a strategy ===


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

    >>> from kzoo.distribute.strategy import describe_strategy, resolve_strategy
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
    >>> from kzoo.distribute.strategy import describe_strategy
    >>> describe_strategy(tf.distribute.MirroredStrategy(["/cpu:0"]))
    'MirroredStrategy, 1 replica (CPU:0)'
    """
    replicas = strategy.num_replicas_in_sync
    name = strategy_name(strategy)
    text = f"{name}, {replicas} replica{'' if replicas == 1 else 's'}"
    if is_multi_worker(strategy):
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
    >>> from kzoo.distribute.strategy import global_batch_size
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

    >>> from kzoo.distribute.strategy import is_chief
    >>> is_chief()
    True
    """
    strategy = strategy or tf.distribute.get_strategy()
    return bool(strategy.extended.should_checkpoint)


def strategy_name(strategy):
    """Returns a strategy's public name, for logs.

    `tf.distribute.MultiWorkerMirroredStrategy()` is a `CollectiveAllReduceStrategy`, and
    `TPUStrategy` a `TPUStrategyV2`: this names them as they were asked for.

    Args:
        strategy: a `tf.distribute.Strategy`.

    Returns:
        A str: `"default strategy"`, `"MultiWorkerMirroredStrategy"`, `"TPUStrategy"` or the
        strategy's class name.

    Example:

    >>> import tensorflow as tf
    >>> from kzoo.distribute.strategy import strategy_name
    >>> strategy_name(tf.distribute.get_strategy())
    'default strategy'
    """
    if _is_default(strategy):
        return "default strategy"
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return "MultiWorkerMirroredStrategy"
    if is_tpu(strategy):
        return "TPUStrategy"
    return type(strategy).__name__


def is_tpu(strategy):
    """Returns whether `strategy` is a `TPUStrategy` (of any version).

    Args:
        strategy: a `tf.distribute.Strategy`.

    Returns:
        A bool.

    Example:

    >>> import tensorflow as tf
    >>> from kzoo.distribute.strategy import is_tpu
    >>> is_tpu(tf.distribute.get_strategy())
    False
    """
    return any(cls.__name__.startswith("TPUStrategy") for cls in type(strategy).__mro__)


def is_multi_worker(strategy):
    """Returns whether `strategy` trains on several workers (`MultiWorkerMirroredStrategy`).

    A `MultiWorkerMirroredStrategy` without a cluster in `TF_CONFIG` runs on one worker and is
    not multi-worker. This is the test Keras uses to pick its collective reduction
    (keras/src/backend/tensorflow/trainer.py, `_collective_all_reduce_multi_worker`).

    Args:
        strategy: a `tf.distribute.Strategy`.

    Returns:
        A bool.

    Example:

    >>> import tensorflow as tf
    >>> from kzoo.distribute.strategy import is_multi_worker
    >>> is_multi_worker(tf.distribute.get_strategy())
    False
    """
    return (
        isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
        and strategy.extended._in_multi_worker_mode()
    )


def uses_gpu(strategy):
    """Returns whether `strategy` runs this worker's replicas on a GPU.

    Args:
        strategy: a `tf.distribute.Strategy`.

    Returns:
        A bool: `False` for a TPU, or when no GPU is visible.

    Example:

    >>> import tensorflow as tf
    >>> from kzoo.distribute.strategy import uses_gpu
    >>> uses_gpu(tf.distribute.MirroredStrategy(["/cpu:0"]))
    False
    """
    if is_tpu(strategy) or not tf.config.list_logical_devices("GPU"):
        return False
    return any("GPU" in device.upper() for device in _local_devices(strategy))


# === Private helpers ===


def _is_default(strategy):
    return type(strategy).__name__ == "_DefaultDistributionStrategy"


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
