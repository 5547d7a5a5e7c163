"""The benchmark harness runs a benchmark end to end and writes its results file, and names the
machine it ran on."""

import os
import subprocess
import sys

from benchmarks import harness

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
    assert row.split("|")[-2].strip() == "yes"  # its preset saves and exports
    assert "recipes.md" in (tmp_path / "README.md").read_text()


def test_the_recipes_benchmark_runs_every_recipe_that_needs_no_download():
    # CI trains one recipe of each task kind end to end (tests/training/test_recipes.py); this
    # benchmark is where the others train, evaluate and export.
    from recipe_kinds import PRESET_RECIPES  # tests/

    from benchmarks import recipes
    from kzoo_cli import recipe_names

    assert sorted(recipes.QUICK) == sorted(set(recipe_names()) - set(PRESET_RECIPES))


def test_run_or_reuse_runs_once_then_reuses_the_recorded_timing(tmp_path):
    from benchmarks.harness import run_or_reuse

    run_dir, log = tmp_path / "run", str(tmp_path / "run.log")
    script = tmp_path / "recipe.py"
    # A stand-in recipe: counts its calls, fails on the first, finishes on the second.
    script.write_text(
        "import os, sys\n"
        f"run_dir = {str(run_dir)!r}\n"
        "os.makedirs(run_dir, exist_ok=True)\n"
        "calls = os.path.join(run_dir, 'calls')\n"
        "n = int(open(calls).read()) + 1 if os.path.exists(calls) else 1\n"
        "open(calls, 'w').write(str(n))\n"
        "if n == 1:\n"
        "    sys.exit(3)\n"
        "open(os.path.join(run_dir, 'metrics.json'), 'w').write('{}')\n"
    )
    code, _, _, reused = run_or_reuse(str(script), [], log, str(run_dir))
    assert (code, reused) == (3, False)
    # A failed run is run again; a finished one is reused with its recorded time and memory.
    code, wall, peak, reused = run_or_reuse(str(script), [], log, str(run_dir))
    assert (code, reused) == (0, False) and wall > 0 and peak > 0
    assert run_or_reuse(str(script), [], log, str(run_dir)) == (0, wall, peak, True)
    assert (run_dir / "calls").read_text() == "2"
    # A finished run without a recorded timing is reused with NaN time and memory.
    os.remove(log + ".timing.json")
    code, wall, peak, reused = run_or_reuse(str(script), [], log, str(run_dir))
    assert code == 0 and reused and wall != wall and peak != peak


def test_table_cells_keep_four_significant_digits_below_10_and_one_decimal_above():
    from benchmarks.harness import format_cell

    assert [format_cell(v) for v in (0.95114, 9.8, 5.0, 1.4990, 0.05, 12.34, 317349.14)] == [
        "0.9511",
        "9.8",
        "5",
        "1.499",
        "0.05",
        "12.3",
        "317349.1",
    ]
    assert format_cell("MR") == "MR" and format_cell(3) == "3"


def test_the_machine_line_names_the_cpu_model_and_its_widest_vector_instructions(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\n"
        "flags\t\t: fpu avx avx2 avx512f avx512_bf16 amx_bf16\n",
        encoding="utf-8",
    )
    assert harness.cpu_description(str(cpuinfo)) == ("Intel(R) Xeon(R) Platinum 8480+", "AVX-512")
    assert "Platinum 8480+, AVX-512), " in harness.machine(str(cpuinfo))
    cpuinfo.write_text("Features\t: fp asimd sve\n", encoding="utf-8")  # ARM: no model name
    assert harness.cpu_description(str(cpuinfo)) == ("", "SVE")
    assert harness.cpu_description(str(tmp_path / "missing")) == ("", "")


def test_turned_starts_each_round_one_place_further_and_keeps_every_item():
    items = ("kzoo", "jax", "torch")
    assert harness.turned(items, 0) == ["kzoo", "jax", "torch"]
    assert harness.turned(items, 1) == ["jax", "torch", "kzoo"]
    assert harness.turned(items, 2) == ["torch", "kzoo", "jax"]
    assert harness.turned(items, 3) == harness.turned(items, 0)
    assert [harness.turned(items, r)[0] for r in range(3)] == list(items)
