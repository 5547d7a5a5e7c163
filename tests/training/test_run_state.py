"""kzoo's RunState callback: the history's time columns."""

import csv
import time

import keras
import numpy as np

from kzoo.training.run_state import RunState

VALIDATION_PAUSE = 0.3


class _SlowValidation(keras.callbacks.Callback):
    def on_test_begin(self, logs=None):
        time.sleep(VALIDATION_PAUSE)


def test_history_gives_each_epochs_training_seconds_apart_from_its_validation(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((8, 3), "float32"), np.zeros((8, 1), "float32")
    run_state = RunState(str(tmp_path), monitor="val_loss")
    model.fit(
        x,
        y,
        validation_data=(x, y),
        epochs=2,
        verbose=0,
        callbacks=[run_state, _SlowValidation()],
    )
    model.evaluate(x, y, verbose=0, callbacks=[run_state])  # outside fit: no epoch to time
    with open(tmp_path / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [row["epoch"] for row in rows] == ["0", "1"]
    for row in rows:
        train, whole = float(row["train_seconds"]), float(row["epoch_seconds"])
        assert 0 < train and whole - train >= VALIDATION_PAUSE - 0.01


def test_without_validation_an_epoch_is_all_training(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    run_state = RunState(str(tmp_path))
    model.fit(np.ones((8, 3)), np.zeros((8, 1)), epochs=1, verbose=0, callbacks=[run_state])
    [row] = run_state.rows
    assert row["train_seconds"] == row["epoch_seconds"]


def test_a_ctrl_c_during_an_epochs_commit_waits_until_its_files_are_written(tmp_path, monkeypatch):
    import os
    import signal

    import pytest

    from kzoo.training import run_state as run_state_module

    written = run_state_module.write_text_atomically

    def interrupted_write(path, text):
        if path.endswith("state.json"):
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C as the epoch is committed
        written(path, text)

    monkeypatch.setattr(run_state_module, "write_text_atomically", interrupted_write)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    run_state = RunState(str(tmp_path))
    # Python's own Ctrl-C handler, as in a terminal: a suite started as a background job
    # inherits an ignored SIGINT, which the held interrupt then rightly leaves ignored.
    started_with = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            model.fit(np.ones((8, 3)), np.zeros((8, 1)), epochs=3, verbose=0, callbacks=[run_state])
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, started_with)
    # Raised once the first epoch was committed and settled: its history is written.
    with open(tmp_path / "history.csv", newline="") as f:
        assert [row["epoch"] for row in csv.DictReader(f)] == ["0"]
