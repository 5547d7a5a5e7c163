"""float32 against mixed bfloat16 on this CPU: each recipe's training throughput and quality.

Each case trains a recipe on real data (`--data-dir`) three ways per round: in float32 (kzoo's
default, compiled by XLA), with `--mixed-precision` (Keras' `mixed_bfloat16` policy on a CPU:
bfloat16 compute, float32 variables; kzoo's heads keep their softmax and loss in float32), and
with `--mixed-precision --no-xla`: XLA's CPU compiler runs bfloat16 dots without the CPU's AMX
or AVX512-BF16 instructions, which TensorFlow's own (oneDNN) kernels use. The ways are
interleaved round by round (their order turned every round), each in its own process as a user
runs it:

- **steady throughput**: training examples per second of the fastest epoch after the first, from
  the run's `history.csv` (`train_seconds`: the epoch's training, its validation left out); every
  epoch has the same `--steps-per-epoch`, so an epoch's examples are its steps times the batch;
- **quality**: the validation split's accuracy and loss after the last epoch (classifiers), or its
  loss in nats per character (language models). Runs are seeded, so rounds give the same quality;
  the table gives the first round's. The issue's bar for bfloat16 as a default: accuracy within
  0.5 points and validation loss within 1 % of float32's, and faster; the verdict is given for
  the faster of the two bfloat16 ways.

The CPU's bfloat16 instructions (AMX, AVX512-BF16, read from /proc/cpuinfo) are recorded, since
without them bfloat16 runs as emulated float32 arithmetic plus conversions.
"""

import csv
import json
import os
import statistics
import tempfile

from benchmarks.classification import datasets as classification_datasets
from benchmarks.harness import Report, run_notes, run_script, turned
from kzoo.distribute.cpu import bfloat16_flags

NAME = "precision"
TITLE = "float32 vs mixed bfloat16 on CPU: training throughput and quality per recipe"

# (label, the recipe's extra arguments); the first is the baseline.
WAYS = (
    ("float32", []),
    ("bfloat16", ["--mixed-precision"]),
    ("bfloat16 without XLA", ["--mixed-precision", "--no-xla"]),
)
# (recipe, data, epochs, steps per epoch): a few epochs each, so that a run takes a minute or two
# on 2 cores; both precisions train exactly the same steps on the same batches.
CASES = (
    ("kim_cnn", "MR", 4, 100),
    ("cnn_sentiment", "MR", 4, 100),
    ("lstm_classifier", "MR", 4, 100),
    ("mha_classifier", "MR", 4, 100),
    ("encoder_decoder_classifier", "MR", 4, 100),
    ("rnn_generator", "tiny Shakespeare", 3, 30),
    ("gpt", "tiny Shakespeare", 3, 100),
)
QUICK_CASES = (("lstm_classifier", "embedded", 2, 20), ("gpt", "embedded", 2, 20))


def add_arguments(parser):
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (default 2)")
    parser.add_argument(
        "--recipes", nargs="*", default=None, help="recipes to run (default: every case)"
    )


def data_arguments(data, data_dir):
    if data == "MR":
        return classification_datasets(data_dir)["MR"]
    if data == "tiny Shakespeare":
        return ["--train-file", os.path.join(data_dir, "text", "tinyshakespeare.txt")]
    return []  # the recipe's embedded default


def steady_throughput(run_dir, steps):
    """Examples per second of a run's fastest epoch after the first (training time only)."""
    with open(os.path.join(run_dir, "history.csv"), newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    seconds = [float(row["train_seconds"]) for row in rows]
    with open(os.path.join(run_dir, "config.json"), encoding="utf-8") as f:
        batch = json.load(f)["batch_size"]
    return steps * batch / min(seconds[1:] or seconds)


def validation_quality(run_dir):
    """`(accuracy or None, loss)` of the run's validation split after training."""
    with open(os.path.join(run_dir, "metrics.json"), encoding="utf-8") as f:
        valid = json.load(f)["valid"]
    return valid.get("accuracy"), valid["loss"]


def verdict(rate_ratio, accuracy, loss):
    """Whether bfloat16 meets the bar against float32: faster, accuracy within 0.5 points,
    validation loss within 1 %. `accuracy` and `loss` are `(float32, bfloat16)` pairs.

    Example:

    >>> verdict(1.2, (0.75, 0.747), (0.50, 0.504))
    'meets the bar'
    >>> verdict(0.8, (None, None), (1.50, 1.51))
    'slower'
    """
    reasons = []
    if rate_ratio <= 1.0:
        reasons.append("slower")
    if accuracy[0] is not None and accuracy[1] < accuracy[0] - 0.005:
        reasons.append("accuracy more than 0.5 points lower")
    if loss[1] > loss[0] * 1.01:
        reasons.append("validation loss more than 1 % higher")
    return "; ".join(reasons) or "meets the bar"


def run(args):
    base = tempfile.mkdtemp(prefix="kzoo-bench-precision-")
    cases = QUICK_CASES if args.quick else CASES
    if args.recipes:
        cases = [case for case in cases if case[0] in args.recipes]
    rounds = 1 if args.quick else args.rounds
    labels = [label for label, _ in WAYS]
    load_start = os.getloadavg()
    rates, quality, failures = {}, {}, []
    for round_ in range(rounds):
        for recipe, data, epochs, steps in cases:
            for label, extra in turned(WAYS, round_):
                run_dir = os.path.join(base, f"{recipe}_{labels.index(label)}_{round_}")
                arguments = [*data_arguments(data, args.data_dir)]
                arguments += ["--epochs", str(epochs), "--steps-per-epoch", str(steps)]
                arguments += ["--no-export", "--early-stopping-patience", "0"]
                arguments += ["--output-dir", run_dir, *extra]
                code, _, _ = run_script(f"recipes/{recipe}.py", arguments, f"{run_dir}.log")
                if code != 0:
                    failures.append(f"{recipe} {label} (round {round_ + 1}): {run_dir}.log")
                    continue
                rate = steady_throughput(run_dir, steps)
                rates.setdefault((recipe, label), []).append(rate)
                quality.setdefault((recipe, label), validation_quality(run_dir))
                print(f"{recipe} {label} round {round_ + 1}: {rate:.0f} examples/s")
    load_end = os.getloadavg()

    def accuracy(value):
        return "" if value is None else f"{100 * value:.2f}"

    rows, verdicts = [], []
    for recipe, data, epochs, steps in cases:
        measured = [rates.get((recipe, label)) for label in labels]
        if not all(measured) or len({len(m) for m in measured}) != 1:
            rows.append([recipe, data, "failed", *[""] * (len(labels) + 4)])
            continue
        ratios = {
            label: [rate / f32 for f32, rate in zip(measured[0], m)]
            for label, m in zip(labels[1:], measured[1:])
        }
        # The verdict is the faster bfloat16 way's.
        best = max(labels[1:], key=lambda label: statistics.median(ratios[label]))
        acc32, loss32 = quality[(recipe, labels[0])]
        acc16, loss16 = quality[(recipe, best)]
        outcome = verdict(statistics.median(ratios[best]), (acc32, acc16), (loss32, loss16))
        verdicts.append(f"{recipe}: {outcome} ({best})")
        row = [recipe, f"{data}, {epochs} x {steps} steps"]
        row += [f"{statistics.median(m):.1f}" for m in measured]
        row += [f"{statistics.median(r):.2f} [{min(r):.2f}–{max(r):.2f}]" for r in ratios.values()]
        if acc32 is not None:
            row.append(" / ".join(accuracy(quality[(recipe, label)][0]) for label in labels))
        else:
            row.append("")
        row.append(" / ".join(f"{quality[(recipe, label)][1]:.4f}" for label in labels))
        row.append(f"{outcome} ({best}: loss {100 * (loss16 / loss32 - 1):+.2f} %)")
        rows.append(row)
    flags = bfloat16_flags()
    notes = [
        "**bfloat16 as a default** (faster, accuracy within 0.5 points, validation loss within "
        "1 %; the faster bfloat16 way): " + ("; ".join(verdicts) or "no case finished") + ".",
        *run_notes(load_start, load_end, failures=failures),
    ]
    return Report(
        columns=[
            "recipe",
            "data, epochs x steps",
            *(f"{label} examples/s" for label in labels),
            *(f"{label} ÷ float32 (median [min–max])" for label in labels[1:]),
            "valid accuracy % (" + " / ".join(labels) + ")",
            "valid loss (" + " / ".join(labels) + ")",
            "verdict",
        ],
        rows=rows,
        notes=notes,
        settings={
            "CPU bfloat16 instructions": ", ".join(flags) or "none found in /proc/cpuinfo",
            "runs": "each recipe's defaults on real data, --steps-per-epoch as in the table, "
            "no export, seed 0; "
            + "; ".join(f"{label}: {' '.join(extra) or 'no flag'}" for label, extra in WAYS),
            "rounds": f"{rounds}, the ways interleaved per recipe, their order turned every round",
        },
    )
