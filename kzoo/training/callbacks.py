"""Callbacks every run trains with: early stopping that carries on across a resumed run, and
a progress bar whose step count is exact. (A task kind's own, such as TensorBoard images, are
in its module under `kzoo.tasks`.)"""

import os

import keras


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """`EarlyStopping` that, in a resumed run, counts the epochs trained before it.

    Keras' `EarlyStopping` forgets its best value, its patience count and its best weights at
    the start of every `fit`, so after a resume it would stop late and restore the best of the
    resumed epochs only. This one takes them from the run's `RunState` (which must come before
    it in the callbacks) and its best checkpoint, as if the run had not been interrupted.

    Args:
        run_state: the run's `kzoo.training.run_state.RunState`, on the same monitor.
        **kwargs: `keras.callbacks.EarlyStopping` arguments.

    Example:

    >>> import tempfile
    >>> from kzoo.training.run_state import RunState
    >>> state = RunState(tempfile.mkdtemp(), monitor="val_loss", mode="min")
    >>> stopping = ResumableEarlyStopping(state, monitor="val_loss", mode="min", patience=3)
    >>> isinstance(stopping, keras.callbacks.EarlyStopping)
    True
    """

    def __init__(self, run_state, **kwargs):
        super().__init__(**kwargs)
        self.run_state = run_state

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        state = self.run_state
        if state.resumed_from is None or state.best_epoch is None:
            return
        self.best, self.best_epoch = state.best, state.best_epoch
        self.wait = state.completed - 1 - state.best_epoch
        if self.restore_best_weights and os.path.exists(state.checkpoint_path):
            best = keras.models.load_model(state.checkpoint_path, compile=False)
            self.best_weights = best.get_weights()


class ExactProgbarLogger(keras.callbacks.ProgbarLogger):
    """Keras' progress bar, whose step count never passes the epoch's steps.

    With several steps per compiled call, Keras reports the last step of a call as if the call
    ran all its steps, also when the epoch's data ended before: an epoch of 204 steps at 16
    steps per call showed 208/204.
    """

    def _update_progbar(self, batch, logs=None):
        if self.target is not None:
            batch = min(batch, self.target - 1)
        super()._update_progbar(batch, logs)
