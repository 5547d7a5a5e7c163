"""Where a run trains on Keras' JAX and PyTorch backends: `keras.distribution`'s view of the
machine, not `tf.distribute`.

`resolve_distribution` gives the runner the same few things a `tf.distribute` strategy gives it
(`scope()`, `num_replicas_in_sync`, whether this process is the chief, a line for the log,
mixed precision, XLA, steps per call), so the run flow is one on every backend
(`kzoo.distribute.placement`).

On JAX, several devices train data-parallel with `keras.distribution.DataParallel`: every
variable is replicated on every device, and each batch is split across them. Several processes
(hosts) join first through `keras.distribution.initialize`, which reads Keras' environment
variables `KERAS_DISTRIBUTION_JOB_ADDRESSES` (the coordinator's `host:port`, or every
process's), `KERAS_DISTRIBUTION_NUM_PROCESSES` and `KERAS_DISTRIBUTION_PROCESS_ID`; the
devices of all processes then form one mesh. kzoo's pipelines (length-bucketed, so neither their
batch size nor their shapes are static) are fitted to it by `distribute_dataset`: each batch is
cut to a multiple of the devices (an epoch's partial batches lose fewer rows than there are
devices; shuffling changes which), and each process keeps its own equal slice of every batch,
so all processes take the same number of steps. Evaluation after training is not cut: the
distribution is active while the model is built and fitted only, and the replicated model then
evaluates whole batches. Keras' PyTorch backend has no `keras.distribution`: a run there uses
one device.

Example:

>>> placement = resolve_distribution("default")  # doctest: +SKIP
>>> placement.describe()  # doctest: +SKIP
'keras.distribution on jax, 1 device (cpu:0)'
"""

import contextlib
import os

import keras

# The strategy settings that mean something off TensorFlow.
DISTRIBUTIONS = ("auto", "default")
# Keras' own variables for `keras.distribution.initialize`.
NUM_PROCESSES_VARIABLE = "KERAS_DISTRIBUTION_NUM_PROCESSES"


class KerasDistribution:
    """The devices a run trains on outside TensorFlow.

    Args:
        devices: list of str. The devices the run trains on (of every process).
        distribution: a `keras.distribution.DataParallel` over `devices`, or `None` for one
            device.
        process_id: int. This process's index among `num_processes`.
        num_processes: int. The processes that train together.
    """

    def __init__(self, devices, distribution=None, process_id=0, num_processes=1):
        self.devices = list(devices)
        self.distribution = distribution
        self.process_id = process_id
        self.num_processes = num_processes

    @property
    def num_replicas_in_sync(self):
        return len(self.devices) if self.distribution else 1

    @property
    def chief(self):
        return self.process_id == 0

    @property
    def strategy(self):
        """What model building enters (`scope()`): this placement itself."""
        return self

    def scope(self):
        """Where variables are created (replicated on every device) and training runs."""
        if self.distribution is None:
            return contextlib.nullcontext()
        return self.distribution.scope()

    def distribute_dataset(self, dataset):
        """`dataset` as this process feeds `fit` (see the module docstring): each batch cut
        to a multiple of the devices, then this process's slice of it. One device: unchanged.

        Args:
            dataset: a `tf.data.Dataset` of global batches, or `None`.
        """
        if self.distribution is None or dataset is None:
            return dataset
        import tensorflow as tf

        replicas, processes, index = self.num_replicas_in_sync, self.num_processes, self.process_id

        def rows(batch):
            return tf.shape(tf.nest.flatten(batch)[0])[0]

        def this_process_slice(*batch):
            whole = rows(batch)
            share = whole // replicas * replicas // processes
            sliced = tf.nest.map_structure(lambda t: t[index * share : (index + 1) * share], batch)
            return sliced[0] if len(sliced) == 1 else sliced

        return dataset.filter(lambda *batch: rows(batch) >= replicas).map(this_process_slice)

    def precision(self, mixed):
        """`(dtype policy, why)` for the `mixed_precision` setting: mixed precision is float16
        on GPUs, bfloat16 elsewhere (TPUs, CPUs); `"auto"` is float32 (its bfloat16 gain is
        measured on TensorFlow's CPU kernels, and these backends compile with XLA)."""
        if mixed is not True:  # False or "auto"
            return "float32", None
        if self.devices[0].startswith(("gpu", "cuda")):
            return "mixed_float16", None
        return "mixed_bfloat16", None

    def xla(self, model, requested):
        """`(jit_compile, why not)` for `model`: JAX compiles every train step with XLA (Keras'
        JAX trainer runs `jax.jit` unless told not to, and eagerly it is far slower); on
        PyTorch, `jit_compile=True` would be `torch.compile`, which recompiles per shape, so
        the run trains eagerly there."""
        if keras.backend.backend() == "jax":
            return True, None
        why = "jit_compile on Keras' PyTorch backend is torch.compile" if requested else None
        return False, why

    def steps_per_execution(self, requested):
        """Training steps per compiled call: Keras' PyTorch backend runs one at a time."""
        return 1 if keras.backend.backend() == "torch" else requested

    def describe(self):
        backend = keras.backend.backend()
        if self.distribution is None:
            return f"keras.distribution on {backend}, 1 device ({self.devices[0]})"
        where = f"{len(self.devices)} devices ({', '.join(self.devices)})"
        if self.num_processes > 1:
            where += f", process {self.process_id} of {self.num_processes}"
        return (
            f"keras.distribution.DataParallel on {backend}, {where}; training batches cut to "
            f"a multiple of {len(self.devices)}"
        )


def resolve_distribution(name="auto"):
    """The `KerasDistribution` a run trains with on JAX or PyTorch.

    Joins the other processes first when Keras' `KERAS_DISTRIBUTION_NUM_PROCESSES` says there
    are several (JAX only); call it before anything runs on JAX in this process.

    Args:
        name: str. `"auto"`: every device (of every process) on JAX, data-parallel; one
            device on PyTorch. `"default"`: one device. TensorFlow's strategies (`"mirrored"`,
            `"multi_worker"`, `"tpu"`) are refused.

    Returns:
        A `KerasDistribution`.
    """
    backend = keras.backend.backend()
    if name not in DISTRIBUTIONS:
        raise ValueError(
            f"Invalid value for setting strategy. Expected one of {DISTRIBUTIONS} on Keras' "
            f"{backend} backend (tf.distribute's strategies need TensorFlow's). "
            f"Received: strategy={name}"
        )
    if backend != "jax":
        return KerasDistribution(_torch_devices())
    num_processes = join_jax_processes(name)
    devices = keras.distribution.list_devices()
    if name == "default" or len(devices) == 1:
        return KerasDistribution(devices[:1])
    import jax

    distribution = keras.distribution.DataParallel(devices=devices, auto_shard_dataset=False)
    return KerasDistribution(devices, distribution, jax.process_index(), num_processes)


def join_jax_processes(name="auto"):
    """Joins the JAX processes Keras' environment variables name, once per process, before
    anything runs on JAX; returns how many there are.

    Args:
        name: str. The run's `strategy` setting: `"default"` (one device) is refused when
            several processes train together.
    """
    value = os.environ.get(NUM_PROCESSES_VARIABLE, "1")
    if not value.isdigit() or int(value) < 1:
        raise ValueError(
            f"Invalid value for environment variable {NUM_PROCESSES_VARIABLE}. Expected a "
            f"positive integer. Received: {NUM_PROCESSES_VARIABLE}={value}"
        )
    count = int(value)
    if count == 1:
        return 1
    if name == "default":
        raise ValueError(
            f"Invalid value for setting strategy. Expected 'auto' when {count} processes "
            f"train together ({NUM_PROCESSES_VARIABLE}={count}): 'default' trains on one "
            "device. Received: strategy=default"
        )
    import jax

    if not jax.distributed.is_initialized():
        keras.distribution.initialize()
    return count


def _torch_devices():
    import torch

    return ["cuda:0"] if torch.cuda.is_available() else ["cpu:0"]
