"""Runs `kzoo train RECIPE ...` and kills it with SIGKILL, or fills its disk, at a chosen moment.

    python tests/faults/fault_at.py EPOCH MOMENT RECIPE [recipe options]

EPOCH is the epoch (from 0) at whose end the fault strikes; MOMENT is when, within that end:

- `epoch_end`: after every callback of the epoch (a kill between two epochs);
- `staged`: after the epoch's best checkpoint is staged, before its backup and commit;
- `committed`: after `backup/state.json` commits the epoch, before the checkpoint is renamed
  into place and `history.csv` rewritten;
- `disk_full`: after every callback of the epoch, the disk fills up: from then on the kernel
  refuses to write past 64 KiB in any file (`RLIMIT_FSIZE`; SIGXFSZ ignored, so a write fails
  with an `OSError` as on a full disk), which a checkpoint of the model needs.

A SIGKILL leaves no chance to clean up, as a machine that loses power or an out-of-memory kill
would not. The faults tests and `python -m benchmarks faults` run the same command again without
this script and check that the run resumed with nothing lost.
"""

import os
import resource
import signal
import sys

import keras

import kzoo_cli
from kzoo.training import run_state, runner

# What a file may hold once the disk is "full": less than any kzoo model's checkpoint.
DISK_FULL_BYTES = 64 * 1024


def _die():
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def main(argv):
    epoch, moment, recipe, options = int(argv[0]), argv[1], argv[2], argv[3:]
    if moment in ("epoch_end", "disk_full"):

        class FaultAtEpochEnd(keras.callbacks.Callback):
            def on_epoch_end(self, at, logs=None):
                if at == epoch and moment == "epoch_end":
                    _die()
                if at == epoch and moment == "disk_full":
                    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                    hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
                    resource.setrlimit(resource.RLIMIT_FSIZE, (DISK_FULL_BYTES, hard))

        callbacks = runner.Run.callbacks
        runner.Run.callbacks = lambda self, *a: [*callbacks(self, *a), FaultAtEpochEnd()]
    else:
        # Die right after the write that marks the moment, for the chosen epoch.
        marker = {"staged": f".staged-epoch-{epoch}.keras", "committed": "state.json"}[moment]
        written = {"count": 0}
        for name in ("write_atomically", "write_text_atomically"):
            original = getattr(run_state, name)

            def writing(path, *args, _original=original):
                result = _original(path, *args)
                if os.path.basename(path) == marker:
                    written["count"] += 1
                    if moment == "staged" or written["count"] == epoch + 1:
                        _die()
                return result

            setattr(run_state, name, writing)
    return kzoo_cli.main(["train", recipe, *options])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
