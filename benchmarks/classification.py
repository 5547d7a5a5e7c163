"""Sentence classification on Kim's (2014) datasets: MR, SST-2 and TREC, every kzoo classifier.

Each classifier recipe runs with its own defaults (the figures are the recipes', not a tuned
config) on the real files, in a fresh process: `python recipes/<name>.py --train-file ...`.
Targets are Kim's CNN-rand figures for the Kim CNN; the other classifiers are reported beside it
and should land within 3 points of it.

Protocol: MR has no test split, so every classifier trains on a seeded 90/10 train/test split
(`--test-fraction 0.1`, seed 0), and the Kim CNN is also cross-validated over all ten folds of
that shuffle (`--test-fold 0..9`, Kim's protocol; `--mr-folds 0` skips it); SST-2 uses its
train/dev/test files (sentences only, no phrases); TREC its train/test files with 10 % of train
held out for validation. The epoch that early stopping picks on the validation split (by each
recipe's `monitor`) is the one tested.

Pre-trained word vectors (Kim's CNN-static and CNN-non-static, `--word-vectors`): kzoo's own
word2vec trains 300-wide vectors on the text at hand, MR's training sentences of fold 0 without
their labels (the test fold's sentences left out), and the Kim CNN starts from them on fold 0,
frozen and fine-tuned, beside CNN-rand (`--word-vectors-epochs 0` skips it).
"""

import json
import os
import tempfile

import numpy as np

from benchmarks.harness import Report, recorded, reused_note, run_or_reuse, table
from kzoo.data.classification_files import load_classification_files
from kzoo.tasks.base import hold_out

NAME = "classification"
TITLE = "Sentence classification on MR, SST-2 and TREC (Kim 2014's datasets), every classifier"

MODELS = [
    "kim_cnn",
    "lstm_classifier",
    "mha_classifier",
    "encoder_decoder_classifier",
    "word2vec_classifier",
]
# Kim (2014), CNN-rand.
TARGETS = {"MR": 0.761, "SST-2": 0.827, "TREC": 0.912}


def datasets(data_dir):
    """The recipe arguments that point a classifier recipe at each dataset."""
    sentence = os.path.join(data_dir, "sentence")

    def path(name):
        return os.path.join(sentence, name)

    return {
        "MR": [
            "--encoding",
            "latin-1",
            "--train-file",
            path("rt-polarity.neg"),
            path("rt-polarity.pos"),
            "--test-fraction",
            "0.1",
        ],
        "SST-2": [
            "--train-file",
            path("stsa.binary.train"),
            "--valid-file",
            path("stsa.binary.dev"),
            "--test-file",
            path("stsa.binary.test"),
        ],
        "TREC": [
            "--encoding",
            "latin-1",
            "--train-file",
            path("TREC.train.all"),
            "--test-file",
            path("TREC.test.all"),
        ],
    }


# Other training configs of the Kim CNN, run beside the recipe's default in full mode: (label,
# recipe arguments).
TRIED = [
    (
        "Adam 1e-3, 10 epochs, early stopping on validation loss (patience 3), no max-norm: "
        "the recipe's default until 2026-11-22",
        [
            *("--optimizer", "adam", "--learning-rate", "1e-3", "--epochs", "10"),
            *("--monitor", "val_loss", "--early-stopping-patience", "3"),
            *("--set", "model_args.max_norm=null"),
        ],
    ),
]

# Why the gaps are what they are, and what was (not yet) tried: printed after full runs.
EXPLANATIONS = [
    "**Reading the gaps.** The test sets are small: 1,066 (one MR fold), 1,821 (SST-2) and 500 "
    "(TREC) sentences, so one standard error of an accuracy near these values is about 1.3, 0.9 "
    "and 1.3 points; the mean over MR's ten folds tests all 10,662 sentences (about 0.4). SST-2 "
    "here trains on the 6,920 sentences only, while Kim's 82.7 also trained on the treebank's "
    "labelled phrases, which ../shared/data does not have.",
    "**What was tried.** The recipe's default is now Kim's own training: Adadelta (rho 0.95, "
    "learning rate 1.0; `--optimizer adadelta`: every embedding row's accumulators decay "
    "every step, as in a dense update, computed on the rows a batch looks up), a "
    "max-norm of 3 on the output weights (`build_kim_cnn(max_norm=3)`), batch 50, up to 25 "
    "epochs, testing the epoch of best validation accuracy (`--monitor val_accuracy`). The "
    "table at the end runs the recipe's earlier default (Adam) on the same splits. By hand, on "
    "MR's fold 0: Adam with the max-norm and validation-accuracy selection, 75.7 (its best "
    "epoch is still the second).",
    "**The other classifiers** (their runs, and the gaps in the notes above). The LSTM and "
    "encoder-decoder classifiers stay within 3 points of the CNN on MR and SST-2, the MHA "
    "classifier on SST-2. On TREC the LSTM, the one-layer MHA classifier and (just) the "
    "encoder-decoder fall further behind: question type hinges on the first words (what/who/how "
    "many), which a CNN's n-gram filters catch directly, and 5,452 training questions are few "
    "for recurrence or attention trained from scratch (the MHA classifier is also behind on "
    "MR). The word2vec classifier averages skip-gram vectors learnt on the same few thousand "
    "sentences: a bag of words that cannot see order or negation, whose vectors place antonyms "
    "close together; 13-25 points behind is the expected cost of that architecture, which the "
    "documents teach as a baseline. Closing that gap needs vectors pre-trained on a large "
    "corpus (Kim's CNN-static) or an order-aware encoder over them, not tuning.",
]

# Kim (2014) with Google's News vectors (100 billion words) on MR.
KIM_PRETRAINED = {"static": 0.810, "non-static": 0.815}
# kzoo's word2vec on MR's training text: Kim's width, word2vec's usual window, every word kept.
WORD2VEC_ARGUMENTS = [
    *("--standardize", "lower", "--max-tokens", "100000", "--window-size", "5"),
    *("--set", "model_args.embedding_dim=300", "--valid-fraction", "0.05"),
]
GOOGLE_NEWS_COMMAND = (
    "kzoo train kim_cnn --encoding latin-1 --test-fraction 0.1 --train-file "
    "../shared/data/sentence/rt-polarity.neg ../shared/data/sentence/rt-polarity.pos "
    "--word-vectors GoogleNews-vectors-negative300.bin.gz"
)

QUICK_DATASETS = {
    "embedded sentiment": ["--dataset", "embedded:sentiment", "--num-examples", "2000"],
    "embedded questions": ["--dataset", "embedded:questions", "--num-examples", "2000"],
}


def add_arguments(parser):
    parser.add_argument(
        "--models", nargs="+", default=MODELS, help="classifier recipes to run (default: all)"
    )
    parser.add_argument("--datasets", nargs="+", default=None, help="subset of MR SST-2 TREC")
    parser.add_argument(
        "--mr-folds",
        type=int,
        default=10,
        help="also cross-validate the Kim CNN on MR over this many folds (0: only the seeded "
        "90/10 split)",
    )
    parser.add_argument(
        "--word-vectors-epochs",
        type=int,
        default=10,
        help="epochs of the word2vec that trains the Kim CNN's pre-trained vectors on MR's "
        "training text (0: no pre-trained vector rows)",
    )
    parser.add_argument(
        "--runs-dir",
        default=None,
        help="keep the runs here; runs that finished in an earlier call are reused with their "
        "recorded time and memory",
    )


def _epochs_trained(run_dir):
    log = os.path.join(run_dir, "history.csv")
    if not os.path.exists(log):
        return ""
    with open(log) as f:
        return max(0, len(f.read().strip().splitlines()) - 1)


def _verdict(accuracy, target):
    return "meets" if accuracy >= target else f"misses by {100 * (target - accuracy):.1f} points"


def _train(base, dataset, model, arguments, notes, reused_runs):
    """Runs (or reuses) one recipe on one dataset; returns (test accuracy or None, its row)."""
    run_dir = os.path.join(base, dataset, model)
    arguments = [*arguments, "--output-dir", run_dir, "--no-export"]
    log = os.path.join(base, f"{dataset}-{model}.log".replace(" ", "_"))
    os.makedirs(base, exist_ok=True)
    code, wall, peak, reused = run_or_reuse(f"recipes/{model}.py", arguments, log, run_dir)
    if reused:
        reused_runs.append(f"{dataset} {model}")
    if code != 0:
        with open(log, encoding="utf-8") as f:
            notes.append(f"`{model}` on {dataset} failed:\n\n```\n{f.read()[-3000:]}\n```")
        return None, [dataset, model, "failed", "", "", f"{wall:.0f}", f"{peak:.0f}"]
    with open(os.path.join(run_dir, "metrics.json")) as f:
        accuracy = json.load(f)["test"]["accuracy"]
    target = TARGETS.get(dataset.split()[0])
    row = [
        dataset,
        model,
        round(accuracy, 4),
        target if target else "",
        _epochs_trained(run_dir),
        recorded(wall),
        recorded(peak),
    ]
    print(" | ".join(str(cell) for cell in row), flush=True)
    return accuracy, row


def _cross_validate(base, mr_arguments, folds, rows, notes, reused_runs):
    """Kim's protocol for MR: the Kim CNN on every fold of the seeded shuffle (fold 0, the
    split of the main table, has run already). Returns the table row of the mean."""
    fold_rows = [next(row for row in rows if row[:2] == ["MR", "kim_cnn"])]
    for fold in range(1, folds):
        arguments = [*mr_arguments, "--test-fold", str(fold)]
        fold_rows.append(
            _train(base, f"MR fold {fold}", "kim_cnn", arguments, notes, reused_runs)[1]
        )
    completed = [row for row in fold_rows if row[2] != "failed"]
    accuracies = [row[2] for row in completed]
    mean = float(np.mean(accuracies))
    spread = float(np.std(accuracies, ddof=1)) if len(accuracies) > 1 else float("nan")
    target = TARGETS["MR"]
    verdict = _verdict(mean, target)
    notes.append(
        f"MR, {folds}-fold cross-validation (Kim's protocol; folds of the seeded shuffle, "
        f"`--test-fold 0..{folds - 1}`): Kim CNN mean {100 * mean:.1f} % over "
        f"{len(accuracies)} folds, standard deviation {100 * spread:.1f} points (folds: "
        + ", ".join(f"{100 * a:.1f}" for a in accuracies)
        + f"), vs CNN-rand {100 * target:.1f} % ({verdict})."
    )
    walls = [row[5] for row in completed if row[5] != ""]
    peaks = [row[6] for row in completed if row[6] != ""]
    epochs = [row[4] for row in completed if row[4] != ""]
    return [
        f"MR {folds}-fold CV",
        "kim_cnn",
        round(mean, 4),
        target,
        f"{np.mean(epochs):.1f} mean" if epochs else "",
        f"{sum(walls)} total" if walls else "",
        max(peaks) if peaks else "",
    ]


def _mr_training_text(mr_arguments, path):
    """Writes MR's training sentences of fold 0 (validation included, the test fold left out,
    as the recipe splits them), one a line, without labels: word2vec's text."""
    files = mr_arguments[mr_arguments.index("--train-file") + 1 :][:2]
    texts, labels = load_classification_files(files, encoding="latin-1")
    (kept_texts, _), _ = hold_out([list(texts), list(labels)], 0.1, seed=0, block=0)
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(text + "\n" for text in kept_texts))
    return len(kept_texts)


def _word_vector_rows(base, mr_arguments, epochs, cnn_rand, notes, reused_runs):
    """The Kim CNN on MR fold 0 from vectors kzoo's word2vec trains on the training text,
    frozen (CNN-static) and fine-tuned (CNN-non-static)."""
    os.makedirs(base, exist_ok=True)
    text = os.path.join(base, "mr_training_text.txt")
    sentences = _mr_training_text(mr_arguments, text)
    vectors = os.path.join(base, "MR-word2vec")
    arguments = [*WORD2VEC_ARGUMENTS, "--train-file", text, "--epochs", str(epochs)]
    arguments += ["--output-dir", vectors, "--no-export"]
    log = os.path.join(base, "MR-word2vec.log")
    code, wall, _, reused = run_or_reuse("recipes/word2vec.py", arguments, log, vectors)
    if reused:
        reused_runs.append("MR word2vec")
    if code != 0:
        with open(log, encoding="utf-8") as f:
            notes.append(f"word2vec on MR's training text failed:\n\n```\n{f.read()[-3000:]}\n```")
        return []
    rows, accuracies = [], {}
    for name, trainable in (("static", "false"), ("non-static", "true")):
        options = [
            "--word-vectors",
            vectors,
            "--set",
            f"model_args.trainable_embeddings={trainable}",
        ]
        accuracy, row = _train(
            base, f"MR {name}", "kim_cnn", [*mr_arguments, *options], notes, reused_runs
        )
        row[0], row[1] = "MR", f"kim_cnn, {name}, word2vec on MR"
        row[3] = ""  # Kim's figures used 100 billion words of news: see the note
        rows.append(row)
        accuracies[name] = accuracy
    with open(os.path.join(base, "MR_static-kim_cnn.log"), encoding="utf-8") as f:
        found = next((line.split("data: ")[1] for line in f if "word vectors:" in line), "")
    figures = ", ".join(
        f"{name} {100 * a:.1f} % ({100 * (a - cnn_rand):+.1f} points)"
        for name, a in accuracies.items()
        if a is not None
    )
    notes.append(
        f"**Pre-trained word vectors** (MR fold 0). kzoo's word2vec (skip-gram, 300 wide, "
        f"window 5, {epochs} epochs, {recorded(wall)} s) trained on the {sentences:,} training "
        f"sentences of fold 0 without their labels ({found.strip()}); the Kim CNN started from "
        f"them: {figures}, against CNN-rand's {100 * cnn_rand:.1f} % on the same split. "
        f"Kim's CNN-static and CNN-non-static reach {100 * KIM_PRETRAINED['static']:.1f} and "
        f"{100 * KIM_PRETRAINED['non-static']:.1f} with Google's News vectors, trained on 100 "
        "billion words. With those vectors (not in ../shared/data: a 1.6 GB download), the "
        "same comparison is `"
        + GOOGLE_NEWS_COMMAND
        + "` (CNN-non-static; add `--set model_args.trainable_embeddings=false` for "
        "CNN-static); the file is read as it streams and only the vocabulary's rows are kept."
    )
    return rows


def _tried(base, cases, results, reused_runs):
    """Runs the Kim CNN with each TRIED config on every dataset; returns the comparison table."""

    def cell(accuracy):
        return "failed" if accuracy is None else round(accuracy, 4)

    rows = [["the recipe's default (Kim's)", *(cell(results.get((d, "kim_cnn"))) for d in cases)]]
    for index, (label, arguments) in enumerate(TRIED):
        row = [label]
        for dataset, data_arguments in cases.items():
            name, arguments_here = f"{dataset} tried {index}", [*data_arguments, *arguments]
            row.append(cell(_train(base, name, "kim_cnn", arguments_here, [], reused_runs)[0]))
        rows.append(row)
    return table(["Kim CNN training", *cases], rows)


def run(args):
    models = getattr(args, "models", MODELS)
    if args.only:
        models = [m for m in models if m in args.only]
    if args.quick:
        cases = QUICK_DATASETS
    else:
        cases = datasets(args.data_dir)
        wanted = getattr(args, "datasets", None)
        if wanted:
            cases = {name: cases[name] for name in wanted}
    base = getattr(args, "runs_dir", None) or tempfile.mkdtemp(prefix="kzoo-bench-classification-")
    results = {}  # (dataset, model) -> accuracy
    rows, notes, reused_runs = [], [], []
    for dataset, data_arguments in cases.items():
        for model in models:
            arguments = list(data_arguments)
            if args.quick:
                arguments += ["--epochs", "2"]
                if model == "word2vec_classifier":
                    arguments += ["--word2vec-epochs", "1"]
            accuracy, row = _train(base, dataset, model, arguments, notes, reused_runs)
            rows.append(row)
            if accuracy is not None:
                results[dataset, model] = accuracy
    folds = getattr(args, "mr_folds", 0)
    cross_validated = folds > 1 and ("MR", "kim_cnn") in results
    if cross_validated:
        rows.append(_cross_validate(base, cases["MR"], folds, rows, notes, reused_runs))
    vector_epochs = getattr(args, "word_vectors_epochs", 0)
    if not args.quick and vector_epochs and ("MR", "kim_cnn") in results:
        rows += _word_vector_rows(
            base, cases["MR"], vector_epochs, results["MR", "kim_cnn"], notes, reused_runs
        )
    for dataset in cases:
        cnn = results.get((dataset, "kim_cnn"))
        if cnn is None:
            continue
        target = TARGETS.get(dataset)
        if target:
            verdict = _verdict(cnn, target)
            split = (
                f" (fold 0, the seeded split; the {folds}-fold mean is above)"
                if dataset == "MR" and cross_validated
                else ""
            )
            notes.append(
                f"{dataset}{split}: Kim CNN {100 * cnn:.1f} % vs CNN-rand {100 * target:.1f} % "
                f"({verdict})."
            )
        for model in models:
            if model != "kim_cnn" and (dataset, model) in results:
                gap = 100 * (cnn - results[dataset, model])
                if gap > 3:
                    notes.append(f"{dataset}: {model} is {gap:.1f} points below the Kim CNN.")
    tried = (
        _tried(base, cases, results, reused_runs)
        if not args.quick and "kim_cnn" in models
        else None
    )
    if reused_runs:
        notes.append(reused_note(base, reused_runs))
    if not args.quick:
        notes += EXPLANATIONS
    if tried:
        notes.append(tried)
    return Report(
        columns=[
            "dataset",
            "recipe",
            "test accuracy",
            "target",
            "epochs",
            "wall s",
            "peak RSS MiB",
        ],
        rows=rows,
        notes=notes,
        settings={
            "data": "embedded corpora, 2,000 examples (--quick)"
            if args.quick
            else f"{args.data_dir}/sentence (MR: seeded 90/10 split, seed 0, and for the Kim "
            f"CNN all {folds} folds of that shuffle; SST-2 and TREC: their test files)",
            "training": "each recipe's defaults (optimizer, epochs, early stopping)"
            + (", 2 epochs (--quick)" if args.quick else ""),
        },
    )
