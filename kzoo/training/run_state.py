"""A run's state across epochs: history, best checkpoint and backup, committed once per epoch.

`RunState` is the one callback that writes a run's files during training; it takes the place
of Keras' `CSVLogger`, `ModelCheckpoint` and `BackupAndRestore`, which write their files one
after another with no order between them: a kill between two of them left a history without
the epoch the backup held (so the resumed run had a gap) or a checkpoint of an epoch the backup
did not hold, and a full disk left truncated files.

At the end of each epoch, in this order:

1. the best checkpoint, if the epoch improved on the best so far, is staged as
   `checkpoints/.staged-epoch-<N>.keras` (`last.keras` is staged every epoch when nothing is
   monitored);
2. the model with its optimizer state goes to `backup/epoch-<N+1>.keras` (a `.keras` archive
   rather than a `.weights.h5` file: HDF5 writing straight to a full disk fails with a flood of
   errors and can crash the process at exit, a zip archive fails with one `OSError`);
3. `backup/state.json`, written atomically, commits the epoch: the number of completed epochs,
   the weights file, every epoch's logs and the best value and epoch;
4. the staged checkpoint is renamed into place and `history.csv` is rewritten from the
   committed logs.

Every file is written to a temporary file and renamed (`kzoo.files`). Whenever the process
dies, `state.json` names a complete epoch, and a resumed run settles what that epoch left
half-done: it promotes a staged checkpoint of a committed epoch, drops one of an uncommitted
epoch, and rewrites `history.csv` with exactly the committed epochs, so the history has neither
a gap nor a duplicate. A finished `fit` removes `backup/`, as `BackupAndRestore` does.
"""

import contextlib
import glob
import json
import math
import os
import re
import shutil
import signal
import threading
import time

import keras

from kzoo.files import remove_partial_files, write_atomically, write_text_atomically

STATE_FILE = os.path.join("backup", "state.json")


def read_state(run_dir):
    """The committed state of an interrupted run in `run_dir`, or `None` if there is none."""
    path = os.path.join(run_dir, STATE_FILE)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def monitor_mode(model, monitor):
    """Whether the best value of `monitor` is its `"min"` or its `"max"`.

    Losses and perplexity are minimised; other metrics follow their Keras direction (accuracy
    is maximised). Keras can only tell once the metrics are built, after the first batch, which
    is too late for a resumed run that must compare its past epochs at once.

    Raises:
        ValueError: when `monitor` is no loss or metric of `model`'s compile configuration.
    """
    name = monitor.removeprefix("val_")
    if name == "loss" or name.endswith("_loss"):
        return "min"
    for metric in (model.get_compile_config() or {}).get("metrics") or []:
        if isinstance(metric, str):
            metric = keras.metrics.get(metric)
        elif isinstance(metric, dict):
            metric = keras.saving.deserialize_keras_object(metric)
        if getattr(metric, "name", None) != name:
            continue
        direction = getattr(metric, "_direction", None)
        if direction in ("up", "down"):
            return "max" if direction == "up" else "min"
    if any(word in name for word in ("accuracy", "acc", "auc", "precision", "recall")):
        return "max"
    if any(word in name for word in ("perplexity", "crossentropy", "error")):
        return "min"
    raise ValueError(
        f"Invalid value for setting monitor. Expected a loss, or a metric of the model whose "
        f"best is its highest or lowest value. Received: monitor={monitor}"
    )


@contextlib.contextmanager
def _interrupts_held():
    """Holds a Ctrl-C (SIGINT) that arrives in the block and raises it once the block is done.

    Only the main thread receives signals; elsewhere the block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda number, frame: received.append(frame))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        if callable(previous):
            previous(signal.SIGINT, received[0])  # Python's own handler raises KeyboardInterrupt
        elif previous == signal.SIG_DFL:
            raise KeyboardInterrupt


class RunState(keras.callbacks.Callback):
    """Writes a run's history, best checkpoint and backup, and resumes an interrupted run.

    See the module docstring for what is written when, and why in that order.

    Args:
        run_dir: str. The run folder.
        monitor: str or `None`. The log that picks the best epoch (e.g. `"val_loss"`); `None`
            keeps the last epoch as `checkpoints/last.keras`.
        mode: str. `"min"` or `"max"`: which values of `monitor` are best (see `monitor_mode`).

    Attributes:
        rows: list of dict. The logs of every completed epoch, with its `epoch`.
        completed: int. Epochs completed and committed, before and in this process.
        best, best_epoch: the best value of `monitor` and its epoch, or `None`.
        resumed_from: int or `None`. The completed epochs an interrupted run resumed from.

    Example:

    >>> import keras, numpy as np, tempfile
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> run_dir = tempfile.mkdtemp()
    >>> state = RunState(run_dir, monitor="loss", mode="min")
    >>> _ = model.fit(np.ones((4, 2)), np.ones(4), epochs=2, callbacks=[state], verbose=0)
    >>> state.completed, sorted(os.listdir(run_dir))
    (2, ['checkpoints', 'history.csv'])
    """

    # Every path it writes lies under `run_dir`: on workers other than the chief,
    # `kzoo.distribute.multi_worker.fit` moves that folder once the run has restored from it.
    restored_folder_attribute = "run_dir"

    def __init__(self, run_dir, monitor=None, mode="min"):
        super().__init__()
        if mode not in ("min", "max"):
            raise ValueError(
                f"Invalid value for argument mode. Expected 'min' or 'max'. Received: mode={mode}"
            )
        self.run_dir, self.monitor, self.mode = run_dir, monitor, mode
        self.rows, self.completed = [], 0
        self.best = self.best_epoch = self.resumed_from = None
        # When the current epoch's validation began; False outside an epoch.
        self._validation_started = False

    # === Paths (all under `run_dir`, so a worker can move them all at once) ===

    def path(self, *parts):
        return os.path.join(self.run_dir, *parts)

    @property
    def checkpoint_path(self):
        """The best (or, with nothing monitored, the last) epoch's model."""
        return self.path("checkpoints", "best.keras" if self.monitor else "last.keras")

    def _staged_path(self, epoch):
        return self.path("checkpoints", f".staged-epoch-{epoch}.keras")

    # === Training ===

    def on_train_begin(self, logs=None):
        self._epoch_started = time.perf_counter()  # in case fit's epoch hook is not called
        state = read_state(self.run_dir)
        if state is None:
            self.rows, self.completed = [], 0
            self.best = self.best_epoch = self.resumed_from = None
            return
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)  # its state is in the weights file
        self.model.load_weights(self.path("backup", state["weights"]))
        self.model._initial_epoch = state["completed"]  # as BackupAndRestore tells `fit`
        self.rows, self.completed = state["history"], state["completed"]
        self.best, self.best_epoch = state["best"], state["best_epoch"]
        self.resumed_from = self.completed
        self._settle()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_started = time.perf_counter()
        self._validation_started = None

    def on_test_begin(self, logs=None):
        # `fit` validates at the end of an epoch with these callbacks: its training ends here.
        if self._validation_started is None:
            self._validation_started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        row = {"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()}}
        # The epoch's wall time, its validation included, and its training alone (throughput
        # figures: a large validation split would otherwise weigh on them).
        row["epoch_seconds"] = round(now - self._epoch_started, 3)
        row["train_seconds"] = round((self._validation_started or now) - self._epoch_started, 3)
        self._validation_started = False
        self.rows.append(row)
        if self._improves(self.rows[-1].get(self.monitor) if self.monitor else None):
            if self.monitor:
                self.best, self.best_epoch = self.rows[-1][self.monitor], epoch
            else:
                self.best_epoch = epoch
            os.makedirs(self.path("checkpoints"), exist_ok=True)
            write_atomically(self._staged_path(epoch), self.model.save)
        os.makedirs(self.path("backup"), exist_ok=True)
        weights = f"epoch-{epoch + 1}.keras"
        write_atomically(self.path("backup", weights), self.model.save)
        state = {
            "completed": epoch + 1,
            "weights": weights,
            "history": self.rows,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "monitor": self.monitor,
            "mode": self.mode,
        }
        # The commit: from here on, a resumed run starts after this epoch. A Ctrl-C now waits
        # until the epoch is settled, so an interrupted run's files all end at this epoch.
        with _interrupts_held():
            write_text_atomically(self.path(STATE_FILE), json.dumps(state, indent=1))
            self.completed = epoch + 1
            self._settle()

    def on_train_end(self, logs=None):
        shutil.rmtree(self.path("backup"), ignore_errors=True)

    # === Settling what the last commit left half-done ===

    def _improves(self, value):
        if not self.monitor:
            return True
        if value is None or not math.isfinite(value):
            return False
        if self.best is None:
            return True
        return value < self.best if self.mode == "min" else value > self.best

    def _settle(self):
        for staged in glob.glob(self._staged_path("*")):
            epoch = int(re.search(r"epoch-(\d+)\.keras$", staged).group(1))
            if epoch == self.best_epoch and epoch < self.completed:
                os.replace(staged, self.checkpoint_path)
            else:
                os.remove(staged)
        state = read_state(self.run_dir)
        for stale in glob.glob(self.path("backup", "epoch-*.keras")):
            if state is None or os.path.basename(stale) != state["weights"]:
                with contextlib.suppress(OSError):
                    os.remove(stale)
        for folder in (self.run_dir, self.path("checkpoints"), self.path("backup")):
            remove_partial_files(folder)
        self._write_history()

    def _write_history(self):
        # The columns of Keras' CSVLogger: epoch, then the logs' keys in sorted order.
        keys = sorted({key for row in self.rows for key in row} - {"epoch"})
        lines = [",".join(["epoch", *keys])]
        for row in self.rows:
            lines.append(",".join([str(row["epoch"]), *(_cell(row.get(key)) for key in keys)]))
        write_text_atomically(self.path("history.csv"), "\n".join(lines) + "\n")


def _cell(value):
    return "" if value is None else repr(float(value))
