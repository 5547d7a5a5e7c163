"""Training speed of each recipe on Keras' TensorFlow, JAX and PyTorch backends.

Every recipe trains from its embedded default data (no network, no data folder) for a fixed
number of steps per epoch, once per backend (`--backend`), the backends interleaved recipe by
recipe and round by round (their order turned every round) so that a change in the machine's
load falls on all of them. Each run is its own process (`KERAS_BACKEND=B python
recipes/<recipe>.py`), as a user runs it:

- **steady throughput**: training examples (windows of a language model, pairs of a translator,
  images of the GAN, skip-gram batches' centre words of word2vec) per second in the fastest
  epoch after the first, from the run's `history.csv` (an epoch's seconds include its small
  validation pass);
- **warm-up**: the first epoch's extra seconds over that steady epoch (tracing, XLA or
  `jax.jit` compilation, the dataset cache);
- **peak RSS** of the run's process, and its wall time (start-up, data, training, evaluation).

The ratios divide JAX's and PyTorch's steady throughput by TensorFlow's in the same round
(median and range over rounds). PyTorch runs where it is installed (`pip install -e
".[torch]"`, its CPU build first: see README.md). The machine's load is recorded before and
after; the table is flagged when it was busy.
"""

import csv
import importlib.util
import json
import os
import statistics
import tempfile

from benchmarks.harness import Report, run_notes, run_script, turned

NAME = "backends"
TITLE = "Training throughput of each recipe on Keras' TensorFlow, JAX and PyTorch backends"

BACKENDS = ("tensorflow", "jax", "torch")
RECIPES = (
    "lstm_classifier",
    "cnn_sentiment",
    "kim_cnn",
    "mha_classifier",
    "rnn_generator",
    "gpt",
    "attention_seq2seq",
    "transformer_seq2seq",
    "bilstm_tagger",
    "gan",
    "encoder_decoder_classifier",
    "word2vec_classifier",
    "seq2seq",
    "summarisation",
    "word2vec",
)
# pretrained_classifier and pretrained_generator start from a keras-hub preset, which needs the
# network (or a preset folder) and is the same backbone on every backend as keras-hub's own
# benchmarks measure; they are left out.
QUICK_RECIPES = ("lstm_classifier", "gpt")
STEPS, EPOCHS = 40, 3
QUICK_STEPS, QUICK_EPOCHS = 8, 2


def add_arguments(parser):
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (default 2)")
    parser.add_argument(
        "--recipes", nargs="*", default=None, help=f"recipes to time (default: {RECIPES})"
    )


def installed_backends():
    """The backends whose package is installed (TensorFlow always is)."""
    packages = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
    return [b for b in BACKENDS if importlib.util.find_spec(packages[b]) is not None]


def epoch_figures(run_dir):
    """`(steady seconds, warm-up seconds)` of a run: its fastest epoch after the first, and the
    first epoch's extra time over it."""
    with open(os.path.join(run_dir, "history.csv"), newline="", encoding="utf-8") as f:
        seconds = [float(row["epoch_seconds"]) for row in csv.DictReader(f)]
    steady = min(seconds[1:]) if len(seconds) > 1 else seconds[0]
    return steady, seconds[0] - steady


def run(args):
    base = tempfile.mkdtemp(prefix="kzoo-bench-backends-")
    recipes = args.recipes or (QUICK_RECIPES if args.quick else RECIPES)
    steps, epochs = (QUICK_STEPS, QUICK_EPOCHS) if args.quick else (STEPS, EPOCHS)
    rounds = 1 if args.quick else args.rounds
    backends = installed_backends()
    load_start = os.getloadavg()
    figures = {}  # (recipe, backend) → list of (examples/s, warm-up s, peak MiB, wall s)
    failures = []
    for round_ in range(rounds):
        for recipe in recipes:
            for backend in turned(backends, round_):
                run_dir = os.path.join(base, f"{recipe}_{backend}_{round_}")
                arguments = ["--epochs", str(epochs), "--steps-per-epoch", str(steps)]
                arguments += ["--no-export", "--early-stopping-patience", "0"]
                arguments += ["--output-dir", run_dir]
                # KERAS_BACKEND, not --backend: a recipe file given --backend runs again in a
                # child process, whose memory the parent's peak would not show.
                code, wall, peak = run_script(
                    f"recipes/{recipe}.py",
                    arguments,
                    f"{run_dir}.log",
                    env={"KERAS_BACKEND": backend},
                )
                if code != 0:
                    failures.append(f"{recipe} on {backend} (round {round_ + 1}): {run_dir}.log")
                    continue
                with open(os.path.join(run_dir, "config.json"), encoding="utf-8") as f:
                    batch = json.load(f)["batch_size"]
                steady, warmup = epoch_figures(run_dir)
                figures.setdefault((recipe, backend), []).append(
                    (steps * batch / steady, warmup, peak, wall)
                )
                print(f"{recipe} {backend} round {round_ + 1}: {steps * batch / steady:.0f}/s")
    load_end = os.getloadavg()
    rows = []
    for recipe in recipes:
        for backend in backends:
            measured = figures.get((recipe, backend))
            if not measured:
                rows.append([recipe, backend, "failed", "", "", "", ""])
                continue
            ratio = ""
            tensorflow = figures.get((recipe, "tensorflow"))
            if backend != "tensorflow" and tensorflow and len(tensorflow) == len(measured):
                ratios = [m[0] / t[0] for m, t in zip(measured, tensorflow)]
                ratio = f"{statistics.median(ratios):.2f} [{min(ratios):.2f}–{max(ratios):.2f}]"
            rows.append(
                [
                    recipe,
                    backend,
                    round(statistics.median(m[0] for m in measured), 1),
                    ratio,
                    # One decimal, at least 0 (a first epoch can be a little faster than the
                    # fastest later one: no warm-up).
                    f"{max(statistics.median(m[1] for m in measured), 0.0):.1f}",
                    round(max(m[2] for m in measured)),
                    round(statistics.median(m[3] for m in measured), 1),
                ]
            )
    missing = [b for b in BACKENDS if b not in backends]
    notes = run_notes(load_start, load_end, missing, failures)
    return Report(
        columns=[
            "recipe",
            "backend",
            "steady examples/s",
            "÷ TensorFlow (median [min–max])",
            "warm-up s",
            "peak RSS MiB",
            "run wall s",
        ],
        rows=rows,
        notes=notes,
        settings={
            "runs": f"each recipe's embedded default data, {epochs} epochs of {steps} steps, "
            "no export, seed 0",
            "rounds": f"{rounds}, backends interleaved per recipe, their order turned every round",
            "threads": "each backend's defaults on all cores",
        },
    )
