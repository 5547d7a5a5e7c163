"""A run killed with SIGKILL resumes with the same command, for every recipe, and loses
nothing: the planned number of epochs, each exactly once in history.csv, the best checkpoint
of a committed epoch. A rerun with other settings over an interrupted run refuses."""

import csv
import importlib
import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
from recipe_kinds import one_of_each_task_kind_in_ci  # tests/

from kzoo.testing import write_tiny_bert_preset, write_tiny_gpt2_preset
from kzoo_cli import main as kzoo_main
from kzoo_cli import recipe_names

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAULT_AT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fault_at.py")
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _options(name, tmp_path, epochs=2):
    options = list(importlib.import_module(f"kzoo.recipes.{name}").TINY)
    if name == "pretrained_classifier":
        options += ["--preset", write_tiny_bert_preset(str(tmp_path / "tiny_bert"))]
    if name == "pretrained_generator":
        options += ["--preset", write_tiny_gpt2_preset(str(tmp_path / "tiny_gpt2"))]
    # Early stopping off: the run must train exactly the planned epochs.
    options += ["--epochs", str(epochs), "--early-stopping-patience", "0", "--no-xla"]
    return options + ["--no-export", "--output-dir", str(tmp_path / "run")]


def _kill_at(epoch, moment, name, options):
    command = [sys.executable, FAULT_AT, str(epoch), moment, name, *options]
    result = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert result.returncode == -signal.SIGKILL, result.stderr[-3000:]


def _rerun(name, options):
    command = [sys.executable, "-m", "kzoo_cli", "train", name, *options]
    result = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def _history_epochs(run_dir):
    with open(run_dir / "history.csv", newline="") as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


# Resuming is the task kind's path (its data, compile and callbacks), so CI kills one recipe of
# each kind with hooks of its own; `python -m benchmarks faults` kills every recipe
# (benchmarks/results/faults.md).
@pytest.mark.parametrize("name", one_of_each_task_kind_in_ci(recipe_names()))
def test_a_killed_run_resumes_with_the_same_command(name, tmp_path):
    options, run_dir = _options(name, tmp_path), tmp_path / "run"
    _kill_at(0, "epoch_end", name, options)
    assert _history_epochs(run_dir) == [0]

    out = _rerun(name, options)
    assert "resuming from the last completed epoch: 1 of 2 done" in out
    assert "trained 1 epoch(s) in this process" in out
    assert _history_epochs(run_dir) == [0, 1]  # the planned epochs, no gap, no duplicate
    assert (run_dir / "metrics.json").exists() and (run_dir / "model.keras").exists()
    assert not (run_dir / "backup").exists()  # a finished run needs no backup
    assert not [f for f in os.listdir(run_dir / "checkpoints") if f.startswith(".")]


@pytest.mark.parametrize(
    "epoch, moment",
    [(0, "staged"), (1, "staged"), (1, "committed")],
)
def test_a_kill_at_any_moment_of_an_epochs_end_loses_nothing(epoch, moment, tmp_path):
    # The moments between the writes of one epoch's end: the best checkpoint staged but the
    # epoch not committed (the epoch is trained again), committed but not yet in history.csv
    # (history.csv is completed from the commit).
    name = "lstm_classifier"
    options, run_dir = _options(name, tmp_path, epochs=3), tmp_path / "run"
    options += ["--set", "model_args.units=4"]
    # --learning-rate high enough that epochs 0 and 1 improve on validation: the killed one is
    # staged.
    options += ["--learning-rate", "0.01"]
    # Early stopping that never stops (patience past the last epoch) restores the best epoch
    # at the end, wherever it falls, as the recipes' defaults do; without it model.keras is
    # the last epoch's.
    options += ["--early-stopping-patience", "5"]
    _kill_at(epoch, moment, name, options)
    committed = epoch + (moment != "staged")
    state = run_dir / "backup" / "state.json"
    assert state.exists() == (committed > 0)
    if committed:
        assert json.loads(state.read_text())["completed"] == committed

    _rerun(name, options)
    history = list(csv.DictReader(open(run_dir / "history.csv", newline="")))
    assert [int(row["epoch"]) for row in history] == [0, 1, 2]
    # The best checkpoint is the epoch history.csv names as best.
    best_epoch = int(min(history, key=lambda row: float(row["val_loss"]))["epoch"])
    best = keras.models.load_model(run_dir / "checkpoints" / "best.keras")
    model = keras.models.load_model(run_dir / "model.keras")  # restored to the best epoch
    for a, b in zip(best.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["valid"]["loss"] == pytest.approx(float(history[best_epoch]["val_loss"]))


def test_a_rerun_with_other_settings_refuses_and_restart_starts_afresh(tmp_path, capsys):
    name = "lstm_classifier"
    options = _options(name, tmp_path, epochs=3) + ["--set", "model_args.units=4"]
    _kill_at(0, "epoch_end", name, options)

    changed = [*options, "--learning-rate", "0.5", "--set", "model_args.units=8"]
    assert kzoo_main(["train", name, *changed]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "holds a run interrupted after 1 of 3 epochs" in error
    assert "learning_rate=0.001 (now 0.5), model_args.units=4 (now 8)." in error
    assert "--restart or another --output-dir" in error
    assert _history_epochs(tmp_path / "run") == [0]  # the interrupted run is untouched

    assert kzoo_main(["train", name, *changed, "--restart"]) == 0
    assert "resuming" not in capsys.readouterr().out
    assert _history_epochs(tmp_path / "run") == [0, 1, 2]
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["learning_rate"] == 0.5 and "restart" not in saved


def _as_in_a_terminal():
    # A shell starts background jobs with SIGINT ignored, and Python keeps an ignored SIGINT;
    # the command gets the default disposition a foreground command in a terminal has, so the
    # test holds however the suite itself was started.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_with_one_line_and_the_same_command_resumes(tmp_path):
    name = "lstm_classifier"
    options = _options(name, tmp_path, epochs=40) + ["--set", "model_args.units=4"]
    command = [sys.executable, "-m", "kzoo_cli", "train", name, *options]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_as_in_a_terminal,
    )
    state = tmp_path / "run" / "backup" / "state.json"
    while not state.exists():  # Ctrl-C once the first epoch is committed
        assert process.poll() is None, process.stderr.read()[-3000:]
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130
    assert err.strip().splitlines()[-1] == (
        f"kzoo train: interrupted. The same command resumes from the last completed epoch "
        f"(saved in {tmp_path / 'run'})."
    )
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    completed = json.loads(state.read_text())["completed"]
    assert 1 <= completed < 40 and _history_epochs(tmp_path / "run") == list(range(completed))
