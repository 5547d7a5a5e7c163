"""Training throughput and model FLOP utilisation of three kzoo models on a GPU, on Keras' JAX
backend, in float32 and mixed bfloat16.

The models are the recipes' own, at the recipes' sizes and batches: the GPT (`recipes/gpt.py`:
4 layers of width 128, context 128, batch 32), the character LSTM (`recipes/rnn_generator.py`:
512 units, context 100, batch 64) and the Kim CNN (`recipes/kim_cnn.py`: 300-wide embeddings,
100 filters of widths 3, 4 and 5, batch 50, Adadelta). The language models read random windows
of tiny Shakespeare; the Kim CNN reads MR's sentences (rt-polarity.pos/.neg), as lowercase
words, cut or padded to 64 tokens. Each case compiles its training step with XLA (`jax.jit`),
warms up, then trains a fixed number of steps; steady throughput is examples (windows,
sentences) per second over the timed steps.

**Model FLOPs** count matrix products only, as `benchmarks/flops.py` does on the CPU, from the
model's sizes: 3 x the forward products per example (the backward pass computes two products of
each forward one's size). GPT per token: 24 x width^2 x layers (projections and feed-forward at
4 x width), 4 x context x width x layers (attention scores and values, unmasked), 2 x width x
vocabulary (head). LSTM per character: 8 x (embedding + units) x units + 2 x units x vocabulary.
Kim CNN per sentence: 2 x width x embedding x filters x length for each kernel width, plus the
dense head. **MFU** divides the achieved model FLOP/s by the GPU's dense peak for the precision
(float32 matmuls on recent NVIDIA GPUs run as TF32 under XLA's default precision, so the float32
row is read against the TF32 peak); a GPU not in `PEAKS` gets no MFU.

On JAX, Keras' LSTM runs as a `lax.scan` of its cell (there is no cuDNN LSTM kernel in JAX),
unlike TensorFlow's cuDNN path on the same GPU.

It runs where TensorFlow is not installed (the lent GPU machine's image has JAX only): the
model files are loaded without kzoo's package `__init__` (as `gpt_scale.py` does), and the data
is read with numpy.

    KERAS_BACKEND=jax python benchmarks/device/gpu.py --text tinyshakespeare.txt --mr-dir DIR

`--quick` runs a few steps of each case (a smoke test, on CPU too).
"""

import argparse
import os
import platform
import re
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gpt_scale import ROOT, kzoo_model_module, load_text, random_windows, versions  # noqa: E402

from benchmarks.harness import Report, table, write_results  # noqa: E402

NAME = "gpu"
TITLE = "GPU training throughput and model FLOP utilisation on Keras' JAX backend"
PRECISIONS = ("float32", "mixed_bfloat16")
# Dense peak FLOP/s (NVIDIA's data sheets, SXM parts): (TF32, bfloat16).
PEAKS = {"H200": (494.7e12, 989.4e12), "H100": (494.7e12, 989.4e12), "A100": (156e12, 312e12)}
STEPS, WARMUP_STEPS, STEPS_PER_EXECUTION = 300, 30, 10
KIM_LENGTH = 64

# The recipes' model sizes and batches.
GPT = dict(num_layers=4, num_heads=4, hidden_dim=128, intermediate_dim=512, dropout=0.0)
LSTM = dict(embedding_dim=64, units=512, rnn="lstm", dropout=0.2)
KIM = dict(embedding_dim=300, filters=100, kernel_sizes=(3, 4, 5), dropout=0.5, max_norm=3.0)


def gpt_flops(args, context, vocabulary):
    width, layers = args["hidden_dim"], args["num_layers"]
    per_token = 2 * layers * (4 * width * width + 2 * width * args["intermediate_dim"])
    per_token += 4 * context * width * layers + 2 * width * vocabulary
    return 3 * per_token * context


def lstm_flops(args, context, vocabulary):
    units = args["units"]
    per_token = 8 * (args["embedding_dim"] + units) * units + 2 * units * vocabulary
    return 3 * per_token * context


def kim_flops(args, length, classes=2):
    width = args["embedding_dim"] * args["filters"]
    convolutions = sum(2 * k * width * length for k in args["kernel_sizes"])
    return 3 * (convolutions + 2 * args["filters"] * len(args["kernel_sizes"]) * classes)


def mr_sentences(folder, length):
    """MR's sentences as word ids `(n, length)` (0 padding, 1 unknown) and labels."""
    texts, labels = [], []
    for name, label in (("rt-polarity.neg", 0), ("rt-polarity.pos", 1)):
        with open(os.path.join(folder, name), encoding="latin-1") as f:
            lines = [line.strip().lower() for line in f if line.strip()]
        texts += lines
        labels += [label] * len(lines)
    words = [re.findall(r"[\w']+|[^\w\s]", text) for text in texts]
    counts = {}
    for sentence in words:
        for word in sentence:
            counts[word] = counts.get(word, 0) + 1
    lookup = {word: i + 2 for i, word in enumerate(sorted(counts, key=lambda w: -counts[w]))}
    ids = np.zeros((len(words), length), "int32")
    for row, sentence in enumerate(words):
        kept = [lookup[word] for word in sentence][:length]
        ids[row, : len(kept)] = kept
    return ids, np.array(labels, "int32"), len(lookup) + 2


def cases(args):
    """(name, build(), batch, inputs, targets, FLOPs per example, optimizer, tokens per example)."""
    import keras

    train, _, characters = load_text(args.text)
    vocabulary = len(characters) + 1
    rng = np.random.default_rng(0)
    quick = args.quick

    def windows(context, count):
        w = random_windows(train, count, context, rng)
        return w[:, :-1], w[:, 1:]

    gpt_args = dict(GPT, num_layers=1) if quick else GPT
    x, y = windows(128, 32 * 64)
    yield (
        "GPT",
        lambda: kzoo_model_module("gpt").build_gpt(
            vocabulary_size=vocabulary, max_sequence_length=128, **gpt_args
        ),
        32,
        x,
        y,
        gpt_flops(gpt_args, 128, vocabulary),
        lambda: keras.optimizers.Adam(1e-3),
        128,
    )
    lstm_args = dict(LSTM, units=64) if quick else LSTM
    x, y = windows(100, 64 * 64)
    yield (
        "char LSTM",
        lambda: kzoo_model_module("rnn_generator").build_rnn_generator(
            vocabulary_size=vocabulary, **lstm_args
        ),
        64,
        x,
        y,
        lstm_flops(lstm_args, 100, vocabulary),
        lambda: keras.optimizers.Adam(2e-3),
        100,
    )
    kim_args = dict(KIM, embedding_dim=16, filters=8) if quick else KIM
    ids, labels, words = mr_sentences(args.mr_dir, KIM_LENGTH)
    yield (
        "Kim CNN",
        lambda: kzoo_model_module("cnn_sentiment").build_kim_cnn(
            vocabulary_size=words, num_classes=2, **kim_args
        ),
        50,
        ids,
        labels,
        kim_flops(kim_args, KIM_LENGTH),
        lambda: keras.optimizers.Adadelta(1.0, rho=0.95, epsilon=1e-6),
        KIM_LENGTH,
    )


def peak_for(device_kind, precision):
    for name, (tf32, bf16) in PEAKS.items():
        if name in device_kind:
            return bf16 if "bfloat16" in precision else tf32
    return None


def run_case(build, batch, x, y, optimizer, precision, steps, warmup, per_call):
    """`(examples per second, warm-up seconds, parameters)` of one model in one precision."""
    import keras

    keras.config.set_dtype_policy(precision)
    keras.utils.set_random_seed(0)
    model = build()
    model.compile(
        optimizer=optimizer(),
        loss=model.loss,
        jit_compile=True,
        steps_per_execution=per_call,
    )
    needed = batch * max(steps, warmup)
    repeat = -(-needed // len(x))
    x, y = np.concatenate([x] * repeat)[:needed], np.concatenate([y] * repeat)[:needed]
    started = time.perf_counter()
    model.fit(x[: batch * warmup], y[: batch * warmup], batch_size=batch, verbose=0)
    warm_up = time.perf_counter() - started
    started = time.perf_counter()
    model.fit(x, y, batch_size=batch, verbose=0)
    seconds = time.perf_counter() - started
    keras.config.set_dtype_policy("float32")
    return batch * steps / seconds, warm_up, model.count_params()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--text", required=True, help="tiny Shakespeare's input.txt")
    parser.add_argument("--mr-dir", required=True, help="folder of rt-polarity.pos and .neg")
    parser.add_argument("--results-dir", default=os.path.join(ROOT, "benchmarks", "results"))
    parser.add_argument("--quick", action="store_true", help="a few steps per case")
    args = parser.parse_args(argv)

    import jax

    device = jax.devices()[0]
    kind = getattr(device, "device_kind", device.platform)
    # --quick: one step per call (JAX unrolls a call's steps, and compiles them all).
    steps, warmup, per_call = (
        (8, 2, 1) if args.quick else (STEPS, WARMUP_STEPS, STEPS_PER_EXECUTION)
    )
    started = time.time()
    columns = [
        "model",
        "precision",
        "parameters",
        "examples/s",
        "tokens/s",
        "model TFLOP/s",
        "MFU (dense peak)",
        "warm-up s",
    ]
    rows = []
    for name, build, batch, x, y, flops, optimizer, tokens in cases(args):
        for precision in PRECISIONS:
            print(f"=== {name}, {precision}", flush=True)
            rate, warm_up, parameters = run_case(
                build, batch, x, y, optimizer, precision, steps, warmup, per_call
            )
            achieved = rate * flops
            peak = peak_for(kind, precision)
            rows.append(
                [
                    name,
                    precision,
                    f"{parameters / 1e6:.2f}M",
                    round(rate),
                    round(rate * tokens),
                    round(achieved / 1e12, 2),
                    f"{100 * achieved / peak:.1f} %" if peak else "n/a",
                    round(warm_up, 1),
                ]
            )
            wall = time.time() - started
            write(args, columns, rows, kind, (steps, warmup, per_call), wall, argv)
    print(table(columns, rows))


def write(args, columns, rows, kind, schedule, wall_time, argv):
    """Writes `<results-dir>/gpu.md` after each case, so a cut-off run keeps its figures."""
    command = "KERAS_BACKEND=jax python benchmarks/device/gpu.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    steps, warmup, per_call = schedule
    settings = {
        "device": f"{kind} ({platform.machine()} host)",
        "steps": f"{warmup} warm-up steps (compilation), then {steps} timed steps; "
        f"{per_call} steps per compiled call; XLA (jit)",
        "models": "the recipes' sizes and batches" + (" (--quick: smaller)" if args.quick else ""),
    }
    notes = [__doc__.split("\n\n")[1], __doc__.split("\n\n")[2], __doc__.split("\n\n")[3]]
    report = Report(columns, rows, notes=notes, settings=settings)
    write_results(NAME, TITLE, report, command, wall_time, args.results_dir, versions())


if __name__ == "__main__":
    main()
