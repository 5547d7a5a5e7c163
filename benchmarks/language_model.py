"""Character language models on tiny Shakespeare: validation loss in nats per character.

Runs `python recipes/rnn_generator.py` and `python recipes/gpt.py` with their own defaults on
`text/tinyshakespeare.txt` (the recipes' first 90 % / last 10 % split), then asks the exported
SavedModel's `sample` signature (the one TF Serving serves) for text after a prompt, with a fixed
seed, so the results file shows what the numbers mean.
"""

import csv
import json
import os
import tempfile

from benchmarks.harness import Report, recorded, run_or_reuse, table

NAME = "language_model"
TITLE = "Character language models on tiny Shakespeare (validation nats/char)"

# char-rnn's small LSTM reaches about 1.4-1.5; nanoGPT's character GPT 1.47 (on a GPU).
TARGETS = {"rnn_generator": 1.50, "gpt": 1.47}
PROMPT = "ROMEO:\n"

# Other training than the defaults (the LSTM's earlier default among them): each runs beside
# them in a full run, and a table compares them; the figures above are the defaults' own.
TRIED = {
    "rnn_generator": [
        (
            "256 units, no dropout, 10 epochs at a constant 2e-3, fixed windows: the recipe's "
            "default until 2026-11-22",
            ["--epochs", "10", "--lr-schedule", "constant", "--no-random-offsets"]
            + ["--set", "model_args.units=256", "--set", "model_args.dropout=0.0"],
        ),
        (
            "256 units, no dropout (20 epochs, cosine 2e-3 to 2e-4, random window offsets)",
            ["--set", "model_args.units=256", "--set", "model_args.dropout=0.0"],
        ),
        (
            "512 units, no dropout (20 epochs, cosine 2e-3 to 2e-4, random window offsets)",
            ["--set", "model_args.dropout=0.0"],
        ),
    ],
    "gpt": [
        (
            "ReLU, dropout 0.1: the recipe's default until 2026-11-22",
            ["--set", "model_args.activation=relu", "--set", "model_args.dropout=0.1"],
        ),
        (
            "ReLU, dropout 0.1, 200 warm-up steps then cosine 1e-3 to 1e-4, random window offsets",
            ["--set", "model_args.activation=relu", "--set", "model_args.dropout=0.1"]
            + ["--lr-schedule", "cosine", "--warmup-steps", "200", "--random-offsets"],
        ),
        ("20 epochs (twice the default's)", ["--epochs", "20"]),
    ],
}

# Why the targets are missed, and what was tried: printed after full runs.
EXPLANATIONS = [
    "**The LSTM recipe** reaches char-rnn's figure with its default since 2026-11-22: one layer "
    "of 512 LSTM units (1.2M parameters) with dropout 0.2 after it, one mask per sequence "
    "shared by every time step (Gal and Ghahramani's variational dropout; it also keeps XLA on "
    "on CPU, where per-step masks would turn it off), 20 epochs with a cosine learning-rate "
    "schedule from 2e-3 to 2e-4, and the text cut into windows at a new random offset each "
    "epoch. The table at the end takes the steps one at a time: the earlier default (256 "
    "units, 10 epochs, constant rate) 1.640; twice the epochs with the schedule and offsets "
    "1.611, where the 256-unit model's validation loss flattens while its training loss keeps "
    "falling; 512 units 1.516 (training loss 1.27, so it overfits); dropout closes the rest. "
    "Its run was stopped by the launcher's 60-minute limit during its last epoch and resumed "
    "from its BackupAndRestore checkpoint (wall time: both parts; 95-200 s per epoch, as other "
    "runs shared the 2 cores); it was exported afterwards with `kzoo export` for the sample.",
    "**The GPT misses 1.47 on 2 CPU cores by a model size and a compute budget; at nanoGPT's "
    "size on a GPU the same builder reaches it** (gpt_scale.md). The recipe trains nanoGPT's "
    "CPU-sized configuration (0.8M parameters; nanoGPT reports 1.88 for it on its CPU "
    "settings) for 10 epochs, 10M characters. Since 2026-11-22 `build_gpt` has GPT-2's GELU and "
    "embedding dropout and the recipe no dropout, as nanoGPT's CPU run: 1.692 becomes 1.614, "
    "in less than half the time, as without dropout the runner keeps XLA on on CPU. At "
    "nanoGPT's size (10.8M parameters: 6 layers, 6 heads, width 384, dropout 0.2) and with its "
    "training (5,000 steps of 64 x 256 characters, AdamW, cosine schedule), `build_gpt` reached "
    "1.461, 1.469 and 1.479 in three runs on an H100 under Keras' JAX backend (that machine's "
    "image has no TensorFlow, so kzoo's pipeline could not run there), around nanoGPT's "
    "1.4697; its best step, 2,500 (41M characters, about 3 PFLOP with attention), would take "
    "some 7 hours on these 2 cores at the 122 GFLOP/s the recipe's GPT achieves here (flops.md, "
    "idle machine). Given that same "
    "GPU budget, the recipe's 0.8M model peaks at 1.551. Tried on CPU (table at the end): the "
    "earlier default, the cosine schedule with warm-up at 10 epochs (worse than the constant "
    "rate: far from convergence, the lower average rate costs more than the schedule gives), "
    "and twice the epochs.",
    "The earlier default's run (ReLU, dropout 0.1) ran its first 3 epochs with XLA; XLA's "
    "dropout masks turned out to be about 100x slower on CPU (flops.md), so the runner turns "
    "XLA off on CPU for models with dropout over sequences, and the run resumed from its "
    "BackupAndRestore checkpoint without it (the figure is unaffected, the time is). Its time "
    "and memory (1,510 s, 1,592 MiB) were recorded before runs kept their timing, and are "
    "carried over.",
]


def add_arguments(parser):
    parser.add_argument("--models", nargs="+", default=list(TARGETS), help="recipes to run")
    parser.add_argument(
        "--extra", nargs="*", default=[], help="extra recipe arguments, e.g. --epochs 1"
    )
    parser.add_argument(
        "--runs-dir",
        default=None,
        help="keep the runs here; finished runs are reused, interrupted ones resume",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="minutes per recipe; a run stopped by it is reported at its last epoch",
    )


def _sample_length(run_dir, model, length=300):
    """300 characters, or what a GPT's context leaves after the prompt (its exported `sample`
    refuses more)."""
    if model != "gpt":
        return length
    with open(os.path.join(run_dir, "config.json"), encoding="utf-8") as f:
        context = json.load(f)["sequence_length"]
    return min(length, context - len(PROMPT))


def _sample(export_dir, recipe, length=300):
    import tensorflow as tf

    version = max(os.listdir(os.path.join(export_dir, recipe)), key=int)
    sample = tf.saved_model.load(os.path.join(export_dir, recipe, version)).signatures["sample"]
    outputs = sample(
        prompt=tf.constant([PROMPT]),
        max_new_tokens=tf.constant(length),
        sampler=tf.constant("temperature"),
        temperature=tf.constant(0.8),
        top_k=tf.constant(0),
        top_p=tf.constant(1.0),
        num_beams=tf.constant(1),
        seed=tf.constant(0, tf.int64),
    )
    return PROMPT + outputs["text"].numpy()[0].decode("utf-8")


def _last_epoch(run_dir):
    """(completed epochs, last validation loss) of a run from its history.csv."""
    with open(os.path.join(run_dir, "history.csv")) as f:
        rows = list(csv.DictReader(f))
    return len(rows), float(rows[-1]["val_loss"]) if rows else float("nan")


def _epochs(run_dir):
    with open(os.path.join(run_dir, "history.csv")) as f:
        return max(0, len(f.read().strip().splitlines()) - 1)


def _tried(base, models, data_arguments, exports, limit):
    """Runs each model's TRIED configs; returns the comparison table (empty if none ran)."""
    rows = []
    for model in models:
        for index, (label, extra) in enumerate(TRIED.get(model, [])):
            name = f"{model}-tried{index}"
            run_dir = os.path.join(base, name)
            arguments = [*data_arguments, *extra, "--output-dir", run_dir, "--no-export"]
            code, wall, peak, _ = run_or_reuse(
                f"recipes/{model}.py",
                arguments,
                os.path.join(base, f"{name}.log"),
                run_dir,
                timeout=limit and limit * 60,
            )
            if code not in (0, "timeout"):
                rows.append([model, label, "failed", "", recorded(wall)])
                continue
            epochs, loss = _last_epoch(run_dir)
            if code == 0:
                with open(os.path.join(run_dir, "metrics.json")) as f:
                    loss = json.load(f)["valid"]["loss"]
            else:
                label += f" (stopped by the time limit after {epochs} epochs)"
            rows.append([model, label, round(loss, 4), epochs, recorded(wall)])
    if not rows:
        return ""
    return table(["recipe", "training", "valid loss (nats/char)", "epochs", "wall s"], rows)


def run(args):
    models = [m for m in getattr(args, "models", list(TARGETS)) if not args.only or m in args.only]
    if args.quick:
        data_arguments = ["--epochs", "1", "--steps-per-epoch", "100"]
        data = "embedded prose, 1 epoch of 100 steps (--quick)"
    else:
        path = os.path.join(args.data_dir, "text", "tinyshakespeare.txt")
        data_arguments = ["--train-file", path]
        data = f"{path}: first 90 % train, last 10 % validation, characters"
    data_arguments += getattr(args, "extra", [])
    base = getattr(args, "runs_dir", None) or tempfile.mkdtemp(prefix="kzoo-bench-lm-")
    limit = getattr(args, "time_limit", None)
    exports = os.path.join(base, "exports")
    rows, notes = [], []
    for model in models:
        run_dir = os.path.join(base, model)
        log = os.path.join(base, f"{model}.log")
        arguments = [*data_arguments, "--output-dir", run_dir, "--export-dir", exports]
        code, wall, peak, reused = run_or_reuse(
            f"recipes/{model}.py", arguments, log, run_dir, timeout=limit and limit * 60
        )
        if reused:
            notes.append(f"`{model}`: the finished run in {run_dir} was reused.")
        if code == "timeout":
            epochs, loss = _last_epoch(run_dir)
            rows.append([model, round(loss, 4), TARGETS[model], epochs, round(wall), round(peak)])
            notes.append(
                f"`{model}` was stopped by the {limit:.0f}-minute limit after {epochs} of its "
                f"epochs; its figure is the validation loss of its last completed epoch. "
                f"Rerunning with the same --runs-dir resumes it."
            )
            continue
        if code != 0:
            rows.append([model, "failed", "", "", round(wall), round(peak)])
            with open(log, encoding="utf-8") as f:
                notes.append(f"`{model}` failed:\n\n```\n{f.read()[-3000:]}\n```")
            continue
        with open(os.path.join(run_dir, "metrics.json")) as f:
            loss = json.load(f)["valid"]["loss"]
        target = TARGETS[model]
        rows.append(
            [model, round(loss, 4), target, _epochs(run_dir), recorded(wall), recorded(peak)]
        )
        print(" | ".join(str(cell) for cell in rows[-1]), flush=True)
        if not args.quick:
            verdict = "meets" if loss <= target else f"misses by {loss - target:.3f} nats/char"
            notes.append(f"`{model}`: {loss:.3f} vs target {target} ({verdict}).")
        notes.append(
            f"Sample from `{model}` (exported `sample` signature, temperature 0.8, seed 0):\n\n"
            f"```\n{_sample(exports, model, _sample_length(run_dir, model))}\n```"
        )
    if not args.quick:
        notes += EXPLANATIONS
        tried = _tried(base, models, data_arguments, exports, limit)
        if tried:
            notes.append("**Tried beside the defaults** (same data, seed and split):\n\n" + tried)
    return Report(
        columns=["recipe", "valid loss (nats/char)", "target", "epochs", "wall s", "peak RSS MiB"],
        rows=rows,
        notes=notes,
        settings={"data": data, "training": "each recipe's defaults", "seed": 0},
    )
