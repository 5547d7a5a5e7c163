"""The benchmark harness runs a benchmark end to end and writes its results file."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_recipes_benchmark_quick_writes_a_results_file(tmp_path):
    command = [
        sys.executable,
        "-m",
        "benchmarks",
        "recipes",
        "--quick",
        "--only",
        "cnn_sentiment",
        "--results-dir",
        str(tmp_path),
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    text = (tmp_path / "recipes.md").read_text()
    for fact in ("- machine:", "- versions:", "- command:", "- wall time:", "| cnn_sentiment |"):
        assert fact in text
    row = next(line for line in text.splitlines() if line.startswith("| cnn_sentiment"))
    accuracy, baseline = (float(cell) for cell in row.split("|")[3:5])
    assert accuracy > baseline + 0.2  # the quick run visibly learns
    assert "recipes.md" in (tmp_path / "README.md").read_text()
