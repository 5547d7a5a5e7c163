"""float32 against mixed bfloat16 on this CPU: each recipe's training throughput and quality.

Each case trains a recipe on real data (`--data-dir`) twice per round, once in float32 (kzoo's
default) and once with `--mixed-precision` (Keras' `mixed_bfloat16` policy on a CPU: bfloat16
compute, float32 variables; kzoo's heads keep their softmax and loss in float32), the two
interleaved round by round (their order turned every round), each in its own process as a user
runs it:

- **steady throughput**: training examples per second of the fastest epoch after the first, from
  the run's `history.csv` (`train_seconds`: the epoch's training, its validation left out); every
  epoch has the same `--steps-per-epoch`, so an epoch's examples are its steps times the batch;
- **quality**: the validation split's accuracy and loss after the last epoch (classifiers), or its
  loss in nats per character (language models). Runs are seeded, so rounds give the same quality;
  the table gives the first round's. The issue's bar for bfloat16 as a default: accuracy within
  0.5 points and validation loss within 1 % of float32's, and faster.

The CPU's bfloat16 instructions (AMX, AVX512-BF16, read from /proc/cpuinfo) are recorded, since
without them bfloat16 runs as emulated float32 arithmetic plus conversions.
"""

import csv
import json
import os
import statistics
import tempfile

from benchmarks.classification import datasets as classification_datasets
from benchmarks.harness import Report, cpu_bf16_flags, run_notes, run_script, turned

NAME = "precision"
TITLE = "float32 vs mixed bfloat16 on CPU: training throughput and quality per recipe"

PRECISIONS = ("float32", "mixed_bfloat16")
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
    load_start = os.getloadavg()
    rates, quality, failures = {}, {}, []
    for round_ in range(rounds):
        for recipe, data, epochs, steps in cases:
            for precision in turned(PRECISIONS, round_):
                run_dir = os.path.join(base, f"{recipe}_{precision}_{round_}")
                arguments = [*data_arguments(data, args.data_dir)]
                arguments += ["--epochs", str(epochs), "--steps-per-epoch", str(steps)]
                arguments += ["--no-export", "--early-stopping-patience", "0"]
                arguments += ["--output-dir", run_dir]
                if precision != "float32":
                    arguments.append("--mixed-precision")
                code, _, _ = run_script(f"recipes/{recipe}.py", arguments, f"{run_dir}.log")
                if code != 0:
                    failures.append(f"{recipe} {precision} (round {round_ + 1}): {run_dir}.log")
                    continue
                rate = steady_throughput(run_dir, steps)
                rates.setdefault((recipe, precision), []).append(rate)
                quality.setdefault((recipe, precision), validation_quality(run_dir))
                print(f"{recipe} {precision} round {round_ + 1}: {rate:.0f} examples/s")
    load_end = os.getloadavg()
    rows, verdicts = [], []
    for recipe, data, epochs, steps in cases:
        measured = [rates.get((recipe, p)) for p in PRECISIONS]
        if not all(measured) or len(measured[0]) != len(measured[1]):
            rows.append([recipe, data, "failed", "", "", "", "", "", ""])
            continue
        ratios = [bf16 / f32 for f32, bf16 in zip(*measured)]
        ratio = statistics.median(ratios)
        (acc32, loss32), (acc16, loss16) = (quality[(recipe, p)] for p in PRECISIONS)
        outcome = verdict(ratio, (acc32, acc16), (loss32, loss16))
        verdicts.append(f"{recipe}: {outcome}")

        def accuracy(value):
            return "" if value is None else f"{value:.4f}"

        rows.append(
            [
                recipe,
                f"{data}, {epochs} x {steps} steps",
                f"{statistics.median(measured[0]):.1f}",
                f"{statistics.median(measured[1]):.1f}",
                f"{ratio:.2f} [{min(ratios):.2f}–{max(ratios):.2f}]",
                "" if acc32 is None else f"{accuracy(acc32)} / {accuracy(acc16)}",
                f"{loss32:.4f} / {loss16:.4f}",
                f"{100 * (loss16 / loss32 - 1):+.2f} %",
                outcome,
            ]
        )
    flags = cpu_bf16_flags()
    notes = [
        "**bfloat16 as a default** (faster, accuracy within 0.5 points, validation loss within "
        "1 %): " + ("; ".join(verdicts) or "no case finished") + ".",
        *run_notes(load_start, load_end, failures=failures),
    ]
    return Report(
        columns=[
            "recipe",
            "data, epochs x steps",
            "float32 examples/s",
            "bfloat16 examples/s",
            "bfloat16 ÷ float32 (median [min–max])",
            "valid accuracy f32 / bf16",
            "valid loss f32 / bf16",
            "loss change",
            "verdict",
        ],
        rows=rows,
        notes=notes,
        settings={
            "CPU bfloat16 instructions": ", ".join(flags) or "none found in /proc/cpuinfo",
            "runs": "each recipe's defaults on real data, --steps-per-epoch as in the table, "
            "no export, seed 0; bfloat16 runs add --mixed-precision (mixed_bfloat16)",
            "rounds": f"{rounds}, the two precisions interleaved per recipe, their order turned "
            "every round",
        },
    )
