"""Every recipe on its embedded default: does the model visibly learn, how long, how much memory.

Runs `python recipes/<name>.py` with the recipe's own defaults (or, with `--quick`, a short
version of each) in a fresh process, and reads the run's `metrics.json`. The figure of merit is
compared with what a model that learned nothing would score on the same data. Each run is then
saved as a preset and the preset exported (`kzoo preset save`, `kzoo export`).

It runs every recipe whose default needs no download. CI trains only one recipe of each task kind
end to end (tests/training/test_recipes.py), so this is where the others are checked.
"""

import json
import math
import os
import tempfile

from benchmarks.harness import Report, run_script

NAME = "recipes"
TITLE = "Recipes on their embedded defaults: learning, time and peak memory (2 CPU cores)"

# Short versions for --quick: same data, fewer steps.
QUICK = {
    "lstm_classifier": ["--epochs", "3"],
    "cnn_sentiment": ["--epochs", "2"],
    "kim_cnn": ["--epochs", "2"],
    "mha_classifier": ["--epochs", "2"],
    "encoder_decoder_classifier": ["--epochs", "2"],
    "word2vec_classifier": ["--epochs", "2", "--word2vec-epochs", "1"],
    "word2vec": ["--epochs", "1", "--steps-per-epoch", "200"],
    "rnn_generator": ["--epochs", "1", "--steps-per-epoch", "150"],
    "gpt": ["--epochs", "1", "--steps-per-epoch", "150"],
    "seq2seq": ["--epochs", "2", "--num-examples", "6000"],
    "attention_seq2seq": ["--epochs", "2", "--num-examples", "6000"],
    "transformer_seq2seq": ["--epochs", "3", "--num-examples", "6000", "--warmup-steps", "100"],
    "summarisation": ["--epochs", "3"],
    "gan": ["--epochs", "10"],
    "bilstm_tagger": ["--epochs", "2"],
}


def _figure(name, metrics, config):
    """(what, value, what a model that learned nothing scores) for one run."""
    if name in ("rnn_generator", "gpt"):
        tokens = config["vocabulary_size"]
        return "valid loss, nats/char", metrics["valid"]["loss"], math.log(tokens)
    if name in ("seq2seq", "attention_seq2seq", "transformer_seq2seq"):
        return "test exact match", metrics["test"]["exact_match"], 0.0
    if name == "summarisation":  # against the article's first words as its summary
        (baseline,) = [value for key, value in metrics.items() if key.startswith("lead_")]
        return "test ROUGE-L", metrics["test"]["rougeL"], baseline["rougeL"]
    if name == "word2vec":
        # Scoring every pair 1/(1 + negatives), the base rate, gives this cross-entropy.
        p = 1 / (1 + config["num_negatives"])
        base_rate_loss = -(p * math.log(p) + (1 - p) * math.log(1 - p))
        return "valid skip-gram loss", metrics["valid"]["loss"], base_rate_loss
    if name == "bilstm_tagger":  # a model that learned nothing tags every word O
        return "test entity F1", metrics["test"]["f1"], 0.0
    if name == "gan":
        value = metrics["generated"]["mean_top_probability"]
        return "generated digits: mean top-class probability", value, 0.1
    return "test accuracy", metrics["test"]["accuracy"], 1 / config["num_classes"]


def run(args):
    names = args.only or list(QUICK)
    rows, notes = [], []
    base = tempfile.mkdtemp(prefix="kzoo-bench-recipes-")
    for name in names:
        run_dir = os.path.join(base, name)
        arguments = ["--output-dir", run_dir, "--export-dir", os.path.join(base, "exports")]
        arguments += QUICK[name] if args.quick else []
        log = os.path.join(base, f"{name}.log")
        code, wall, peak = run_script(f"recipes/{name}.py", arguments, log)
        if code != 0:
            rows.append([name, "failed", "", "", "", f"{wall:.0f}", f"{peak:.0f}", ""])
            with open(log, encoding="utf-8") as f:
                notes.append(f"`{name}` failed:\n\n```\n{f.read()[-3000:]}\n```")
            continue
        with open(os.path.join(run_dir, "metrics.json")) as f:
            metrics = json.load(f)
        with open(os.path.join(run_dir, "config.json")) as f:
            config = json.load(f)
        config.update(_model_facts(run_dir))
        what, value, baseline = _figure(name, metrics, config)
        epochs = _epochs(run_dir)
        preset_log = _preset_exports(run_dir, base, name)
        if preset_log:
            with open(preset_log, encoding="utf-8") as f:
                notes.append(f"`{name}`'s preset failed:\n\n```\n{f.read()[-3000:]}\n```")
        rows.append(
            [
                name,
                what,
                round(value, 4),
                round(baseline, 4),
                epochs,
                round(wall),
                round(peak),
                "failed" if preset_log else "yes",
            ]
        )
        samples = [
            f"  {line}"
            for split in metrics.values()
            if isinstance(split, dict)
            for key in ("examples", "neighbours")
            for line in split.get(key, [])
        ]
        if samples:
            notes.append(f"`{name}` samples:\n\n```\n" + "\n".join(samples) + "\n```")
    return Report(
        columns=[
            "recipe",
            "figure",
            "value",
            "no-learning baseline",
            "epochs",
            "wall s",
            "peak RSS MiB",
            "preset exports",
        ],
        rows=rows,
        notes=notes,
        settings={
            "mode": "quick (short runs)" if args.quick else "full (each recipe's defaults)",
            "data": "each recipe's embedded default (no network); splits as the recipes make them",
            "seed": "0 (recipe default)",
        },
    )


def _preset_exports(run_dir, base, name):
    """Saves the run as a preset and exports the preset, as a user would (`kzoo preset save`,
    then `kzoo export`): None, or the log of the step that failed."""
    preset, log = os.path.join(base, f"{name}.preset"), os.path.join(base, f"{name}.preset.log")
    exports = os.path.join(base, "preset_exports")
    for arguments in (
        ["preset", "save", run_dir, preset],
        ["export", preset, "--export-dir", exports],
    ):
        code, _, _ = run_script("kzoo_cli.py", arguments, log)
        if code != 0:
            return log
    return None


def _epochs(run_dir):
    with open(os.path.join(run_dir, "history.csv")) as f:
        return max(0, sum(1 for _ in f) - 1)


def _model_facts(run_dir):
    """Vocabulary size and classes of the run, from the files it saved."""
    facts = {}
    vocabulary = os.path.join(run_dir, "vocabulary.txt")
    if os.path.exists(vocabulary):
        with open(vocabulary, encoding="utf-8") as f:
            facts["vocabulary_size"] = sum(1 for _ in f)
    classes = os.path.join(run_dir, "class_names.txt")
    if os.path.exists(classes):
        with open(classes, encoding="utf-8") as f:
            facts["num_classes"] = sum(1 for _ in f)
    return facts
