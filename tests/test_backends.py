"""kzoo on Keras' JAX and PyTorch backends (`kzoo.backends`), each in a subprocess, since Keras
picks its backend once per process: the model contract, `.keras` files that move between
backends with the same outputs, and one clear error from each part that needs TensorFlow.

A backend whose package is not installed is skipped: `pip install -e ".[jax]"` (the README's
test command installs it) and `".[torch]"` (see the README for PyTorch's CPU build).
"""

import importlib.util
import json
import os
import subprocess
import sys

import backend_worker  # tests/, beside this file
import numpy as np
import pytest

import kzoo

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(ROOT, "tests", "backend_worker.py")
OTHER_BACKENDS = [
    pytest.param(
        name,
        marks=pytest.mark.skipif(
            importlib.util.find_spec(package) is None, reason=f"{package} is not installed"
        ),
    )
    for name, package in (("jax", "jax"), ("torch", "torch"))
]


# The subprocesses' shared JAX compilation cache (`_shared_jax_compilation_cache`).
_JAX_CACHE = {}


@pytest.fixture(scope="module", autouse=True)
def _shared_jax_compilation_cache(tmp_path_factory):
    """One persistent compilation cache for this file's JAX processes. Keras on JAX compiles
    each eager op once per process (about 30 ms each, hundreds for every model), and these
    processes build and load the same tiny models again: a later one reads what an earlier one
    compiled (loading every tiny model: 23 s with a cold cache, 8 s warm)."""
    _JAX_CACHE["JAX_COMPILATION_CACHE_DIR"] = str(tmp_path_factory.mktemp("jax_cache"))
    # Tiny models' programs compile in milliseconds: JAX caches nothing under 1 s by default.
    _JAX_CACHE["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    yield
    _JAX_CACHE.clear()


def _run(backend, *arguments, timeout=900, env=None):
    environment = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    environment.update(_JAX_CACHE)
    # These runs check results, not speed, and spend most of their time compiling tiny
    # models: XLA's cheapest code generation takes the JAX contract from 280 s to 197 s here.
    flags = environment.get("XLA_FLAGS", "")
    environment["XLA_FLAGS"] = f"{flags} --xla_backend_optimization_level=0".strip()
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_the_model_contract_and_the_gan_tests_hold_on_the_backend(backend):
    # The GAN's own tests too (its train step is written per backend), and the optimizers'
    # (kzoo's Adadelta takes Keras' update for the dense gradients these backends give).
    tests = ["tests/test_model_contract.py", "tests/models/test_gan.py"]
    tests += ["tests/training/test_optimizers.py"]
    result = _run(backend, "-m", "pytest", *tests, "-q", "-p", "no:cacheprovider")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert " passed" in result.stdout and " failed" not in result.stdout


def _assert_same_outputs(folder, first, second):
    for name in kzoo.list_models():
        with np.load(os.path.join(folder, f"{name}.{first}.npz")) as a:
            with np.load(os.path.join(folder, f"{name}.{second}.npz")) as b:
                assert sorted(a.files) == sorted(b.files), name
                for key in a.files:
                    np.testing.assert_allclose(
                        a[key], b[key], atol=1e-4, rtol=1e-4, err_msg=f"{name} output {key}"
                    )


@pytest.fixture(scope="module")
def tensorflow_runs(tmp_path_factory):
    """Three tiny runs trained here (a classifier, saved as a preset, a GPT and an attention
    seq2seq) and what they give on TensorFlow (`backend_worker.use_runs`)."""
    from kzoo.recipes.gpt import TINY

    from kzoo_cli import main as kzoo_main

    folder = tmp_path_factory.mktemp("tensorflow_runs")
    train = ["--epochs", "1", "--no-xla", "--no-export"]
    classifier = ["--num-examples", "200", "--set", "model_args.filters=4"]
    classifier += ["--set", "model_args.embedding_dim=8", "--output-dir", str(folder / "cnn")]
    assert kzoo_main(["train", "cnn_sentiment", *train, *classifier]) == 0
    assert kzoo_main(["train", "gpt", *train, *TINY, "--output-dir", str(folder / "gpt")]) == 0
    translator = ["--num-examples", "300", "--max-decode-length", "12"]
    translator += ["--set", "model_args.latent_dim=8", "--set", "model_args.embedding_dim=8"]
    translator += ["--output-dir", str(folder / "translator")]
    assert kzoo_main(["train", "attention_seq2seq", *train, *translator]) == 0
    runs = {
        "classifier_preset": str(kzoo.save_preset(folder / "cnn", folder / "cnn_preset")),
        "language_model_run": str(folder / "gpt"),
        "texts": ["a gripping, lovely film", "not good at all", "words it never saw", ""],
        "translation_run": str(folder / "translator"),
        "sources": ["Sat, 19 May 2074", "3/4/1999"],
    }
    return runs, backend_worker.use_runs(runs)


@pytest.fixture(scope="module", params=OTHER_BACKENDS)
def crossed(request, tmp_path_factory, tensorflow_runs):
    """`(backend, folder)`: every model saved here and loaded there, saved there and loaded
    here, the TensorFlow-only features tried there, and the runs of `tensorflow_runs` used
    there (`backend_worker.run_all`)."""
    backend = request.param
    folder = tmp_path_factory.mktemp(f"crossed_{backend}")
    (folder / "from_tensorflow").mkdir()
    backend_worker.save_models(str(folder / "from_tensorflow"))
    with open(folder / "runs.json", "w", encoding="utf-8") as f:
        json.dump(tensorflow_runs[0], f)
    result = _run(backend, WORKER, "all", str(folder))
    assert result.returncode == 0, result.stderr[-4000:]
    backend_worker.load_models(str(folder / f"from_{backend}"))
    return backend, folder


def test_keras_files_move_between_tensorflow_and_another_backend_with_the_same_outputs(crossed):
    backend, folder = crossed
    _assert_same_outputs(str(folder / "from_tensorflow"), "tensorflow", backend)
    _assert_same_outputs(str(folder / f"from_{backend}"), backend, "tensorflow")


def test_runs_and_presets_saved_on_tensorflow_answer_the_same_on_another_backend(
    crossed, tensorflow_runs
):
    backend, folder = crossed
    with open(folder / f"runs.{backend}.json", encoding="utf-8") as f:
        there = json.load(f)
    here = tensorflow_runs[1]
    # A preset's classifier of raw strings, the empty text included (it reads as [UNK]).
    np.testing.assert_allclose(there["probabilities"], here["probabilities"], atol=1e-4)
    np.testing.assert_allclose(there["perplexity"], here["perplexity"], rtol=1e-4)
    # kzoo.generate on the run's GPT: greedy and beam search, an empty prompt included.
    assert there["greedy"] == here["greedy"]
    assert there["beam"] == here["beam"]
    # A translator's run: kzoo.generate, and the attention tool's picture of a sentence.
    assert there["translations"] == here["translations"]
    assert there["attention"]["target"] == here["attention"]["target"]
    weights = there["attention"]["weights"], here["attention"]["weights"]
    np.testing.assert_allclose(*weights, atol=1e-4)


def test_generators_and_translators_decode_the_same_on_another_backend(crossed):
    """kzoo's one decoding loop, eager off TensorFlow: the same weights give the same greedy and
    beam-search ids on both backends, for every family; a seeded draw repeats on each."""
    backend, folder = crossed
    here = backend_worker.decode_models(str(folder / "from_tensorflow"))
    with open(folder / "from_tensorflow" / f"decoded.{backend}.json", encoding="utf-8") as f:
        there = json.load(f)
    families = {"attention_seq2seq", "gpt", "rnn_generator", "seq2seq", "transformer_seq2seq"}
    assert set(here) == set(there) == families | {"seeded"}
    for name in families:
        for sampler in ("greedy", "beam"):
            assert there[name][sampler] == here[name][sampler], f"{name} {sampler} on {backend}"
    assert here["seeded"] and there["seeded"]


def test_what_needs_tensorflow_says_so_in_one_error(crossed):
    backend, folder = crossed
    with open(folder / "guards.json", encoding="utf-8") as f:
        errors = json.load(f)
    subjects = {"export": "Exporting a SavedModel", "serve": "kzoo serve"}
    for feature, subject in subjects.items():
        assert errors[feature] is not None, f"{feature} ran on {backend}"
        assert errors[feature].startswith(subject), errors[feature]
        assert "needs Keras' TensorFlow backend" in errors[feature]
        assert errors[feature].endswith(f"Received: KERAS_BACKEND={backend}")
    # From the command line: one line, no traceback.
    result = _run(backend, "-m", "kzoo_cli", "serve", "--model_base_path", str(folder))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr
    assert lines[-1].startswith("kzoo serve: kzoo serve (TF Serving's APIs on SavedModels) needs")
    assert f"Received: KERAS_BACKEND={backend}" in lines[-1]


@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_a_run_on_another_backend_resumes_after_a_kill_and_its_export_is_served(backend, tmp_path):
    """`kzoo train --backend`: the run flow on Keras' own trainer, killed at its first epoch's
    end and resumed by the same command (the backup, history and best checkpoint are Keras
    files), then exported by a TensorFlow process from the run's files; kzoo serve answers as
    the run's model does."""
    from kzoo.recipes.lstm_classifier import TINY

    from kzoo.serving import Client, ModelServer
    from kzoo.tasks.classification import predict_texts

    run_dir, exports = tmp_path / "run", tmp_path / "exports"
    options = [*TINY, "--epochs", "2", "--early-stopping-patience", "0"]
    options += ["--output-dir", str(run_dir), "--export-dir", str(exports)]
    fault_at = os.path.join(ROOT, "tests", "faults", "fault_at.py")
    killed = _run(backend, fault_at, "0", "epoch_end", "lstm_classifier", *options)
    assert killed.returncode == -9, killed.stderr[-3000:]
    command = ["-m", "kzoo_cli", "train", "lstm_classifier", "--backend", backend, *options]
    resumed = _run("tensorflow", *command)
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    assert f"strategy: keras.distribution on {backend}, 1 device" in resumed.stdout
    assert "resuming from the last completed epoch: 1 of 2 done" in resumed.stdout
    assert "trained 1 epoch(s) in this process" in resumed.stdout
    with open(run_dir / "history.csv", encoding="utf-8") as f:
        assert [line.split(",")[0] for line in f.read().split()[1:]] == ["0", "1"]
    assert not (run_dir / "backup").exists()
    assert (run_dir / "checkpoints" / "best.keras").exists()
    logs = [name for _, _, files in os.walk(run_dir / "logs") for name in files]
    assert any(name.startswith("events.out") for name in logs)
    with open(run_dir / "metrics.json", encoding="utf-8") as f:
        assert 0.0 <= json.load(f)["test"]["accuracy"] <= 1.0

    texts = ["a gripping, lovely film", "not good at all"]
    bundle = kzoo.runs.load_run(str(run_dir))[0]
    expected = predict_texts(
        bundle.model, bundle.vectorizers["text"], texts, bundle.max_length, verbose=0
    )
    server = ModelServer(
        str(exports / "lstm_classifier"), model_name="reviews", rest_port=0, grpc_port=None
    ).start()
    try:
        answer = Client(server.rest_url).predict("reviews", {"text": texts})
    finally:
        server.stop()
    np.testing.assert_allclose(answer["scores"], expected, atol=1e-5)


def test_an_unknown_backend_is_one_line_of_usage_error(capsys):
    from kzoo_cli import main as kzoo_main

    assert kzoo_main(["train", "lstm_classifier", "--backend", "mxnet"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [
        "kzoo train: error: Invalid value for option --backend. Expected one of "
        "('tensorflow', 'jax', 'torch'). Received: --backend=mxnet"
    ]


def test_the_backend_already_running_trains_in_this_process(tmp_path, capsys):
    """`--backend tensorflow` in a TensorFlow process: no child process, the run is here."""
    from kzoo.recipes.lstm_classifier import TINY

    from kzoo_cli import main as kzoo_main

    options = [*TINY, "--epochs", "1", "--no-export", "--output-dir", str(tmp_path / "run")]
    assert kzoo_main(["train", "lstm_classifier", "--backend", "tensorflow", *options]) == 0
    assert "strategy: default strategy, 1 replica" in capsys.readouterr().out
