"""Compute efficiency: achieved training FLOP/s of the MHA classifier and the GPT, as a fraction
of this machine's float32 matmul peak measured in the same run.

**FLOPs per training step**, counted on the graph: the forward pass is traced for the benchmark's
fixed input shape, and every matrix product in it (`MatMul`, `BatchMatMul*`, `Einsum`) counts
`2 × output elements × contracted size` (for `Einsum`, `2 ×` the product of the sizes of all its
indices). A training step counts 3 × that: the forward products once, and twice again in the
backward pass (the gradient with respect to each operand is a product of the same size).
Embedding lookups, element-wise ops, softmax, normalisation and the optimizer update are not
matrix products and are left out.

**Time**: steady-state training steps (`train_on_batch` on one fixed batch, after warm-up steps
that trace and compile), with the recipe's settings: XLA on as the runner compiles it
(`jit_compile=True`, its train step tracing Keras' random ops with Philox named on CPU,
`kzoo.distribute.xla.trace_with_philox`), float32, Adam. The same model is also timed with XLA
off and (not with `--quick`), to isolate dropout, with XLA and dropout 0.

**Peak**: a square float32 matmul (4096², 2048² with `--quick`) under `tf.function`, timed in the
same process before the models and again after each one; the best time is kept.
"""

import os
import time

import numpy as np

from benchmarks.harness import Report
from kzoo.distribute.cpu import bfloat16_flags

NAME = "flops"
TITLE = "Compute efficiency: achieved training FLOP/s vs float32 and bfloat16 matmul peaks"

_MATMULS = ("MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3")


def _static(shape, what):
    dims = shape.as_list() if shape.rank is not None else None
    if dims is None or any(d is None for d in dims):
        raise ValueError(f"Cannot count FLOPs of {what}: its shape {shape} is not static.")
    return dims


def op_flops(op):
    """Multiply-add FLOPs (2 per multiply-accumulate) of one graph op; 0 for non-matmul ops."""
    if op.type in _MATMULS:
        a = _static(op.inputs[0].shape, op.name)
        adjoint = op.get_attr("transpose_a" if op.type == "MatMul" else "adj_x")
        contracted = a[-2] if adjoint else a[-1]
        return 2 * int(np.prod(_static(op.outputs[0].shape, op.name))) * contracted
    if op.type == "Einsum":
        equation = op.get_attr("equation").decode()
        operands = equation.split("->")[0].split(",")
        if "." in equation:
            raise ValueError(f"Cannot count FLOPs of einsum {equation!r} with an ellipsis.")
        sizes = {}
        for letters, tensor in zip(operands, op.inputs):
            sizes.update(zip(letters, _static(tensor.shape, op.name)))
        return 2 * int(np.prod(list(sizes.values())))
    return 0


def forward_flops(model, input_shape, dtype="int32"):
    """Matmul FLOPs of one forward pass of `model` on inputs of shape `input_shape`.

    Args:
        model: a `keras.Model` with one input.
        input_shape: tuple of int. Full input shape, batch included.
        dtype: str. Input dtype. Defaults to `"int32"`.

    Returns:
        int. The sum of `op_flops` over the traced forward graph.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
    >>> forward_flops(model, (4, 5), "float32")  # 2 * 4 * 5 * 3
    120
    """
    import tensorflow as tf

    function = tf.function(lambda x: model(x, training=False), autograph=False)
    graph = function.get_concrete_function(tf.TensorSpec(input_shape, dtype)).graph
    total = 0
    for op in graph.get_operations():
        if op.type in ("PartitionedCall", "StatefulPartitionedCall", "While", "If"):
            raise ValueError(f"Cannot count FLOPs inside {op.type} op {op.name}.")
        total += op_flops(op)
    return total


def training_flops(model, input_shape, dtype="int32"):
    """FLOPs of one training step: 3 × the forward matmul FLOPs (forward + two backward)."""
    return 3 * forward_flops(model, input_shape, dtype)


def matmul_peak(size=4096, repeats=5, dtype="float32"):
    """Best FLOP/s of a `size`² × `size`² matmul of `dtype` under `tf.function`."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    a = tf.constant(rng.standard_normal((size, size)), dtype)
    b = tf.constant(rng.standard_normal((size, size)), dtype)
    matmul = tf.function(lambda a, b: tf.reduce_sum(tf.cast(tf.matmul(a, b), tf.float32)))
    matmul(a, b).numpy()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        matmul(a, b).numpy()
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best


def _cases():
    """(model name, factory arguments, batch, sequence length, targets maker, recipe settings)."""
    from recipes import gpt, mha_classifier

    mha, lm = mha_classifier.SETTINGS, gpt.SETTINGS
    return [
        (
            "mha_classifier",
            dict(
                vocabulary_size=mha["max_tokens"],
                num_classes=2,
                max_sequence_length=mha["max_length"],
                **mha["model_args"],
            ),
            mha["batch_size"],
            mha["max_length"],
            lambda rng, b, n: rng.integers(0, 2, (b,)),
            mha,
        ),
        (
            "gpt",
            # 65 characters: tiny Shakespeare's character vocabulary.
            dict(vocabulary_size=65, max_sequence_length=lm["sequence_length"], **lm["model_args"]),
            lm["batch_size"],
            lm["sequence_length"],
            lambda rng, b, n: rng.integers(1, 65, (b, n)),
            lm,
        ),
    ]


def _step_seconds(model, x, y, warmup, steps, budget):
    """Seconds of each timed `train_on_batch` step (at least 2, at most `steps` or `budget` s)."""
    for _ in range(warmup):
        model.train_on_batch(x, y)
    times, started = [], time.perf_counter()
    while len(times) < steps and (len(times) < 2 or time.perf_counter() - started < budget):
        begin = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - begin)
    return times


def _dropout_rng_seconds(shape, repeats):
    """Seconds of Keras' Dropout(0.1) on `shape` in a tf.function without and with XLA, and with
    XLA traced as kzoo's runner traces its steps on CPU (Philox named)."""
    import keras
    import tensorflow as tf

    from kzoo.distribute.xla import philox_random_ops

    layer = keras.layers.Dropout(0.1, seed=0)
    x = tf.ones(shape)
    functions = [
        tf.function(lambda x: layer(x, training=True), autograph=False),
        tf.function(lambda x: layer(x, training=True), autograph=False, jit_compile=True),
    ]
    with philox_random_ops():
        named = tf.function(lambda x: layer(x, training=True), autograph=False, jit_compile=True)
        named(x).numpy()  # traced here, with the algorithm named
    functions.append(named)
    figures = []
    for function in functions:
        function(x).numpy()
        started = time.perf_counter()
        for _ in range(repeats):
            function(x).numpy()
        figures.append((time.perf_counter() - started) / repeats)
    return figures


def run(args):
    import keras

    import kzoo
    from kzoo.distribute.placement import resolve_placement

    placement = resolve_placement("default")
    load_start = os.getloadavg()
    size, repeats = (2048, 3) if args.quick else (4096, 5)
    warmup, steps, budget = (1, 2, 10.0) if args.quick else (3, 20, 60.0)
    # The peak is measured before the models and again after each variant, and the best is
    # kept: on a shared machine one measurement may fall in a busy moment.
    peaks = [matmul_peak(size, repeats)]
    # The bfloat16 peak (AMX or AVX512-BF16 where the CPU has them): what mixed bfloat16
    # training could reach at best on this machine.
    bf16_peaks = [matmul_peak(size, repeats, "bfloat16")]
    rng = np.random.default_rng(0)
    rows = []
    only = set(args.only or [])
    for name, model_args, batch, length, targets, settings in _cases():
        if only and name not in only:
            continue
        x = rng.integers(1, model_args["vocabulary_size"], (batch, length)).astype("int32")
        y = targets(rng, batch, length)
        variants = [("XLA (recipe)", True, model_args), ("XLA off", False, model_args)]
        if not args.quick:
            variants.append(("XLA, dropout 0", True, {**model_args, "dropout": 0.0}))
        for label, jit, arguments in variants:
            keras.utils.set_random_seed(0)
            model = kzoo.build_model(name, **arguments)
            compiled = model.get_compile_config()
            # As the runner compiles: XLA where it keeps it, with Philox named on CPU.
            jit, _ = placement.xla(model, jit)
            model.compile(
                optimizer=keras.optimizers.Adam(
                    settings["learning_rate"], clipnorm=settings.get("clipnorm")
                ),
                loss=keras.saving.deserialize_keras_object(compiled["loss"]),
                metrics=keras.saving.deserialize_keras_object(compiled["metrics"]),
                jit_compile=jit,
            )
            flops = training_flops(model, (batch, length))
            times = _step_seconds(model, x, y, warmup, steps, budget)
            best, median = min(times), float(np.median(times))
            rows.append(
                [
                    name,
                    label,
                    f"{batch}×{length}",
                    f"{model.count_params():,}",
                    f"{flops / 1e9:.2f}",
                    f"{best:.3f} / {median:.3f} ({len(times)})",
                    flops / best,
                ]
            )
            keras.backend.clear_session()
            peaks.append(matmul_peak(size, 2))
            bf16_peaks.append(matmul_peak(size, 2, "bfloat16"))
    peak, bf16_peak = max(peaks), max(bf16_peaks)
    for row in rows:
        achieved = row.pop()
        row += [f"{achieved / 1e9:.1f}", f"{peak / 1e9:.1f}", f"{achieved / peak:.1%}"]
        row += [f"{bf16_peak / 1e9:.1f}", f"{achieved / bf16_peak:.1%}"]
    plain, xla, philox = _dropout_rng_seconds((32, 4, 128, 128), 1 if args.quick else 3)
    load_end = os.getloadavg()
    return Report(
        columns=[
            "model",
            "compilation",
            "batch×steps",
            "parameters",
            "train GFLOP/step",
            "step s best / median (steps)",
            "achieved GFLOP/s",
            "peak GFLOP/s",
            "fraction of peak",
            "bfloat16 peak GFLOP/s",
            "fraction of bfloat16 peak",
        ],
        rows=rows,
        notes=[
            "FLOPs are counted on the traced forward graph (every MatMul/BatchMatMul/Einsum: "
            "2 × output elements × contracted size) and multiplied by 3 for a training step "
            "(forward + gradients of both operands), not with TF's profiler. Achieved = "
            f"FLOPs / best step time; peak = 2·{size}³ / best time of a {size}² float32 matmul "
            f"under tf.function (oneDNN), {len(peaks)} measurements of "
            f"{', '.join(f'{p / 1e9:.0f}' for p in peaks)} GFLOP/s taken before the models and "
            "after each one (the best kept); the fraction uses best times for both, as other "
            "processes on a shared machine only slow things down. The bfloat16 peak is measured "
            "the same way on bfloat16 operands, "
            f"{', '.join(f'{p / 1e9:.0f}' for p in bf16_peaks)} GFLOP/s (this CPU's bfloat16 "
            f"instructions: {', '.join(bfloat16_flags()) or 'none'}); the models train in "
            "float32, so their share of it is what mixed bfloat16 could at best multiply.",
            f"Dropout under XLA on CPU: Keras' `Dropout(0.1)` on a (32, 4, 128, 128) tensor "
            f"(the size of one GPT attention map) takes {plain * 1e3:.1f} ms in a tf.function "
            f"and {xla * 1e3:.1f} ms with jit_compile=True. Keras' TensorFlow backend draws the "
            "mask with `tf.nn.experimental.stateless_dropout`, whose uniform draw uses TF's "
            "default ('auto_select') algorithm, and XLA fuses the derivation of its key from "
            "the seed into the loop over every value; traced as kzoo's runner traces the steps "
            "it compiles on CPU (`kzoo.distribute.xla.philox_random_ops`: Philox named, the "
            f"same numbers), the same layer takes {philox * 1e3:.1f} ms with jit_compile=True."
            + (
                ""
                if args.quick
                else " The 'XLA, dropout 0' rows show what XLA gives without that draw."
            ),
        ],
        settings={
            "inputs": "random token ids without padding; MHA classifier at the recipe's "
            "max_length, GPT at its sequence_length, each at the recipe's batch size and "
            "model_args (MHA vocabulary = recipe max_tokens; GPT vocabulary 65 characters)",
            "steps": f"{warmup} warm-up, then up to {steps} timed (at least 2, about "
            f"{budget:.0f} s at most)",
            "load average (1, 5, 15 min) at start": " ".join(f"{x:.2f}" for x in load_start),
            "load average at end": " ".join(f"{x:.2f}" for x in load_end),
        },
    )
