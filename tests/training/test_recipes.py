"""Recipes train, evaluate and export end to end, on tiny settings of their embedded defaults
(in CI one of each task kind; every recipe with the tests marked slow); every recipe's model
loads in a fresh process; `kzoo train` and `python recipes/<name>.py` share one parser; a
killed run resumes."""

import csv
import importlib
import json
import os
import re
import subprocess
import sys
import types

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras.callbacks import EarlyStopping
from recipe_kinds import (  # tests/
    PRESET_RECIPES,
    first_recipe_of_each_task_kind,
    one_of_each_task_kind_in_ci,
)

import kzoo
from kzoo.optimizers import build_optimizer
from kzoo.registry import get_model_entry
from kzoo.runs import load_run
from kzoo.tasks import get_task
from kzoo.tasks.word2vec import pretrain as pretrain_word2vec
from kzoo.training import Run, parse_settings
from kzoo.training.run_state import RunState
from kzoo_cli import main as kzoo_main
from kzoo_cli import recipe_names

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Tiny but real: each recipe declares options that train one short epoch on its embedded
# default (its TINY). The pre-trained models' default presets are downloads:
# test_pretrained_recipe.py and test_pretrained_generator.py run them on tiny local ones.
TINY = {
    name: importlib.import_module(f"kzoo.recipes.{name}").TINY
    for name in recipe_names()
    if name not in PRESET_RECIPES
}
TINY.update(dict.fromkeys(PRESET_RECIPES))

# CI trains one recipe of each task kind end to end (tests/recipe_kinds.py); the others run
# with the slow tests and in `python -m benchmarks recipes` (benchmarks/results/recipes.md).
TRAINED_IN_CI = first_recipe_of_each_task_kind()


def _train(name, tmp_path_factory):
    """A run of the recipe on its tiny settings, not exported: its folder."""
    run_dir = tmp_path_factory.mktemp(name) / "run"
    argv = ["--epochs", "1", "--no-xla", "--no-export", "--output-dir", str(run_dir)]
    assert kzoo_main(["train", name, *argv, *TINY[name]]) == 0
    return run_dir


def _untrained_model_file(name, folder):
    """The recipe's model, tiny and untrained, compiled as its run compiles it (task, loss,
    metrics, optimizer) and saved as a run saves it: a `.keras` file."""
    config = parse_settings(importlib.import_module(f"kzoo.recipes.{name}").SETTINGS, [])
    # The recipe's model arguments; the tiny configuration's stand in for what the data
    # decides (vocabulary sizes, classes, word vectors, whose width is the embeddings').
    args = {**get_model_entry(config["model"]).tiny.kwargs, **config["model_args"]}
    if "embeddings" in args:
        args["embedding_dim"] = args["embeddings"].shape[1]
    model = kzoo.build_model(config["model"], **args)
    task = get_task(config["task"])(config)
    optimizer = None
    if task.trains_with_optimizer:
        optimizer = build_optimizer(
            config["optimizer"], config["learning_rate"], clipnorm=config["clipnorm"]
        )
    task.compile(model, optimizer, jit_compile=False, steps_per_execution=1)
    path = os.path.join(folder, f"{name}.keras")
    model.save(path)
    return path


def test_every_recipe_has_a_tiny_setting():
    assert sorted(TINY) == recipe_names()


@pytest.fixture(scope="module")
def finished_runs():
    """Run folders of the recipes trained in this module, by recipe name."""
    return {}


@pytest.mark.parametrize("name", one_of_each_task_kind_in_ci(sorted(TINY)))
def test_recipe_trains_evaluates_and_exports(name, tmp_path, capsys, finished_runs):
    if TINY[name] is None:
        pytest.skip(
            "needs a preset: tested in test_pretrained_recipe.py, test_pretrained_generator.py"
        )
    finished_runs[name] = tmp_path / "run"
    run_dir, export_dir = tmp_path / "run", tmp_path / "exports"
    argv = [
        "--epochs",
        "1",
        "--no-xla",
        "--output-dir",
        str(run_dir),
        "--export-dir",
        str(export_dir),
    ]
    assert kzoo_main(["train", name, *argv, *TINY[name]]) == 0
    out = capsys.readouterr().out
    assert "split" in out  # the evaluation table
    # The resolved config reruns the same training.
    config = json.loads((run_dir / "config.json").read_text())
    assert config["recipe"] == name and config["epochs"] == 1
    assert os.listdir(run_dir / "logs")  # TensorBoard event files
    extra_logs = {"gan": "samples", "attention_seq2seq": "attention", "word2vec": "projector"}
    if name in extra_logs:  # GAN grids, attention heatmaps, the embedding projector
        assert os.listdir(run_dir / "logs" / extra_logs[name])
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["wall_time_s"] > 0
    assert (run_dir / "model.keras").exists()
    version = export_dir / name / "1"
    assert (version / "saved_model.pb").exists()
    assert (version / "assets.extra" / "tf_serving_warmup_requests").exists()
    # The export answers raw input: text, prompts, words or seeds.
    signature = tf.saved_model.load(str(version)).signatures["serving_default"]
    ((key, spec),) = signature.structured_input_signature[1].items()
    examples = json.loads((run_dir / "examples.json").read_text()) or [0, 1]
    outputs = signature(**{key: tf.constant(examples[:2], dtype=spec.dtype)})
    assert all(int(value.shape[0]) == len(examples[:2]) for value in outputs.values())


def test_every_recipes_model_loads_in_a_fresh_process_after_import_kzoo(
    finished_runs, tmp_path_factory
):
    # As the README promises: `import kzoo` registers every object a run saves (Kim's
    # DenseAdadelta optimizer included), and safe mode finds nothing to refuse. The runs this
    # module trained (selected on its own: one recipe of each kind), and every other recipe's
    # model compiled as its run compiles it.
    for name in sorted(TRAINED_IN_CI - set(finished_runs)):
        finished_runs[name] = _train(name, tmp_path_factory)
    paths = {name: str(run_dir / "model.keras") for name, run_dir in finished_runs.items()}
    untrained = tmp_path_factory.mktemp("untrained")
    for name in sorted(set(TINY) - set(PRESET_RECIPES) - set(paths)):
        paths[name] = _untrained_model_file(name, untrained)
    script = (
        "import json, sys, keras, kzoo\n"
        "for name, path in json.loads(sys.argv[1]).items():\n"
        "    model = keras.models.load_model(path, safe_mode=True)\n"
        "    assert model.optimizer is not None or hasattr(model, 'd_optimizer'), name\n"
        "print('loaded', len(json.loads(sys.argv[1])))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, json.dumps(paths)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == f"loaded {len(TINY) - len(PRESET_RECIPES)}"


@pytest.mark.parametrize(
    "name", one_of_each_task_kind_in_ci(sorted(name for name in TINY if TINY[name] is not None))
)
def test_every_recipes_run_saves_as_a_preset_that_serves_the_same(
    name, finished_runs, tmp_path_factory
):
    run_dir = finished_runs.get(name)
    if run_dir is None:  # selected on its own: train it
        run_dir = _train(name, tmp_path_factory)
    preset = kzoo.save_preset(run_dir, tmp_path_factory.mktemp(name) / "preset")
    (expected, expected_config), (loaded, config) = load_run(run_dir), load_run(preset)
    assert config == expected_config and loaded.class_names == expected.class_names
    for role, vectorizer in expected.vectorizers.items():
        assert loaded.vectorizers[role].get_vocabulary() == vectorizer.get_vocabulary()
    assert len(loaded.model.weights) == len(expected.model.weights)
    for weight, run_weight in zip(loaded.model.weights, expected.model.weights):
        np.testing.assert_array_equal(weight.numpy(), run_weight.numpy())
    # What the export serves, from the preset and from the run alike.
    task = get_task(config["task"])
    inputs = task.warmup_inputs(expected)
    outputs = task.reference_outputs(loaded, inputs, task.endpoints(loaded))
    for key, value in task.reference_outputs(expected, inputs, task.endpoints(expected)).items():
        if value.dtype.kind in "OSU":
            assert outputs[key].tolist() == value.tolist(), key
        else:
            np.testing.assert_allclose(outputs[key], value, atol=1e-6, err_msg=key)


def test_mixed_precision_and_steps_per_execution(tmp_path, capsys):
    argv = ["--epochs", "1", "--num-examples", "300", "--no-export", "--output-dir", str(tmp_path)]
    argv += ["--mixed-precision", "--steps-per-execution", "4", "--set", "model_args.units=4"]
    assert kzoo_main(["train", "lstm_classifier", *argv]) == 0
    assert "precision mixed_bfloat16" in capsys.readouterr().out  # CPU: bfloat16
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert 0.0 <= metrics["test"]["accuracy"] <= 1.0
    model = keras.models.load_model(tmp_path / "model.keras")
    assert model.get_layer("lstm_0").dtype_policy.name == "mixed_bfloat16"
    assert model.get_layer("predictions").dtype_policy.name == "float32"  # float32 output


def test_recipe_script_and_kzoo_train_show_the_same_options():
    def options(command):
        result = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
        return [
            line.split()[0] for line in result.stdout.splitlines() if line.strip().startswith("--")
        ]

    script = options([sys.executable, "recipes/gpt.py", "--help"])
    cli = options([sys.executable, "-m", "kzoo", "train", "gpt", "--help"])
    assert script == cli and "--sequence-length" in script


def test_unknown_recipe(capsys):
    assert kzoo_main(["train", "bert"]) == 2
    assert "Unknown recipe 'bert'" in capsys.readouterr().err


def test_undecodable_file_names_the_file_and_line(tmp_path, capsys):
    train = tmp_path / "reviews.pos"
    train.write_bytes("a fine film\nun film très réussi\n".encode("latin-1"))
    (tmp_path / "reviews.neg").write_text("a dull film\n")
    argv = ["--train-file", str(train), "--train-file", str(tmp_path / "reviews.neg")]
    status = kzoo_main(["train", "cnn_sentiment", *argv, "--output-dir", str(tmp_path / "run")])
    error = capsys.readouterr().err
    assert status == 2 and error.count("\n") == 1  # one line, no traceback
    assert re.search(r"reviews\.pos line 2 as utf-8.*--encoding latin-1", error)


def test_optimizer_and_monitor_settings_reach_the_training(tmp_path):
    argv = ["--epochs", "2", "--num-examples", "300", "--no-export", "--output-dir", str(tmp_path)]
    argv += ["--optimizer", "adadelta", "--learning-rate", "1.0", "--monitor", "val_accuracy"]
    argv += ["--early-stopping-patience", "3", "--set", "model_args.units=4"]
    # The LSTM classifier's own defaults are Adam and val_loss.
    assert kzoo_main(["train", "lstm_classifier", *argv]) == 0
    model = keras.models.load_model(tmp_path / "model.keras")
    assert type(model.optimizer).__name__ == "DenseAdadelta"
    # Checkpoints and early stopping pick the best epoch by the monitored metric.
    config = parse_settings(importlib.import_module("kzoo.recipes.lstm_classifier").SETTINGS, argv)
    callbacks = Run(config).callbacks(model, types.SimpleNamespace(valid=[]))
    picks = [c for c in callbacks if isinstance(c, (RunState, EarlyStopping))]
    assert [c.monitor for c in picks] == ["val_accuracy", "val_accuracy"]
    assert [c.mode for c in picks] == ["max", "max"]  # known before any metric is built
    # A metric the model does not have is an error, not a warning every epoch.
    config["monitor"] = "val_acc"
    with pytest.raises(ValueError, match=r"setting monitor. Expected one of \['val_loss', "):
        Run(config).callbacks(model, types.SimpleNamespace(valid=[]))


def test_learning_rate_schedule_and_window_offsets_reach_the_training(tmp_path):
    argv = ["--epochs", "2", "--no-export", "--output-dir", str(tmp_path)]
    argv += ["--lr-schedule", "cosine", "--warmup-steps", "3", "--random-offsets"]
    argv += ["--set", "model_args.units=8", "--sequence-length", "64"]
    assert kzoo_main(["train", "rnn_generator", *argv]) == 0
    config = parse_settings(importlib.import_module("kzoo.recipes.rnn_generator").SETTINGS, argv)
    data = Run(config).task.load(config["batch_size"])
    windows = (len(data.raw["train"]) - 1) // 64  # characters: one token each
    steps = (windows - 1) // config["batch_size"]  # random offsets leave one window fewer
    assert int(data.train.cardinality()) == steps
    # The saved optimizer's schedule spans both epochs: 3 warm-up steps, then the cosine.
    schedule = keras.models.load_model(tmp_path / "model.keras").optimizer.get_config()
    schedule = schedule["learning_rate"]
    assert schedule["class_name"] == "CosineDecay"
    assert schedule["config"]["warmup_steps"] == 3
    assert schedule["config"]["decay_steps"] == 2 * steps - 3
    assert schedule["config"]["warmup_target"] == pytest.approx(config["learning_rate"])


def test_steps_per_execution_divides_a_fixed_epoch(tmp_path):
    settings = importlib.import_module("kzoo.recipes.rnn_generator").SETTINGS
    argv = ["--output-dir", str(tmp_path), "--set", "model_args.units=8"]
    assert Run(parse_settings(settings, argv)).steps_per_execution() == 16  # kzoo's default
    # 4 steps per call would run 8 steps for a 6-step epoch: the runner takes gcd(4, 6) = 2.
    argv += ["--epochs", "1", "--steps-per-epoch", "6", "--steps-per-execution", "4", "--no-export"]
    assert Run(parse_settings(settings, argv)).steps_per_execution() == 2
    assert kzoo_main(["train", "rnn_generator", *argv]) == 0
    model = keras.models.load_model(tmp_path / "model.keras")
    assert int(model.optimizer.iterations) == 6


def test_every_epoch_takes_its_steps_when_the_data_is_shorter(tmp_path, recwarn):
    # The embedded text gives 16 training batches of 256 windows; 3 epochs of 6 steps need 18.
    # Keras alone goes on from where the last epoch stopped, and stops training with a warning
    # when the known 16 are used up: the third epoch would train 4 steps. The data repeats.
    argv = ["--set", "model_args.units=4", "--batch-size", "256", "--no-export", "--no-xla"]
    argv += ["--epochs", "3", "--steps-per-epoch", "6", "--output-dir", str(tmp_path)]
    assert kzoo_main(["train", "rnn_generator", *argv]) == 0
    model = keras.models.load_model(tmp_path / "model.keras")
    assert int(model.optimizer.iterations) == 18
    assert not [w for w in recwarn if "ran out of data" in str(w.message)]


def test_word2vec_classifier_pretraining_keeps_xla_when_the_classifier_has_none(
    tmp_path, monkeypatch
):
    settings = importlib.import_module("kzoo.recipes.word2vec_classifier").SETTINGS
    argv = ["--num-examples", "200", "--word2vec-epochs", "1", "--output-dir", str(tmp_path)]
    argv.append("--no-xla")
    run = Run(parse_settings(settings, argv))
    compiled, compile_model = [], Run.compile

    def recording_compile(self, model, *args, **kwargs):
        model = compile_model(self, model, *args, **kwargs)
        compiled.append(bool(model.jit_compile))
        return model

    monkeypatch.setattr(Run, "compile", recording_compile)
    data = run.load_data()
    run.build_model(data, embeddings=pretrain_word2vec(run, data))
    assert compiled == [True, False]  # the recipe's word2vec_xla=True; --no-xla


def test_resumed_run_keeps_its_best_epoch_for_early_stopping_and_checkpoints(tmp_path):
    settings = importlib.import_module("kzoo.recipes.lstm_classifier").SETTINGS
    argv = ["--output-dir", str(tmp_path), "--early-stopping-patience", "3"]
    argv += ["--set", "model_args.units=4"]
    run = Run(parse_settings(settings, argv))
    model = run.build_model(run.load_data())
    # Four epochs committed before the interruption: the best val_loss, 0.7, was epoch 1's.
    rows = [(0.9, 1.0), (0.7, 0.8), (0.8, 0.6), (0.75, 0.5)]
    history = [{"epoch": i, "val_loss": v, "loss": loss} for i, (v, loss) in enumerate(rows)]
    (tmp_path / "backup").mkdir()
    model.save(tmp_path / "backup" / "epoch-4.keras")
    state = {"completed": 4, "weights": "epoch-4.keras", "history": history}
    state |= {"best": 0.7, "best_epoch": 1, "monitor": "val_loss", "mode": "min"}
    (tmp_path / "backup" / "state.json").write_text(json.dumps(state))
    best_weights = [w + 1.0 for w in model.get_weights()]
    best = keras.models.clone_model(model)
    best.set_weights(best_weights)
    (tmp_path / "checkpoints").mkdir()
    best.save(tmp_path / "checkpoints" / "best.keras")

    callbacks = run.callbacks(model, types.SimpleNamespace(valid=[]))
    (run_state,) = [c for c in callbacks if isinstance(c, RunState)]
    (stopping,) = [c for c in callbacks if isinstance(c, EarlyStopping)]
    for callback in (run_state, stopping):
        callback.set_model(model)
        callback.on_train_begin()
    assert model._initial_epoch == 4  # fit starts at the fifth epoch
    assert (run_state.best, run_state.best_epoch) == (0.7, 1)
    assert (stopping.best, stopping.best_epoch, stopping.wait) == (pytest.approx(0.7), 1, 2)
    for restored, saved in zip(stopping.best_weights, best_weights):
        np.testing.assert_allclose(restored, saved)
    # The history file holds exactly the committed epochs.
    assert _history_epochs(tmp_path / "history.csv") == [0, 1, 2, 3]
    # A worse resumed epoch does not replace the best checkpoint.
    run_state.on_epoch_end(4, {"val_loss": 0.71, "loss": 0.4})
    reloaded = keras.models.load_model(tmp_path / "checkpoints" / "best.keras")
    np.testing.assert_allclose(reloaded.get_weights()[0], best_weights[0])
    # One more epoch without improvement is the third since epoch 1: training stops.
    stopping.on_epoch_end(4, {"val_loss": 0.71})
    assert model.stop_training
    # A new run (no backup/) starts afresh.
    run_state.on_train_end()
    callbacks = run.callbacks(model, types.SimpleNamespace(valid=[]))
    (run_state,) = [c for c in callbacks if isinstance(c, RunState)]
    (stopping,) = [c for c in callbacks if isinstance(c, EarlyStopping)]
    for callback in (run_state, stopping):
        callback.set_model(model)
        callback.on_train_begin()
    assert stopping.best is None and stopping.wait == 0 and run_state.completed == 0


def _history_epochs(path):
    with open(path) as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]
