"""The run flow every recipe follows: settings → strategy → data → model → fit → evaluate → export.

A recipe reads as that flow:

```python
config = parse_settings(SETTINGS, argv, description=__doc__)
run = Run(config)                 # run folder, seed, strategy, precision, saved config
data = run.load_data()            # splits, vectorizers adapted on train, tf.data pipelines
model = run.build_model(data)     # in the strategy scope, compiled with XLA / clipping
run.fit(model, data)              # TensorBoard, checkpoints, BackupAndRestore, early stopping
run.evaluate(model, data)         # a table on validation/test, saved as metrics.json
run.export(model, data)           # saved_models/<recipe>/<version>
```

A run writes into its folder (`runs/<recipe>` unless `--output-dir`): `config.json` (every
setting, enough to rerun with `--config`), the vocabularies, `logs/` for TensorBoard,
`history.csv`, `checkpoints/best.keras`, `model.keras` and `metrics.json`. The same command
started again after a crash resumes from the last completed epoch (`backup/`).
"""

import contextlib
import json
import math
import os
import shutil
import sys
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from kzoo.backends import backend_of_process
from kzoo.data import vectorization
from kzoo.distribute import multi_worker
from kzoo.distribute import strategy as strategies
from kzoo.distribute.placement import join_processes, resolve_placement
from kzoo.export import export_bundle, export_run
from kzoo.files import write_atomically, write_text_atomically
from kzoo.optimizers import build_optimizer, learning_rate_schedule
from kzoo.runs import VECTORIZERS_FILE, describe_vectorizers
from kzoo.signatures import serving_bundle
from kzoo.tasks import get_task
from kzoo.training.callbacks import ExactProgbarLogger, ResumableEarlyStopping
from kzoo.training.config import check_settings, model_factory
from kzoo.training.cpu_memory import describe_cpu_memory, pool_cpu_memory
from kzoo.training.run_state import RunState, monitor_mode, read_state

# Settings that do not define the training: they may change when a run resumes, and
# `restart` is never saved (a saved config must not restart the run it reruns).
_NOT_COMPARED = ("export", "export_dir", "output_dir", "restart")
_NOT_SAVED = ("restart",)


def _flatten(config):
    flat = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    return flat


def _shown(config, key):
    flat = _flatten(config)
    return json.dumps(flat[key]) if key in flat else "unset"


def _format(value):
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _check_monitor(model, monitor):
    """Raises if `monitor` names no loss or metric of `model` (Keras would only warn, then keep
    no best checkpoint and never stop early)."""
    names = ["loss"]
    for metric in (model.get_compile_config() or {}).get("metrics") or []:
        if isinstance(metric, dict):
            names.append(metric.get("config", {}).get("name"))
        elif isinstance(metric, str):
            names.append(metric)
    known = [prefix + name for prefix in ("val_", "") for name in names if name]
    if monitor not in known:
        raise ValueError(
            f"Invalid value for setting monitor. Expected one of {known}. Received: "
            f"monitor={monitor}"
        )


class Run:
    """One training run of a recipe; see the module docstring for the flow.

    Args:
        config: dict. Resolved settings from `kzoo.training.config.parse_settings`.
    """

    def __init__(self, config):
        self.config = config
        # Before the first tensor, which decides TensorFlow's CPU allocator for the process.
        pool_cpu_memory()
        # Everything the settings alone can tell is checked before any data is read.
        check_settings(config)
        self.task = get_task(config["task"])(config)
        # Several JAX processes join before anything runs on JAX (the stand-in model below).
        join_processes(config["strategy"])
        self._check_model_args()
        self.output_dir = config["output_dir"]
        self._check_interrupted_run()
        self.started = time.time()
        keras.utils.set_random_seed(config["seed"])
        # tf.distribute on TensorFlow, keras.distribution on JAX and PyTorch.
        self.placement = resolve_placement(config["strategy"])
        self.strategy = self.placement.strategy
        # Every worker reads the shared run folder (a resumed run restores from it); only the
        # chief writes: `multi_worker.fit` redirects the other workers' callback files, and the
        # runner's own files are written by the chief alone.
        self.chief = self.placement.chief
        os.makedirs(self.output_dir, exist_ok=True)
        # `auto_precision` says why "auto" chose mixed bfloat16 (None otherwise); XLA is then
        # off, since its CPU compiler does not use the bfloat16 units TensorFlow's kernels do.
        self.policy, self.auto_precision = self.placement.precision(config["mixed_precision"])
        keras.config.set_dtype_policy(self.policy)
        self.global_batch_size = strategies.global_batch_size(config["batch_size"], self.placement)
        self.state = None  # the RunState of `fit`
        if self.chief:
            saved = {key: value for key, value in config.items() if key not in _NOT_SAVED}
            write_text_atomically(
                self.path("config.json"), json.dumps(saved, indent=2, sort_keys=True)
            )
        self.log(f"recipe {config['recipe']}: model {config['model']}, task {config['task']}")
        self.log(f"strategy: {self.placement.describe()}")
        self.log(
            f"batch {config['batch_size']} per replica, {self.global_batch_size} global; "
            f"precision {self.policy}"
            + (f" ({self.auto_precision})" if self.auto_precision else "")
            + f"; run folder {self.output_dir}"
        )
        if backend_of_process() == "tensorflow":
            self.log(f"CPU memory: {describe_cpu_memory()}")

    def _check_model_args(self):
        """Builds the model once with small stand-ins for what the data decides (vocabulary
        sizes, classes), so that its own argument checks fail before any data is read."""
        stand_ins = self.task.stand_in_model_args()
        if stand_ins is None:
            return
        args = {**stand_ins, **self.config["model_args"]}
        factory = model_factory(self.config["model"], self.config["task"])
        factory(**{k: v for k, v in args.items() if v is not None})
        # Forget the stand-in model, so the real one gets the same layer names as without it.
        keras.backend.clear_session(free_memory=False)

    def _check_interrupted_run(self):
        """Resumes only the run that was interrupted: its settings must be this command's.

        `--restart` discards an interrupted run instead (its backup; the files it wrote are
        replaced as the new run writes them).
        """
        state = read_state(self.output_dir)
        if state is None:
            return
        if self.config["restart"]:
            shutil.rmtree(self.path("backup"), ignore_errors=True)
            return
        path = self.path("config.json")
        saved = {}
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                saved = json.load(f)
        current = json.loads(json.dumps(self.config))
        differing = [
            f"{key}={_shown(saved, key)} (now {_shown(current, key)})"
            for key in sorted(_flatten(saved).keys() | _flatten(current).keys())
            if key.partition(".")[0] not in _NOT_COMPARED
            and _flatten(saved).get(key) != _flatten(current).get(key)
        ]
        if differing:
            raise ValueError(
                f"{self.output_dir} holds a run interrupted after {state['completed']} of "
                f"{saved.get('epochs', '?')} epochs, with other settings than this command's: "
                f"{', '.join(differing)}. Run the same command as before to resume it, or start "
                "afresh with --restart or another --output-dir."
            )

    def log(self, message):
        line = f"[kzoo] {message}"
        print(line, flush=True)
        if self.chief:
            with open(self.path("run.log"), "a", encoding="utf-8") as f:
                f.write(line + "\n")

    def path(self, *parts):
        return os.path.join(self.output_dir, *parts)

    # === Data ===
    def load_data(self):
        """Loads and vectorizes the data and builds its pipelines; saves the vocabularies."""
        data = self.task.load(self.global_batch_size)
        if self.chief and data.vectorizers:
            described = describe_vectorizers(data.vectorizers)
            for role, vectorizer in data.vectorizers.items():
                vectorization.save_vocabulary(vectorizer, self.path(described[role]["vocabulary"]))
            text = json.dumps(described, indent=2, sort_keys=True)
            write_text_atomically(self.path(VECTORIZERS_FILE), text)
        if data.class_names and self.chief:
            names = "".join(name + "\n" for name in data.class_names)
            write_text_atomically(self.path("class_names.txt"), names)
        for line in data.summary:
            self.log(f"data: {line}")
        return data

    # === Model ===
    def build_model(self, data, **model_args):
        """Builds the recipe's model in the strategy scope and compiles it for training.

        Arguments the data decides (vocabulary size, classes) come first, then the recipe's
        `model_args`, then `model_args` given here. A run that fine-tunes a preset loads the
        preset's model instead (`Task.pretrained_model`).
        """
        args = {**data.model_args, **self.config["model_args"], **model_args}
        with self.strategy.scope():
            model = self.task.pretrained_model()
            if model is None:
                # As kzoo.build_model, for registered models and those that need a keras-hub
                # preset alike: arguments left as None keep the factory's defaults.
                factory = model_factory(self.config["model"], self.config["task"])
                model = factory(**{key: value for key, value in args.items() if value is not None})
            self.compile(model, data.train)
        self.log(f"model: {model.name}, {model.count_params():,} parameters")
        return model

    def compile(self, model, dataset=None, epochs=None, xla=None):
        """Compiles a model for training with the run's optimizer settings, through its task.

        A learning-rate schedule spans `epochs` (default: the run's) passes over `dataset`;
        `xla` (default: the `xla` setting) asks for XLA, which the runner may still turn off.
        """
        c = self.config
        requested = c["xla"] if xla is None else xla
        if requested and self.auto_precision:
            jit_compile = False
            reason = (
                "mixed bfloat16 (auto) trains faster on TensorFlow's kernels, which use the CPU's "
                "bfloat16 instructions"
            )
        else:
            jit_compile, reason = self.placement.xla(model, requested)
        if reason:
            self.log(f"XLA off for {model.name}: {reason}")
        # The task keeps the loss and metrics the model's factory chose (the GAN: its own
        # pair of optimizers).
        optimizer = self.optimizer(dataset, epochs) if self.task.trains_with_optimizer else None
        self.task.compile(
            model,
            optimizer,
            jit_compile=jit_compile,
            steps_per_execution=self.steps_per_execution(),
        )
        return model

    def optimizer(self, dataset=None, epochs=None):
        """The run's optimizer for a (non-GAN) model: Adam, or Kim's (2014) Adadelta, at a
        constant learning rate or on a schedule over `epochs` passes over `dataset`."""
        c = self.config
        total_steps = None
        if c["lr_schedule"] != "constant":
            total_steps = (epochs or c["epochs"]) * self.steps_per_epoch(dataset)
        learning_rate = learning_rate_schedule(
            c["lr_schedule"], c["learning_rate"], total_steps, c["warmup_steps"]
        )
        return build_optimizer(c["optimizer"], learning_rate, clipnorm=c["clipnorm"])

    def steps_per_execution(self):
        """Training steps per compiled call: the setting (one on PyTorch), reduced to a divisor
        of the `steps_per_epoch` setting when that is set.

        Keras runs whole executions, so 16 steps per call would stretch a 10-step epoch to 16
        steps; a pass over a finite dataset ends early at its last batch and needs no divisor.
        """
        steps = self.placement.steps_per_execution(self.config["steps_per_execution"])
        if self.config["steps_per_epoch"]:
            steps = math.gcd(steps, self.config["steps_per_epoch"])
        return steps

    def steps_per_epoch(self, dataset):
        """Training steps per epoch: the `steps_per_epoch` setting, or one pass over `dataset`."""
        if self.config["steps_per_epoch"]:
            return self.config["steps_per_epoch"]
        if dataset is None:
            raise ValueError("A learning-rate schedule needs the training data to count steps.")
        count = int(dataset.cardinality())
        if count < 0:  # unknown (e.g. filtered): count the batches once
            count = int(dataset.reduce(0, lambda n, _: n + 1))
        return count

    # === Training ===
    def verbose(self):
        """Keras' `verbose` for this run's output: a progress bar on a terminal, else a line
        per epoch."""
        return "auto" if sys.stdout.isatty() else 2

    def callbacks(self, model, data, scratch=None):
        """The run's callbacks; `scratch`: where a worker that is not the chief writes the
        task's images and projector files (deleted after training)."""
        c = self.config
        has_validation = data.valid is not None
        monitor = c["monitor"] or self.task.monitor
        if c["monitor"]:
            _check_monitor(model, c["monitor"])
        if monitor and monitor.startswith("val_") and not has_validation:
            monitor = monitor.removeprefix("val_")
        mode = monitor_mode(model, monitor) if monitor else "min"
        # History, best checkpoint and backup, committed together once per epoch.
        self.state = RunState(self.output_dir, monitor, mode)
        callbacks = [
            keras.callbacks.TerminateOnNaN(),
            self.state,
            keras.callbacks.TensorBoard(self.path("logs")),
            # Images and projector files: every worker computes them (they call the model,
            # which all workers must do together), the chief's are kept.
            *self.task.callbacks(model, data, self.path("logs") if self.chief else scratch),
            ExactProgbarLogger(),
        ]
        if c["early_stopping_patience"] and has_validation and monitor:
            callbacks.append(
                ResumableEarlyStopping(
                    self.state,
                    monitor=monitor,
                    mode=mode,
                    patience=c["early_stopping_patience"],
                    restore_best_weights=True,
                )
            )
        return callbacks

    def fit(self, model, data):
        """Trains with the run's callbacks; resumes where an interrupted run of the same
        settings stopped (`backup/`)."""
        c = self.config
        scratch = None if self.chief else tempfile.mkdtemp(prefix="kzoo_worker_logs_")
        callbacks = self.callbacks(model, data, scratch)
        interrupted = read_state(self.output_dir)
        if interrupted:
            self.log(
                f"resuming from the last completed epoch: {interrupted['completed']} of "
                f"{c['epochs']} done (backup/)"
            )
        # With --steps-per-epoch, every epoch takes that many steps: the data repeats (Keras
        # would otherwise go on from where the last epoch stopped, and end training early,
        # with a warning, once a pass is used up).
        train = data.train.repeat() if c["steps_per_epoch"] else data.train
        # Each worker's share of the batches (keras.distribution; tf.distribute splits them
        # itself), trained in the placement's scope.
        train, valid = map(self.placement.distribute_dataset, (train, data.valid))
        with self.placement.scope(), _removed_afterwards(scratch):
            history = multi_worker.fit(
                model,
                train,
                validation_data=valid,
                epochs=c["epochs"],
                steps_per_epoch=c["steps_per_epoch"],
                callbacks=callbacks,
                verbose=self.verbose(),
                shuffle=False,  # the pipelines shuffle; Keras would only warn
            )
        if self.chief:
            write_atomically(self.path("model.keras"), model.save)
        self.last_epoch_logs = dict(self.state.rows[-1]) if self.state.rows else {}
        self.last_epoch_logs.pop("epoch", None)
        epochs = len(history.epoch)
        self.log(
            f"trained {epochs} epoch(s) in this process; model saved to {self.path('model.keras')}"
        )
        return history

    # === Evaluation ===
    def evaluate(self, model, data):
        """Evaluates on validation/test, prints a table and writes `metrics.json`."""
        results = {}
        if getattr(self, "last_epoch_logs", None):
            # The last epoch's training figures (validation figures are re-measured below).
            results["last_epoch"] = {
                k: v for k, v in self.last_epoch_logs.items() if not k.startswith("val_")
            }
        results.update(self.task.evaluate(model, data))
        results["wall_time_s"] = round(time.time() - self.started, 1)
        numeric = sorted(
            {
                k
                for r in results.values()
                if isinstance(r, dict)
                for k, v in r.items()
                if isinstance(v, (int, float, np.floating))
            }
        )
        rows = [(split, r) for split, r in results.items() if isinstance(r, dict)]
        width = max([len("split")] + [len(s) for s, _ in rows])
        print("\n" + "  ".join([f"{'split':<{width}}", *(f"{k:>12}" for k in numeric)]))
        for split, r in rows:
            cells = [f"{_format(r[k]) if k in r else '':>12}" for k in numeric]
            print("  ".join([f"{split:<{width}}", *cells]))
        for split, r in rows:
            for key, value in r.items():
                if isinstance(value, list):
                    print(f"\n{split} {key}:")
                    print("\n".join(f"  {line}" for line in value))
        print(flush=True)
        if self.chief:
            text_of = json.dumps(results, indent=2, default=float)
            write_text_atomically(self.path("metrics.json"), text_of)
        return results

    # === Export ===
    def _check_trained(self):
        """Refuses to export a model that no epoch trained, or whose training diverged."""
        rows = self.state.rows if self.state else []
        if not rows:
            raise ValueError(
                "Nothing was exported: the run completed no training epoch. Train it (--epochs "
                "1 or more) before exporting."
            )
        diverged = sorted(k for k, v in rows[-1].items() if k != "epoch" and not math.isfinite(v))
        if diverged:
            raise ValueError(
                f"Nothing was exported: the last epoch ended with {', '.join(diverged)} not "
                "finite (training diverged; try a lower --learning-rate or a --clipnorm)."
            )

    def export(self, model, data):
        """Exports to `<export_dir>/<recipe>/<next version>/` for TF Serving (chief only): raw
        inputs in, readable outputs out, warm-up requests, checked against the in-memory
        pipeline before it is published; `models.config` lists every exported model."""
        if not self.config["export"] or not self.chief:
            return None
        self._check_trained()
        bundle = serving_bundle(model, data, self.config)
        write_text_atomically(self.path("examples.json"), json.dumps(bundle.examples, indent=2))
        if backend_of_process() == "tensorflow":
            path = export_bundle(bundle, self.config["export_dir"], self.config["recipe"])
        else:  # the finished run's files, exported by a TensorFlow process
            path = export_run(self.output_dir, self.config["export_dir"], self.config["recipe"])
        self.log(f"exported SavedModel to {path} (signatures: {', '.join(_signature_names(path))})")
        return path


@contextlib.contextmanager
def _removed_afterwards(folder):
    """Deletes `folder` (if any) when the block ends."""
    try:
        yield
    finally:
        if folder:
            shutil.rmtree(folder, ignore_errors=True)


def _signature_names(path):
    return sorted(tf.saved_model.load(path).signatures)
