"""Where a run trains on Keras' JAX and PyTorch backends: one device, through
`keras.distribution`'s view of the machine, not `tf.distribute`.

`resolve_distribution` gives the runner the same few things a `tf.distribute` strategy gives it
(`scope()`, `num_replicas_in_sync`, whether this process is the chief, a line for the log,
mixed precision, XLA, steps per call), so the run flow is one on every backend
(`kzoo.distribute.placement`).

Several devices or processes (`keras.distribution.DataParallel`, `initialize`) are refused for
now, in one error: kzoo's length-bucketed `tf.data` pipelines end an epoch with a partial batch,
which `DataParallel` cannot split across devices, and their batch size is not static, which
`keras.distribution` needs to shard them across processes. Multi-device training stays
TensorFlow's (`tf.distribute`).

Example:

>>> placement = resolve_distribution("default")  # doctest: +SKIP
>>> placement.describe()  # doctest: +SKIP
'keras.distribution on jax, 1 device (cpu:0)'
"""

import contextlib

import keras

# The strategy settings that mean something off TensorFlow.
DISTRIBUTIONS = ("auto", "default")


class KerasDistribution:
    """The device a run trains on outside TensorFlow.

    Args:
        devices: list of str. The devices Keras lists; the run uses the first.
    """

    def __init__(self, devices):
        self.devices = list(devices)

    num_replicas_in_sync = 1
    chief = True

    @property
    def strategy(self):
        """What model building enters (`scope()`): this placement itself."""
        return self

    def scope(self):
        """Where variables are created: Keras' default device."""
        return contextlib.nullcontext()

    def precision_policy(self):
        """Mixed precision here: float16 on GPUs, bfloat16 elsewhere (TPUs, CPUs)."""
        return "mixed_float16" if self.devices[0].startswith(("gpu", "cuda")) else "mixed_bfloat16"

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
        return f"keras.distribution on {keras.backend.backend()}, 1 device ({self.devices[0]})"


def resolve_distribution(name="auto"):
    """The `KerasDistribution` a run trains with on JAX or PyTorch.

    Args:
        name: str. `"auto"` or `"default"`: one device. TensorFlow's strategies
            (`"mirrored"`, `"multi_worker"`, `"tpu"`) are refused, and so are several JAX
            devices or processes under `"auto"` (see the module docstring).

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
    devices = keras.distribution.list_devices() if backend == "jax" else _torch_devices()
    if name == "auto" and len(devices) > 1:
        raise NotImplementedError(
            f"Training on several devices on Keras' {backend} backend is not supported yet: "
            "kzoo's length-bucketed pipelines end an epoch with a partial batch, which "
            "keras.distribution.DataParallel cannot split. Train on one device with "
            f"--strategy default, or on TensorFlow's backend. Received: {len(devices)} devices "
            f"({', '.join(devices)})"
        )
    return KerasDistribution(devices)


def _torch_devices():
    import torch

    return ["cuda:0"] if torch.cuda.is_available() else ["cpu:0"]
