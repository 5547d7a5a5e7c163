"""Where a run trains, on any Keras backend: the one object the runner asks.

`resolve_placement(name)` gives, on TensorFlow, a `TensorFlowPlacement` around the
`tf.distribute` strategy `kzoo.distribute.strategy` resolves; on JAX and PyTorch, a
`KerasDistribution` (`kzoo.distribute.keras_distribution`). Both answer the same: `strategy`
(what model building enters with `.scope()`), `num_replicas_in_sync`, `chief`, `describe()`,
`precision(mixed)`, `distribute_dataset(dataset)` (what `fit` is given),
`steps_per_execution(requested)` and `xla(model, requested)`.

Example:

>>> placement = resolve_placement("default")
>>> placement.describe(), placement.num_replicas_in_sync, placement.chief
('default strategy, 1 replica (CPU:0)', 1, True)
"""

import keras
import tensorflow as tf

from kzoo.distribute.cpu import BFLOAT16_FLAGS, bfloat16_flags
from kzoo.distribute.keras_distribution import join_jax_processes, resolve_distribution
from kzoo.distribute.strategy import (
    describe_strategy,
    is_chief,
    is_tpu,
    resolve_strategy,
    uses_gpu,
)
from kzoo.distribute.xla import trace_with_philox, xla_supported


def join_processes(name="auto"):
    """Joins the other processes of a run before anything runs on its backend: on JAX, those
    Keras' `KERAS_DISTRIBUTION_*` variables name (`keras.distribution.initialize`); on
    TensorFlow nothing yet (workers join when their strategy is made), nor on PyTorch."""
    if keras.backend.backend() == "jax":
        join_jax_processes(name)


def resolve_placement(name="auto"):
    """The placement of a run with the `strategy` setting `name` on this process's backend."""
    if keras.backend.backend() == "tensorflow":
        return TensorFlowPlacement(resolve_strategy(name))
    return resolve_distribution(name)


class TensorFlowPlacement:
    """A `tf.distribute` strategy as the runner uses it, beside `keras_distribution`'s
    `KerasDistribution` on the other backends: its scope and replicas, whether this worker is
    the chief, a line for the log, mixed precision and XLA.

    Args:
        strategy: a `tf.distribute.Strategy`.
    """

    def __init__(self, strategy):
        self.strategy = strategy

    @property
    def num_replicas_in_sync(self):
        return self.strategy.num_replicas_in_sync

    @property
    def chief(self):
        return is_chief(self.strategy)

    def scope(self):
        return self.strategy.scope()

    def describe(self):
        return describe_strategy(self.strategy)

    def precision(self, mixed):
        """`(dtype policy, why)` for the `mixed_precision` setting: mixed precision is bfloat16
        on TPUs and CPUs, float16 on GPUs; `"auto"` is mixed bfloat16 on a CPU with bfloat16
        instructions (AMX or AVX512-BF16), `why` naming them, and float32 elsewhere."""
        on_cpu = not is_tpu(self.strategy) and not tf.config.list_physical_devices("GPU")
        if mixed == "auto":
            # Measured on both (benchmarks/results/precision.md; the recipes that default to
            # auto say by how much); a CPU without either only emulates bfloat16.
            found = bfloat16_flags() if on_cpu else []
            if found:
                return "mixed_bfloat16", f"auto: this CPU has {BFLOAT16_FLAGS[found[0]]}"
            return "float32", None
        if not mixed:
            return "float32", None
        if on_cpu or is_tpu(self.strategy):
            return "mixed_bfloat16", None
        return "mixed_float16", None

    def distribute_dataset(self, dataset):
        """`dataset` as `fit` takes it: whole global batches, which tf.distribute splits."""
        return dataset

    def steps_per_execution(self, requested):
        """Training steps per compiled call: as asked."""
        return requested

    def xla(self, model, requested):
        """`(jit_compile, why not)`: XLA when asked and it works for the model here. On CPU the
        model's train step then traces with Philox named (`xla.trace_with_philox`): the same
        random numbers, which XLA draws ~40x faster so."""
        if not requested:
            return False, None
        supported, reason = xla_supported(model, self.strategy)
        if supported and not uses_gpu(self.strategy) and not is_tpu(self.strategy):
            trace_with_philox(model)
        return supported, reason
