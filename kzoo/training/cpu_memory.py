"""TensorFlow's pooled CPU allocator, which a training run asks for before its first tensor.

By default TensorFlow takes every tensor's CPU memory from `malloc` and returns it when the
tensor dies (except where its oneDNN kernels are on, by default on CPUs with AVX512-VNNI,
AVX512-BF16 or AMX: oneDNN's allocator pools already, and the run's log says so). The large
buffers of a train step (an LSTM's gates for every step of a batch: 50 MB at 64 windows of 100
characters and 512 units) are above `malloc`'s threshold for keeping freed memory, so every step
maps them afresh from the kernel, page by page: a char LSTM's step spent about a sixth of its
time in page faults. TensorFlow's BFC allocator (the one it uses on GPUs) keeps freed memory for
the next tensors instead; `TF_CPU_ALLOCATOR_USE_BFC=true` asks for it on the CPU. TensorFlow
reads the variable when it allocates its first CPU tensor, so `Run` calls `pool_cpu_memory`
before it builds anything; a variable the user set wins.

The pool does not give memory back to the system before the process ends: a run's resident
memory stays at its peak (`benchmarks/results/peers.md` has both).

Example:

>>> from kzoo.training.cpu_memory import describe_cpu_memory, pool_cpu_memory
>>> pool_cpu_memory()  # before the first tensor
>>> describe_cpu_memory().startswith(("pooled", "not pooled"))  # for the run's log
True
"""

import os

POOL_VARIABLE = "TF_CPU_ALLOCATOR_USE_BFC"


def cpu_memory_pooled():
    """Whether TensorFlow's CPU tensors come from its pooled (BFC) allocator in this process."""
    import tensorflow as tf

    try:
        # Only a BFC allocator keeps statistics on the CPU.
        tf.config.experimental.get_memory_info("CPU:0")
    except ValueError:
        return False
    return True


def pool_cpu_memory():
    """Asks TensorFlow for its pooled CPU allocator, unless `TF_CPU_ALLOCATOR_USE_BFC` is set.

    Call it before TensorFlow allocates its first tensor; it initializes nothing itself, so
    device settings made after it still apply.
    """
    os.environ.setdefault(POOL_VARIABLE, "true")


def describe_cpu_memory():
    """What this process's CPU tensors are allocated with, in a few words for a run's log."""
    setting = f"{POOL_VARIABLE}={os.environ.get(POOL_VARIABLE, 'unset')}"
    asked = os.environ.get(POOL_VARIABLE, "").strip().lower() in ("true", "1")
    if cpu_memory_pooled():
        if asked:
            return f"pooled ({setting})"
        # Not asked for: the other BFC allocator on a CPU is oneDNN's, which TensorFlow uses
        # where its oneDNN kernels are on (by default on CPUs with AVX512-VNNI, -BF16 or AMX).
        return f"pooled by TensorFlow's oneDNN allocator ({setting})"
    if asked:
        return f"not pooled: TensorFlow had allocated before {setting} was set"
    return f"not pooled ({setting})"
