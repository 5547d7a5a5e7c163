"""benchmarks/device/gpt_scale.py: its protocol matches kzoo's, and it runs end to end."""

import importlib.util
import math
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "benchmarks", "device", "gpt_scale.py")


def _script():
    spec = importlib.util.spec_from_file_location("gpt_scale", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_validation_windows_are_the_recipes_evaluation_windows():
    from kzoo.data.batching import language_model_dataset

    stream = np.arange(1, 24, dtype="int32")
    windows = _script().validation_windows(stream, 5)
    batches = list(language_model_dataset(stream, sequence_length=5, batch_size=100))
    inputs, targets = (np.asarray(part) for part in batches[0])
    np.testing.assert_array_equal(windows[:, :-1], inputs)
    np.testing.assert_array_equal(windows[:, 1:], targets)


def test_the_recipes_case_is_the_recipes_model():
    from recipes import gpt

    cases = {key: model_args for key, _, model_args in _script().CASES}
    assert cases["recipe"] == gpt.SETTINGS["model_args"]


def test_random_windows_are_consecutive_text():
    stream = np.arange(1, 50, dtype="int32")
    windows = _script().random_windows(stream, 8, 6, np.random.default_rng(0))
    assert windows.shape == (8, 7)
    np.testing.assert_array_equal(np.diff(windows, axis=1), 1)


def test_quick_run_learns_and_writes_its_results_file(tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("the quick brown fox jumps over the lazy dog.\n" * 400)
    command = [sys.executable, SCRIPT, "--train-file", str(text), "--quick", "--only", "recipe"]
    command += ["--precision", "float32", "--results-dir", str(tmp_path)]
    # The test environment has TensorFlow: the script is backend-agnostic Keras.
    environment = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    result = subprocess.run(
        command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    results = (tmp_path / "gpt_scale.md").read_text()
    assert "- versions: " in results and "on tensorflow" in results
    row = next(line for line in results.splitlines() if line.startswith("| the recipe's model"))
    best = float(row.split("|")[4])
    uniform = math.log(len(set(text.read_text())) + 1)
    assert best < uniform - 0.5  # 20 steps visibly learn
