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

import json
import math
import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf

import kzoo
from kzoo.data import pipeline as text
from kzoo.export import export_bundle
from kzoo.signatures import serving_bundle
from kzoo.training import strategy as strategies
from kzoo.training.callbacks import ResumableEarlyStopping, best_in_history
from kzoo.training.config import model_factory
from kzoo.training.optimizers import build_optimizer, learning_rate_schedule
from kzoo.training.pretrained_task import PretrainedClassificationTask
from kzoo.training.tasks import TASKS, skipgram_dataset

# kzoo.training.tasks' tasks and those defined beside it.
ALL_TASKS = {**TASKS, "pretrained_classification": PretrainedClassificationTask}


def _precision_policy(strategy):
    if isinstance(strategy, tf.distribute.TPUStrategy):
        return "mixed_bfloat16"
    if tf.config.list_physical_devices("GPU"):
        return "mixed_float16"
    return "mixed_bfloat16"


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
        self.steps_per_execution()  # a bad value fails here, before any data is read
        self.started = time.time()
        keras.utils.set_random_seed(config["seed"])
        self.strategy = strategies.resolve_strategy(config["strategy"])
        # Every worker reads the shared run folder (BackupAndRestore restores from it); only the
        # chief writes: `strategies.fit` redirects the other workers' callback files, and the
        # runner's own files are written by the chief alone.
        self.chief = strategies.is_chief(self.strategy)
        self.output_dir = config["output_dir"]
        os.makedirs(self.output_dir, exist_ok=True)
        self.policy = "float32"
        if config["mixed_precision"]:
            self.policy = _precision_policy(self.strategy)
        keras.config.set_dtype_policy(self.policy)
        self.task = ALL_TASKS[config["task"]](config)
        self.global_batch_size = strategies.global_batch_size(config["batch_size"], self.strategy)
        if self.chief:
            with open(self.path("config.json"), "w", encoding="utf-8") as f:
                json.dump(config, f, indent=2, sort_keys=True)
        self.log(f"recipe {config['recipe']}: model {config['model']}, task {config['task']}")
        self.log(f"strategy: {strategies.describe_strategy(self.strategy)}")
        self.log(
            f"batch {config['batch_size']} per replica, {self.global_batch_size} global; "
            f"precision {self.policy}; run folder {self.output_dir}"
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
        for role, vectorizer in data.vectorizers.items() if self.chief else ():
            name = "vocabulary.txt" if role == "text" else f"{role}_vocabulary.txt"
            text.save_vocabulary(vectorizer, self.path(name))
        if data.class_names and self.chief:
            with open(self.path("class_names.txt"), "w", encoding="utf-8") as f:
                f.writelines(name + "\n" for name in data.class_names)
        for line in data.summary:
            self.log(f"data: {line}")
        return data

    # === Model ===
    def build_model(self, data, **model_args):
        """Builds the recipe's model in the strategy scope and compiles it for training.

        Arguments the data decides (vocabulary size, classes) come first, then the recipe's
        `model_args`, then `model_args` given here.
        """
        args = {**data.model_args, **self.config["model_args"], **model_args}
        with self.strategy.scope():
            # As kzoo.build_model, for registered models and those that need a preset alike:
            # arguments left as None keep the factory's defaults.
            factory = model_factory(self.config["model"])
            model = factory(**{key: value for key, value in args.items() if value is not None})
            self.compile(model, data.train)
        self.log(f"model: {model.name}, {model.count_params():,} parameters")
        return model

    def compile(self, model, dataset=None, epochs=None, xla=None):
        """Recompiles a kzoo model with the run's optimizer settings, keeping its loss/metrics.

        A learning-rate schedule spans `epochs` (default: the run's) passes over `dataset`;
        `xla` (default: the `xla` setting) asks for XLA, which the runner may still turn off.
        """
        c = self.config
        jit_compile = c["xla"] if xla is None else xla
        if jit_compile:
            supported, reason = strategies.xla_supported(model, self.strategy)
            if not supported:
                self.log(f"XLA off for {model.name}: {reason}")
                jit_compile = False
        if isinstance(model, kzoo.GAN):
            model.compile(
                d_optimizer=keras.optimizers.Adam(
                    c["learning_rate"], beta_1=0.5, clipnorm=c["clipnorm"]
                ),
                g_optimizer=keras.optimizers.Adam(
                    c["learning_rate"], beta_1=0.5, clipnorm=c["clipnorm"]
                ),
                jit_compile=jit_compile,
                steps_per_execution=self.steps_per_execution(),
            )
        else:
            compiled = model.get_compile_config()
            model.compile(
                optimizer=self.optimizer(dataset, epochs),
                loss=keras.saving.deserialize_keras_object(compiled["loss"]),
                metrics=keras.saving.deserialize_keras_object(compiled["metrics"]),
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
        """Training steps per compiled call: the setting, reduced to a divisor of the
        `steps_per_epoch` setting when that is set.

        Keras runs whole executions, so 16 steps per call would stretch a 10-step epoch to 16
        steps; a pass over a finite dataset ends early at its last batch and needs no divisor.
        """
        steps = self.config["steps_per_execution"]
        if steps < 1:
            raise ValueError(
                "Invalid value for setting steps_per_execution. Expected a positive integer. "
                f"Received: steps_per_execution={steps}"
            )
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

    def pretrain_word2vec(self, data):
        """Trains skip-gram word2vec on the training sentences and returns its vectors, aligned
        with the classifier's vocabulary (for `build_word2vec_classifier(embeddings=...)`)."""
        c = self.config
        vocabulary_size = data.model_args["vocabulary_size"]
        sequences = [x for x in data.raw["train_ids"] if len(x) > 1]
        dataset, pairs = skipgram_dataset(
            sequences, vocabulary_size, c, self.global_batch_size, True
        )
        dim = c["model_args"].get("embedding_dim") or 128
        with self.strategy.scope():
            word2vec = kzoo.build_word2vec(vocabulary_size=vocabulary_size, embedding_dim=dim)
            self.compile(word2vec, dataset, c["word2vec_epochs"], xla=c["word2vec_xla"])
        self.log(f"word2vec pretraining: {pairs} skip-gram pairs, {c['word2vec_epochs']} epochs")
        strategies.fit(
            word2vec, dataset, epochs=c["word2vec_epochs"], verbose=self._verbose(), shuffle=False
        )
        return kzoo.word2vec_vectors(word2vec)

    # === Training ===
    def _verbose(self):
        return "auto" if sys.stdout.isatty() else 2

    def callbacks(self, model, data):
        c = self.config
        resuming = os.path.isdir(self.path("backup"))
        has_validation = data.valid is not None
        monitor = c["monitor"] or self.task.monitor
        if c["monitor"]:
            _check_monitor(model, c["monitor"])
        if monitor and monitor.startswith("val_") and not has_validation:
            monitor = monitor.removeprefix("val_")
        os.makedirs(self.path("checkpoints"), exist_ok=True)
        if monitor:
            checkpoint = keras.callbacks.ModelCheckpoint(
                self.path("checkpoints", "best.keras"), monitor=monitor, save_best_only=True
            )
            # A resumed run keeps the best checkpoint of its earlier epochs unless it beats it.
            past = resuming and best_in_history(checkpoint, model, self.path("history.csv"))
            if past:
                checkpoint.best = past[0]
        else:
            checkpoint = keras.callbacks.ModelCheckpoint(self.path("checkpoints", "last.keras"))
        callbacks = [
            keras.callbacks.TerminateOnNaN(),
            keras.callbacks.BackupAndRestore(self.path("backup")),
            checkpoint,
            # A resumed run continues its history; a new run starts it afresh.
            keras.callbacks.CSVLogger(self.path("history.csv"), append=resuming),
            keras.callbacks.TensorBoard(self.path("logs")),
            # Images and projector files: the chief's only.
            *(self.task.callbacks(model, data, self.path("logs")) if self.chief else []),
        ]
        if c["early_stopping_patience"] and has_validation and monitor:
            callbacks.append(
                ResumableEarlyStopping(
                    # A new run's history.csv is rewritten, so only a resumed run reads one.
                    self.path("history.csv") if resuming else None,
                    self.path("checkpoints", "best.keras"),
                    monitor=monitor,
                    patience=c["early_stopping_patience"],
                    restore_best_weights=True,
                )
            )
        return callbacks

    def fit(self, model, data):
        """Trains with the run's callbacks; resumes from `backup/` if a previous run stopped."""
        c = self.config
        if os.path.isdir(self.path("backup")):
            self.log("resuming from the last completed epoch in backup/")
        history = strategies.fit(
            model,
            data.train,
            validation_data=data.valid,
            epochs=c["epochs"],
            steps_per_epoch=c["steps_per_epoch"],
            callbacks=self.callbacks(model, data),
            verbose=self._verbose(),
            shuffle=False,  # the pipelines shuffle; Keras would only warn
        )
        if self.chief:
            model.save(self.path("model.keras"))
        self.last_epoch_logs = {k: float(v[-1]) for k, v in history.history.items() if v}
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
            with open(self.path("metrics.json"), "w", encoding="utf-8") as f:
                json.dump(results, f, indent=2, default=float)
        return results

    # === Export ===
    def export(self, model, data):
        """Exports to `<export_dir>/<recipe>/<next version>/` for TF Serving (chief only): raw
        inputs in, readable outputs out, warm-up requests, checked against the in-memory
        pipeline before it is published; `models.config` lists every exported model."""
        if not self.config["export"] or not self.chief:
            return None
        bundle = serving_bundle(model, data, self.config)
        with open(self.path("examples.json"), "w", encoding="utf-8") as f:
            json.dump(bundle.examples, f, indent=2)
        path = export_bundle(bundle, self.config["export_dir"], self.config["recipe"])
        self.log(f"exported SavedModel to {path} (signatures: {', '.join(_signature_names(path))})")
        return path


def _signature_names(path):
    return sorted(tf.saved_model.load(path).signatures)
