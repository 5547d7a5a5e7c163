"""A disk that fills up during training costs nothing that was complete: the run stops with
one line, leaves no truncated or partial file, and resumes once there is room again."""

import csv
import json
import os
import subprocess
import sys

import keras
import pytest

from kzoo.files import write_atomically

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAULT_AT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fault_at.py")
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
OPTIONS = ["--num-examples", "400", "--epochs", "3", "--early-stopping-patience", "0"]
OPTIONS += ["--no-xla", "--no-export"]


def _files(folder):
    return sorted(
        os.path.relpath(os.path.join(root, name), folder)
        for root, _, names in os.walk(folder)
        for name in names
        if "logs" not in root
    )


def test_a_full_disk_loses_nothing_and_the_run_resumes_when_there_is_room(tmp_path):
    run_dir = tmp_path / "run"
    options = [*OPTIONS, "--output-dir", str(run_dir)]
    # The disk fills up at the end of epoch 0: epoch 1's checkpoint cannot be written.
    full = subprocess.run(
        [sys.executable, FAULT_AT, "0", "disk_full", "lstm_classifier", *options],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
    )
    assert full.returncode == 1 and "Traceback" not in full.stderr
    (error,) = [line for line in full.stderr.splitlines() if line.startswith("kzoo train")]
    assert "OSError: [Errno 27] File too large (writing " in error
    # Every file is whole: epoch 0's history row, its checkpoint, its commit; none partial.
    assert not [f for f in _files(run_dir) if os.path.basename(f).startswith(".")]
    with open(run_dir / "history.csv", newline="") as f:
        assert [row["epoch"] for row in csv.DictReader(f)] == ["0"]
    keras.models.load_model(run_dir / "checkpoints" / "best.keras")
    assert json.loads((run_dir / "backup" / "state.json").read_text())["completed"] == 1
    json.loads((run_dir / "config.json").read_text())

    # With room again, the same command resumes after epoch 0.
    resumed = subprocess.run(
        [sys.executable, "-m", "kzoo_cli", "train", "lstm_classifier", *options],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming from the last completed epoch: 1 of 3 done" in resumed.stdout
    with open(run_dir / "history.csv", newline="") as f:
        assert [row["epoch"] for row in csv.DictReader(f)] == ["0", "1", "2"]


def test_a_write_that_fails_leaves_the_previous_file_whole(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text('{"accuracy": 0.9}')

    def fails_half_way(temporary):
        with open(temporary, "w") as f:
            f.write('{"accura')
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left on device"):
        write_atomically(path, fails_half_way)
    assert path.read_text() == '{"accuracy": 0.9}'
    assert os.listdir(tmp_path) == ["metrics.json"]  # no partial file left behind
