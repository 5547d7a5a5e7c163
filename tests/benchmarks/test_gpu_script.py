"""benchmarks/device/gpu.py: its FLOP counts, and a quick run where TensorFlow cannot be
imported, as on the GPU machine's JAX-only image."""

import importlib.util
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "benchmarks", "device", "gpu.py")


def _script():
    sys.path.insert(0, os.path.dirname(SCRIPT))
    spec = importlib.util.spec_from_file_location("gpu_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_flops_per_example_follow_the_models_sizes():
    gpu = _script()
    gpt = dict(num_layers=1, hidden_dim=4, intermediate_dim=8)
    # per token: 2 x (4·16 + 2·4·8) + 4·context·4 + 2·4·vocabulary, with context 2, vocabulary 3
    assert gpu.gpt_flops(gpt, context=2, vocabulary=3) == 3 * (2 * (64 + 64) + 32 + 24) * 2
    lstm = dict(embedding_dim=2, units=3)
    assert gpu.lstm_flops(lstm, context=5, vocabulary=7) == 3 * (8 * 5 * 3 + 2 * 3 * 7) * 5
    kim = dict(embedding_dim=2, filters=3, kernel_sizes=(1, 2))
    assert gpu.kim_flops(kim, length=4) == 3 * (2 * 1 * 6 * 4 + 2 * 2 * 6 * 4 + 2 * 6 * 2)


def test_peaks_are_known_for_named_gpus_only():
    gpu = _script()
    assert gpu.peak_for("NVIDIA H100 80GB HBM3", "mixed_bfloat16") == 989.4e12
    assert gpu.peak_for("NVIDIA H100 80GB HBM3", "float32") == 494.7e12
    assert gpu.peak_for("cpu", "float32") is None


def test_the_recipes_sizes_are_the_scripts():
    from recipes import gpt, kim_cnn, rnn_generator

    gpu = _script()
    assert gpu.GPT == gpt.SETTINGS["model_args"]
    assert gpu.LSTM == rnn_generator.SETTINGS["model_args"]
    assert {**gpu.KIM, "kernel_sizes": list(gpu.KIM["kernel_sizes"])} == {
        "embedding_dim": 300,
        **kim_cnn.SETTINGS["model_args"],
    }


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs jax")
def test_a_quick_run_without_tensorflow_writes_its_results(tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("the quick brown fox jumps over the lazy dog.\n" * 300)
    for side, words in (("pos", "a fine and moving film"), ("neg", "a dull and empty film")):
        (tmp_path / f"rt-polarity.{side}").write_text(f"{words} .\n" * 60, encoding="latin-1")
    arguments = ["--text", str(text), "--mr-dir", str(tmp_path), "--quick"]
    arguments += ["--results-dir", str(tmp_path)]
    # TensorFlow made unimportable: the GPU image has none.
    code = (
        "import runpy, sys; sys.modules['tensorflow'] = None; "
        f"sys.argv = [{SCRIPT!r}, *{arguments!r}]; runpy.run_path({SCRIPT!r}, run_name='__main__')"
    )
    environment = {**os.environ, "KERAS_BACKEND": "jax"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    results = (tmp_path / "gpu.md").read_text()
    assert "on jax" in results
    rows = [line for line in results.splitlines() if line.startswith(("| GPT", "| char", "| Kim"))]
    assert [row.split(" | ")[1] for row in rows] == ["float32", "mixed_bfloat16"] * 3
    assert all(float(row.split(" | ")[3]) > 0 for row in rows)  # examples/s
