"""This machine's CPU as /proc/cpuinfo describes it: its model and its instruction sets.

The runner asks whether the CPU has bfloat16 instructions (AMX, AVX512-BF16), where the `auto`
precision trains in mixed bfloat16 (`kzoo.distribute.placement`); the benchmarks record the CPU
in their reports. Where there is no /proc/cpuinfo (off Linux) nothing is found, and kzoo keeps
float32.
"""

# The CPU instruction sets that compute in bfloat16 natively, as /proc/cpuinfo names them and
# as a run's log does: AMX's tile matrix multiply, and AVX-512's bfloat16 dot products.
BFLOAT16_FLAGS = {"amx_bf16": "AMX bfloat16 units", "avx512_bf16": "AVX512-BF16 instructions"}


def read_cpuinfo(path="/proc/cpuinfo"):
    """`(model name, set of flags)` from a /proc/cpuinfo file; `("", set())` if unreadable.

    Example:

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
    ...     _ = f.write("model name\\t: AMD EPYC\\nflags\\t: fpu avx2\\n")
    >>> model, flags = read_cpuinfo(f.name)
    >>> model, sorted(flags)
    ('AMD EPYC', ['avx2', 'fpu'])
    """
    model, flags = "", set()
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("flags", "Features"):  # x86, ARM
                    flags.update(value.split())
                elif key == "model name" and not model:
                    model = value.strip()
    except OSError:
        pass
    return model, flags


def bfloat16_flags(path="/proc/cpuinfo"):
    """The bfloat16 instruction sets this CPU reports (of `BFLOAT16_FLAGS`), in that order.

    Example:

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
    ...     _ = f.write("flags\\t: fpu avx512f avx512_bf16 sse\\n")
    >>> bfloat16_flags(f.name)
    ['avx512_bf16']
    """
    _, flags = read_cpuinfo(path)
    return [flag for flag in BFLOAT16_FLAGS if flag in flags]
