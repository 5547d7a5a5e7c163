"""kzoo's training speed against the frameworks a user would pick instead: PyTorch and Keras on
JAX, for the GPT, the char LSTM and the Kim CNN.

- **kzoo**: the recipe (`recipes/gpt.py`, `rnn_generator.py`, `kim_cnn.py`) as `kzoo train`
  runs it on TensorFlow: its model, optimizer, precision, XLA and steps per call (the table
  says which precision and compiler each run had).
- **Keras-JAX**: the same recipe, model and settings on Keras' JAX backend (`jax.jit`).
- **PyTorch**: the models as a PyTorch user writes them (benchmarks/_torch_peers.py:
  nanoGPT's GPT with fused query/key/value and `scaled_dot_product_attention`, `nn.LSTM`, Kim's
  CNN with masked pooling, Adadelta and max-norm), eager, float32.

All three train on the same batches: the first `--batches` batches of the recipe's own
pipeline on the real data (tiny Shakespeare; MR), held in memory, for `--epochs` epochs, each in
its own process (benchmarks/_peers_worker.py); an epoch is timed alone. **Steady** throughput is
the examples of the fastest epoch after the first; **warm-up** is the first epoch's extra
seconds (tracing, compilation). Rounds interleave the frameworks model by model, their order
turned every round, so a change of the machine's load falls on all of them and none always runs
first; each figure is the median over rounds, and each ratio is kzoo's throughput over the
fastest peer's in the same round (median [min–max]). Threads: each framework on every core
(TensorFlow's and XLA's defaults, `torch.set_num_threads(cores)`). The load average is recorded
at the start and the end; a busy start is flagged.

PyTorch and JAX install as the benchmark extra: `pip install -e ".[peers]"` (PyTorch's CPU
build first, see README.md).
"""

import importlib.util
import json
import os
import statistics
import tempfile

from benchmarks.harness import Report, run_notes, run_script, turned

NAME = "peers"
TITLE = "Training speed against PyTorch and Keras-JAX: GPT, char LSTM, Kim CNN (2 CPU cores)"

MODELS = ("gpt", "char_lstm", "kim_cnn")
FRAMEWORKS = ("kzoo", "jax", "torch")
LABELS = {"kzoo": "kzoo (TensorFlow)", "jax": "Keras-JAX", "torch": "PyTorch"}
GOAL, FLOOR = 1.0, 0.8  # median over rounds at least as fast; no round below 0.8x


def add_arguments(parser):
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument(
        "--batches",
        type=int,
        default=48,
        help="batches per epoch, a multiple of the recipes' 16 steps per call (default 48)",
    )
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run (default 3)")
    parser.add_argument("--models", nargs="*", default=None, help=f"subset of {MODELS}")


def installed():
    return [
        f
        for f in FRAMEWORKS
        if f == "kzoo" or importlib.util.find_spec({"jax": "jax", "torch": "torch"}[f])
    ]


def run(args):
    base = tempfile.mkdtemp(prefix="kzoo-bench-peers-")
    models = args.models or MODELS
    rounds, batches, epochs = args.rounds, args.batches, args.epochs
    if args.quick:
        rounds, batches, epochs = 1, 16, 2
    frameworks = installed()
    load_start = os.getloadavg()
    figures = {}  # (model, framework) -> [(examples/s, warm-up s, peak MiB, result)]
    failures = []
    for round_ in range(rounds):
        for model in models:
            for framework in turned(frameworks, round_):
                out = os.path.join(base, f"{model}_{framework}_{round_}.json")
                code, _, peak = run_script(
                    "benchmarks/_peers_worker.py",
                    [framework, model, out, "--data-dir", args.data_dir]
                    + ["--batches", str(batches), "--epochs", str(epochs)],
                    out + ".log",
                    env={"KERAS_BACKEND": "jax" if framework == "jax" else "tensorflow"},
                )
                if code != 0:
                    failures.append(f"{model} on {framework} (round {round_ + 1}): {out}.log")
                    continue
                with open(out, encoding="utf-8") as f:
                    result = json.load(f)
                steady = min(result["seconds"][1:]) if epochs > 1 else result["seconds"][0]
                rate = result["examples"] / steady
                warm_up = result["seconds"][0] - steady
                figures.setdefault((model, framework), []).append((rate, warm_up, peak, result))
                print(f"{model} {framework} round {round_ + 1}: {rate:.0f} examples/s", flush=True)
    load_end = os.getloadavg()
    return _report(
        models, frameworks, figures, failures, load_start, load_end, rounds, batches, epochs
    )


def how_it_trains(framework, result):
    """`"float32, XLA"`, `"mixed_bfloat16, no XLA"`, `"float32, jax.jit"`, `"float32, eager"`.

    Example:

    >>> how_it_trains("kzoo", {"precision": "mixed_bfloat16", "xla": False})
    'mixed_bfloat16, no XLA'
    """
    compiler = {"jax": "jax.jit", "torch": "eager"}.get(framework)
    if compiler is None:
        compiler = "XLA" if result.get("xla") else "no XLA"
    return f"{result.get('precision', 'float32')}, {compiler}"


def _report(models, frameworks, figures, failures, load_start, load_end, rounds, batches, epochs):
    rows, verdicts = [], []
    for model in models:
        peers = [f for f in frameworks if f != "kzoo" and figures.get((model, f))]
        kzoo = figures.get((model, "kzoo"), [])
        ratios = []
        for round_ in range(len(kzoo)):
            fastest = max(
                (
                    figures[(model, f)][round_][0]
                    for f in peers
                    if len(figures[(model, f)]) > round_
                ),
                default=None,
            )
            if fastest:
                ratios.append(kzoo[round_][0] / fastest)
        for framework in frameworks:
            measured = figures.get((model, framework))
            if not measured:
                rows.append([model, LABELS[framework], "failed", "", "", "", "", "", ""])
                continue
            result = measured[0][3]
            ratio = ""
            if framework == "kzoo" and ratios:
                ratio = f"{statistics.median(ratios):.2f} [{min(ratios):.2f}–{max(ratios):.2f}]"
            rows.append(
                [
                    model,
                    LABELS[framework],
                    how_it_trains(framework, result),
                    f"{result['parameters']:,}",
                    round(statistics.median(m[0] for m in measured), 1),
                    ratio,
                    # One decimal (the first epoch can be a little faster than the fastest
                    # later one: no warm-up, shown as 0.0).
                    f"{max(statistics.median(m[1] for m in measured), 0.0):.1f}",
                    round(max(m[2] for m in measured)),
                    result["threads"],
                ]
            )
        if ratios:
            met = statistics.median(ratios) >= GOAL and min(ratios) >= FLOOR
            verdicts.append(
                f"{model}: kzoo ÷ fastest peer {statistics.median(ratios):.2f} "
                f"(lowest round {min(ratios):.2f}): {'met' if met else 'missed'}"
            )
    missing = [f for f in FRAMEWORKS if f not in frameworks]
    notes = [
        "**Goal** (kzoo's recipe defaults at least as fast as the fastest peer, median over "
        f"rounds, no round below {FLOOR}x): " + "; ".join(verdicts) + ".",
        *run_notes(load_start, load_end, missing, failures),
    ]
    notes.insert(
        2,
        "Peak RSS is the whole process's: every worker also holds TensorFlow and kzoo's "
        "pipeline, which made the batches.",
    )
    return Report(
        columns=[
            "model",
            "framework",
            "precision, compiler",
            "parameters",
            "steady examples/s",
            "kzoo ÷ fastest peer (median [min–max])",
            "warm-up s",
            "peak RSS MiB",
            "threads",
        ],
        rows=rows,
        notes=notes,
        settings={
            "data": "the recipes' pipelines on ../shared/data: tiny Shakespeare (GPT: windows "
            "of 128, batch 32; char LSTM: windows of 100, batch 64), MR (Kim CNN: batch 50, "
            "length-bucketed)",
            "runs": f"the first {batches} batches, {epochs} epochs each, seed 0; kzoo in its "
            "recipe's precision (the char LSTM's auto: mixed bfloat16 without XLA on a CPU with "
            "AMX or AVX512-BF16, float32 with XLA elsewhere), the peers in float32",
            "rounds": f"{rounds}, frameworks interleaved per model, their order turned every round",
        },
    )
