"""The small-data question, measured: does a pre-trained kzoo GPT, fine-tuned, beat training
from scratch on a small slice of a new text?

1. Pretrain kzoo's GPT (`recipes/gpt.py`, its defaults) on the embedded prose (the English
   documentation CPython ships) and save it as a preset (`kzoo preset save`).
2. Cut tiny Shakespeare as the recipes do (first 90 % trains, last 10 % validates) and keep the
   first 5 % and 20 % of its training split.
3. On each slice, train with the same budget of training characters: the preset fine-tuned
   (`--fine-tune`, read with the preset's vocabulary, characters it lacks becoming `[UNK]`), the
   same GPT from scratch, and the RNN generator from scratch (`recipes/rnn_generator.py`).
   Each is scored by its best validation loss, in nats per character, on the whole
   validation split.
"""

import csv
import os
import re
import tempfile

from benchmarks.harness import Report, recorded, reused_note, run_or_reuse, run_script

NAME = "transfer"
TITLE = (
    "Transfer on small data: a GPT pre-trained on the embedded prose, fine-tuned on 5 % and 20 % "
    "of tiny Shakespeare (validation nats/char)"
)

FRACTIONS = (0.05, 0.20)
# Characters of training text every run on a slice reads (about 1,000 steps of the GPT's
# 32 windows of 128 characters): epochs = budget / slice length.
BUDGET_CHARACTERS = 4_000_000
VALID_FRACTION = 0.1  # the recipes' own split
# The runs on each slice: (name, recipe, start).
RUNS = (
    ("gpt fine-tuned", "gpt", "preset"),
    ("gpt from scratch", "gpt", "scratch"),
    ("rnn_generator from scratch", "rnn_generator", "scratch"),
)


def add_arguments(parser):
    parser.add_argument(
        "--runs-dir",
        default=None,
        help="keep the runs here; finished runs are reused, interrupted ones resume",
    )
    parser.add_argument(
        "--budget-characters",
        type=int,
        default=BUDGET_CHARACTERS,
        help="training characters each run on a slice reads (default: %(default)s)",
    )
    parser.add_argument(
        "--extra", nargs="*", default=[], help="extra arguments of every run on a slice"
    )
    parser.add_argument(
        "--pretrain-extra",
        nargs="*",
        default=[],
        help="extra arguments of the pretraining run, e.g. --epochs 20",
    )


def slices(text, fractions=FRACTIONS, valid_fraction=VALID_FRACTION):
    """Cuts `text` as the language model recipes do and keeps the start of its training split.

    Returns:
        `({fraction: the first fraction of the training split}, the validation split)`.

    Example:

    >>> kept, valid = slices("abcdefghij" * 2, fractions=(0.5,))
    >>> kept[0.5], valid
    ('abcdefghi', 'ij')
    """
    cut = int(len(text) * (1 - valid_fraction))
    train, valid = text[:cut], text[cut:]
    return {fraction: train[: int(len(train) * fraction)] for fraction in fractions}, valid


def epochs_for(characters, budget=BUDGET_CHARACTERS):
    """Epochs over a slice of `characters` that read about `budget` characters (at least 1)."""
    return max(1, round(budget / characters))


def best_valid_loss(run_dir):
    """`(lowest validation loss, epochs)` of a run, from its history.csv."""
    with open(os.path.join(run_dir, "history.csv"), encoding="utf-8") as f:
        losses = [float(row["val_loss"]) for row in csv.DictReader(f)]
    return min(losses), len(losses)


def unknown_counts(run_dir):
    """`{split: [UNK] tokens}` that the run's log reports for its data."""
    with open(os.path.join(run_dir, "run.log"), encoding="utf-8") as f:
        found = re.findall(r"data: (\w+): .*, (\d+) \[UNK\]", f.read())
    return {split: int(count) for split, count in found}


def run(args):
    base = args.runs_dir or tempfile.mkdtemp(prefix="kzoo-bench-transfer-")
    os.makedirs(base, exist_ok=True)
    path = os.path.join(args.data_dir, "text", "tinyshakespeare.txt")
    with open(path, encoding="utf-8") as f:
        kept, valid = slices(f.read())
    budget = args.budget_characters
    pretrain = ["--no-export"]
    if args.quick:
        pretrain += ["--epochs", "1", "--steps-per-epoch", "50"]
        budget = min(budget, 200_000)
    pretrain += args.pretrain_extra
    # 1. The preset: the GPT recipe on the embedded prose.
    pretrained, preset = os.path.join(base, "prose_gpt"), os.path.join(base, "prose_gpt_preset")
    code, pretrain_wall, _, pretrain_reused = run_or_reuse(
        "recipes/gpt.py",
        [*pretrain, "--output-dir", pretrained],
        os.path.join(base, "prose_gpt.log"),
        pretrained,
    )
    if code != 0:
        raise RuntimeError(f"Pretraining failed: see {os.path.join(base, 'prose_gpt.log')}")
    if not os.path.exists(preset):
        code, _, _ = run_script(
            "kzoo_cli.py",
            ["preset", "save", pretrained, preset],
            os.path.join(base, "preset_save.log"),
        )
        if code != 0:
            raise RuntimeError(f"Saving the preset failed: see {base}/preset_save.log")
    prose_loss, prose_epochs = best_valid_loss(pretrained)
    valid_file = os.path.join(base, "valid.txt")
    with open(valid_file, "w", encoding="utf-8") as f:
        f.write(valid)
    # 2-3. Each slice, each start.
    rows, results = [], {}
    reused = ["prose_gpt"] if pretrain_reused else []
    for fraction, text in kept.items():
        train_file = os.path.join(base, f"train_{fraction:.2f}.txt")
        with open(train_file, "w", encoding="utf-8") as f:
            f.write(text)
        epochs = epochs_for(len(text), budget)
        for name, recipe, start in RUNS:
            if args.only and name not in args.only:
                continue
            run_dir = os.path.join(base, f"{name.replace(' ', '_')}_{fraction:.2f}")
            arguments = ["--train-file", train_file, "--valid-file", valid_file]
            arguments += ["--epochs", str(epochs), "--early-stopping-patience", "0"]
            arguments += ["--no-export", "--output-dir", run_dir, *args.extra]
            if start == "preset":
                arguments += ["--fine-tune", preset]
            log = f"{run_dir}.log"
            code, wall, peak, was_reused = run_or_reuse(
                f"recipes/{recipe}.py", arguments, log, run_dir
            )
            if was_reused:
                reused.append(os.path.basename(run_dir))
            label = f"{fraction:.0%} ({len(text):,} chars)"
            if code != 0:
                rows.append([label, name, "failed", "", "", recorded(wall), recorded(peak)])
                continue
            loss, ran = best_valid_loss(run_dir)
            unknown = unknown_counts(run_dir)
            results[fraction, name] = loss
            rows.append(
                [
                    label,
                    name,
                    round(loss, 4),
                    ran,
                    f"{unknown.get('train', 0):,} / {unknown.get('valid', 0):,}",
                    recorded(wall),
                    recorded(peak),
                ]
            )
            print(" | ".join(str(cell) for cell in rows[-1]), flush=True)
    notes = [
        f"The preset: `recipes/gpt.py` on the embedded prose, best validation loss "
        f"{prose_loss:.3f} nats/char after {prose_epochs} epochs ({recorded(pretrain_wall)} s), "
        f"saved with `kzoo preset save` to {preset}.",
        "Each run on a slice reads the same number of training characters (epochs = budget / "
        "slice length; the GPT sees 32 windows of 128 characters per step, the RNN generator "
        "its recipe's batches), with its recipe's optimizer and schedule and no early stopping; "
        "its figure is its best epoch's loss on the whole validation split. The fine-tuned "
        "GPT reads both splits with the preset's vocabulary (the [UNK] column counts the "
        "characters it lacks, each predicted as one [UNK]); the runs from scratch read them "
        "with the vocabulary of their slice.",
    ]
    for fraction in FRACTIONS:
        tuned, scratch = results.get((fraction, RUNS[0][0])), results.get((fraction, RUNS[1][0]))
        if tuned is not None and scratch is not None:
            notes.append(
                f"On {fraction:.0%}: fine-tuning {tuned:.3f} vs the GPT from scratch "
                f"{scratch:.3f} nats/char: {scratch - tuned:+.3f} "
                f"({(scratch - tuned) / scratch:+.1%}) for the preset."
            )
        others = {name: results.get((fraction, name)) for name, _, _ in RUNS[1:]}
        others = {name: loss for name, loss in others.items() if loss is not None}
        if tuned is not None and others:
            best = min(others, key=others.get)
            verdict = "beats" if tuned < others[best] else "does not beat"
            notes.append(
                f"On {fraction:.0%}, the fine-tuned GPT {verdict} the best run from scratch "
                f"({best}, {others[best]:.3f} nats/char): {others[best] - tuned:+.3f}."
            )
    if reused:
        notes.append(reused_note(base, reused))
    return Report(
        columns=[
            "training slice",
            "model",
            "valid loss (nats/char)",
            "epochs",
            "[UNK] train / valid",
            "wall s",
            "peak RSS MiB",
        ],
        rows=rows,
        notes=notes,
        settings={
            "data": f"{path}: first 90 % train (5 % and 20 % of it kept), last 10 % validation",
            "pretraining": "recipes/gpt.py on the embedded prose, "
            + (" ".join(pretrain[1:]) or "its defaults"),
            "budget": f"{budget:,} training characters per run on a slice",
            "seed": 0,
        },
    )
