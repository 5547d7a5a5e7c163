"""Shared benchmark plumbing: the machine, library versions, tables and results files.

Each benchmark module defines `NAME`, a one-line `TITLE`, `add_arguments(parser)` (optional)
and `run(args) -> Report`; `python -m benchmarks <name>` prints the report's table and writes
`benchmarks/results/<name>.md` with everything needed to reproduce it.
"""

import dataclasses
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import time

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass
class Report:
    """What a benchmark measured.

    Attributes:
        columns: table header.
        rows: table rows (lists of cells, numbers formatted by `format_cell`).
        notes: markdown paragraphs after the table (protocol, targets, gaps, samples).
        settings: key facts of the protocol (data split, seed, epochs...).
    """

    columns: list
    rows: list
    notes: list = dataclasses.field(default_factory=list)
    settings: dict = dataclasses.field(default_factory=dict)


def machine(cpuinfo="/proc/cpuinfo"):
    """Cores, CPU, memory and GPU of this machine, as one line.

    The CPU's model and widest vector instructions are named because figures from different
    sessions' machines are compared, and those machines differ (AVX-512 on some, AVX2 only on
    others).
    """
    import psutil

    memory = psutil.virtual_memory().total / 2**30
    cpu = ", ".join(part for part in (platform.machine(), *cpu_description(cpuinfo)) if part)
    try:
        gpus = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        gpus = ""
    return f"{os.cpu_count()} CPU cores ({cpu}), {memory:.0f} GiB memory, GPU: {gpus or 'none'}"


def versions():
    import keras
    import keras_hub
    import tensorflow as tf

    return (
        f"Python {platform.python_version()}, TensorFlow {tf.__version__}, "
        f"Keras {keras.__version__}, keras-hub {keras_hub.__version__}"
    )


# Vector instruction sets, widest first, as /proc/cpuinfo names them and as people write them.
VECTOR_FLAGS = (
    ("avx512f", "AVX-512"),
    ("avx2", "AVX2"),
    ("avx", "AVX"),
    ("sve", "SVE"),
    ("asimd", "NEON"),
)


def cpu_description(cpuinfo="/proc/cpuinfo"):
    """The CPU's model and its widest vector instruction set, e.g. `("AMD EPYC", "AVX2")`.

    Either part is `""` when /proc/cpuinfo does not say.

    Example:

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
    ...     _ = f.write("model name\\t: AMD EPYC\\nflags\\t: fpu avx avx2 fma\\n")
    >>> cpu_description(f.name)
    ('AMD EPYC', 'AVX2')
    """
    from kzoo.distribute.cpu import read_cpuinfo

    model, flags = read_cpuinfo(cpuinfo)
    vector = next((name for flag, name in VECTOR_FLAGS if flag in flags), "")
    return model, vector


def format_cell(value):
    """A table cell: floats with four significant digits below 10 (no trailing zeros), one
    decimal above.

    Example:

    >>> [format_cell(v) for v in (0.95114, 9.8, 1.5, 317349.14, "MR", 3)]
    ['0.9511', '9.8', '1.5', '317349.1', 'MR', '3']
    """
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def table(columns, rows):
    """A markdown table."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join(" --- " for _ in columns) + "|"]
    lines += ["| " + " | ".join(format_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_results(
    name, title, report, command, wall_time, results_dir=RESULTS_DIR, versions_line=None
):
    """Writes `<results_dir>/<name>.md` (default `benchmarks/results/`) and returns its path.

    `versions_line` replaces `versions()` for a run on another backend than TensorFlow's.
    """
    os.makedirs(results_dir, exist_ok=True)
    settings = "\n".join(f"- {key}: {value}" for key, value in report.settings.items())
    text = "\n\n".join(
        part
        for part in [
            f"# {title}",
            f"- date: {datetime.date.today().isoformat()}\n- machine: {machine()}\n"
            f"- versions: {versions_line or versions()}\n- command: `{command}`\n"
            f"- wall time: {wall_time:.0f} s" + (f"\n{settings}" if settings else ""),
            table(report.columns, report.rows),
            *report.notes,
        ]
        if part
    )
    path = os.path.join(results_dir, f"{name}.md")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    write_summary(results_dir)
    return path


def write_summary(results_dir=RESULTS_DIR):
    """Rewrites `<results_dir>/README.md`: each results file's title, link and table."""
    lines = [
        "# kzoo benchmark results",
        "",
        "Written by `python -m benchmarks <name>`; each file gives the machine, versions, command",
        "and protocol of its figures. Regenerated after every benchmark run.",
        "",
    ]
    for filename in sorted(os.listdir(results_dir)):
        if not filename.endswith(".md") or filename == "README.md":
            continue
        with open(os.path.join(results_dir, filename), encoding="utf-8") as f:
            content = f.read().splitlines()
        title = content[0].lstrip("# ") if content else filename
        lines += [f"## [{title}]({filename})", ""]
        lines += _first_table(content) + [""]
    with open(os.path.join(results_dir, "README.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


def _first_table(lines):
    """The lines of the first markdown table in `lines` (a file's main table)."""
    start = next((i for i, line in enumerate(lines) if line.startswith("|")), len(lines))
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return lines[start:end]


def run_benchmark(module, args, argv):
    started = time.time()
    report = module.run(args)
    wall_time = time.time() - started
    command = "python -m benchmarks " + " ".join(argv)
    print(table(report.columns, report.rows))
    for note in report.notes:
        print("\n" + note)
    path = write_results(module.NAME, module.TITLE, report, command, wall_time, args.results_dir)
    print(f"\nwrote {os.path.relpath(path, ROOT)} ({wall_time:.0f} s)")


def run_script(script, arguments, log_path, timeout=None, env=None):
    """Runs `python SCRIPT ARGUMENTS` with output in `log_path` (and `env`'s variables set).

    Returns (return code, wall seconds, peak resident memory in MiB of that process). After
    `timeout` seconds the script is interrupted (SIGINT, so it still records its memory) and the
    return code is `"timeout"`.
    """
    rss_file = log_path + ".rss"
    command = [sys.executable, "-m", "benchmarks.peak_rss", rss_file, script, *arguments]
    started = time.time()
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})},
        )
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            code = "timeout"
    wall = time.time() - started
    try:
        with open(rss_file) as f:
            peak = float(f.read())
    except (OSError, ValueError):
        peak = float("nan")
    with open(log_path + ".timing.json", "w", encoding="utf-8") as f:
        json.dump({"code": code, "wall_s": wall, "peak_rss_mib": peak}, f)
    return code, wall, peak


def finished_run(log_path):
    """`(code, wall seconds, peak MiB)` that `run_script` recorded for `log_path`, or None."""
    try:
        with open(log_path + ".timing.json", encoding="utf-8") as f:
            timing = json.load(f)
    except (OSError, ValueError):
        return None
    return timing["code"], timing["wall_s"], timing["peak_rss_mib"]


def recorded(value):
    """A table cell for a recorded time or memory figure: rounded, or blank where none was
    recorded (NaN: a reused run without timing)."""
    return "" if value != value else round(value)


def reused_note(base, names):
    """The report's note on runs that `run_or_reuse` reused from `base` (their wall time and
    memory are those recorded when they ran, not this call's)."""
    return (
        f"{len(names)} run(s) reused from {base} (finished in an earlier call; their time and "
        f"memory are those recorded then): {', '.join(names)}."
    )


def run_or_reuse(script, arguments, log_path, run_dir, timeout=None):
    """`run_script`, unless `run_dir` already holds a finished run (its `metrics.json`).

    Returns `(code, wall seconds, peak MiB, reused)`. A reused run reports the time and memory
    `run_script` recorded for it (NaN where none was recorded); a run that was interrupted or
    failed earlier is run again (recipes resume from their last completed epoch).
    """
    if os.path.exists(os.path.join(run_dir, "metrics.json")):
        earlier = finished_run(log_path)
        if earlier is None:
            return 0, float("nan"), float("nan"), True
        if earlier[0] == 0:
            return (*earlier, True)
    return (*run_script(script, arguments, log_path, timeout=timeout), False)


def turned(items, round_):
    """`items` turned by `round_` places, so that in interleaved rounds none always runs first.

    Example: `turned(["a", "b", "c"], 1)` is `["b", "c", "a"]`.
    """
    shift = round_ % len(items)
    return list(items[shift:]) + list(items[:shift])


# A 1-minute load average above this at a benchmark's start is flagged in its results.
BUSY_LOAD = 0.5


def run_notes(load_start, load_end, missing=(), failures=()):
    """The notes of a benchmark that times runs in processes: the machine's load at start and
    end (a busy start flagged), the tools `missing` here, and the `failures` (their logs)."""
    busy = load_start[0] > BUSY_LOAD
    notes = [
        f"Load average (1, 5, 15 min) at start {', '.join(f'{x:.2f}' for x in load_start)}, "
        f"at end {', '.join(f'{x:.2f}' for x in load_end)}"
        + (": **the machine was busy at the start; the figures are unsettled.**" if busy else ".")
    ]
    if missing:
        notes.append(f"Not installed here, so not timed: {', '.join(missing)}.")
    if failures:
        notes.append("Failed runs (logs kept): " + "; ".join(failures))
    return notes
