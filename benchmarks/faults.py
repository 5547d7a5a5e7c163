"""What a wrong setting, a bad data file, a killed run, a full disk or a hostile request costs.

Every case of the hardening issue is tried as a user meets it: a `kzoo` command in a fresh
process, killed with SIGKILL or SIGINT, or starved of disk (`RLIMIT_FSIZE`, through
`tests/faults/fault_at.py`), and a `kzoo serve` process sent hostile requests
(`tests/faults/hostile.py`). Each row gives what kzoo answered and what was lost, checked after
the fact: the history holds every planned epoch exactly once, the best checkpoint and the final
model load, no partial file is left, nothing was exported from a bad run, and the server still
answers a normal request; for the server, its resident memory against its idle memory.

Every recipe is killed after its first of two epochs (tiny settings: its `TINY` options);
`--quick` kills three of them.
"""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from benchmarks.harness import ROOT, Report

NAME = "faults"
TITLE = "Faults: what a bad input, a killed run, a full disk or a hostile request costs"
FAULT_AT = os.path.join(ROOT, "tests", "faults", "fault_at.py")
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
QUICK_RECIPES = ("lstm_classifier", "kim_cnn", "gan")
_LOAD = (
    "import keras, kzoo, sys; [keras.models.load_model(p, safe_mode=True) for p in sys.argv[1:]]"
)


def _run(command, **kwargs):
    started = time.time()
    result = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True, **kwargs)
    result.seconds = time.time() - started
    return result


def _kzoo(*argv):
    return _run([sys.executable, "-m", "kzoo_cli", *argv])


def _error_line(result):
    lines = [line for line in result.stderr.splitlines() if line.startswith("kzoo ")]
    return lines[-1] if lines else (result.stderr.strip().splitlines() or [""])[-1]


def _answer(result, width=150):
    line = _error_line(result).replace("|", "\\|")
    one_line = "Traceback" not in result.stderr
    shown = line if len(line) <= width else line[: width - 3] + "..."
    return f"`{shown}`" + ("" if one_line else " (with a traceback)")


def _history(run_dir):
    path = os.path.join(run_dir, "history.csv")
    if not os.path.exists(path):
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def _partial_files(folder):
    return [
        os.path.join(root, name)
        for root, _, names in os.walk(folder)
        for name in names
        if name.startswith((".partial-", ".staged-"))
    ]


def _loads(*paths):
    return _run([sys.executable, "-c", _LOAD, *paths]).returncode == 0


def _lost_after_resume(run_dir, epochs):
    """What a resumed run lost, or 'nothing', from its files."""
    problems = []
    if _history(run_dir) != list(range(epochs)):
        problems.append(f"history epochs {_history(run_dir)}, planned {list(range(epochs))}")
    if _partial_files(run_dir):
        problems.append(f"{len(_partial_files(run_dir))} partial files")
    checkpoints = os.path.join(run_dir, "checkpoints")
    kept = [os.path.join(checkpoints, f) for f in os.listdir(checkpoints) if f.endswith(".keras")]
    if not _loads(os.path.join(run_dir, "model.keras"), *kept):
        problems.append("a model file does not load")
    if not os.path.exists(os.path.join(run_dir, "metrics.json")):
        problems.append("no metrics.json")
    return "; ".join(problems) or "nothing"


def _recipe_options(name, work, epochs=2):
    import importlib

    from kzoo.testing import write_tiny_bert_preset, write_tiny_gpt2_preset

    options = list(importlib.import_module(f"kzoo.recipes.{name}").TINY)
    # The recipes that fine-tune a preset get a tiny local one (no network).
    if name == "pretrained_classifier":
        options += ["--preset", write_tiny_bert_preset(os.path.join(work, "tiny_bert"))]
    if name == "pretrained_generator":
        options += ["--preset", write_tiny_gpt2_preset(os.path.join(work, "tiny_gpt2"))]
    options += ["--epochs", str(epochs), "--early-stopping-patience", "0", "--no-xla"]
    return options + ["--no-export", "--output-dir", os.path.join(work, "run")]


# === The command line: bad settings and files ===


def _bad_input_cases(work):
    rows = []
    exports = os.path.join(work, "exports")
    unlabeled = os.path.join(work, "reviews.txt")
    lines = [f"{('neg', 'pos')[i % 2]} a {('dull', 'fine')[i % 2]} film {i}" for i in range(600)]
    lines[100:102] = ["if only it were shorter", "jonathan steals every scene"]
    with open(unlabeled, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    cases = [
        ("`kzoo train lstm_classifier --epochs 0`", ["--epochs", "0"]),
        ("`--batch-size 0`", ["--batch-size", "0"]),
        ("`--set model_args.units=-3`", ["--set", "model_args.units=-3"]),
        ("`--set model_args.rnn=transformer`", ["--set", "model_args.rnn=transformer"]),
        ("`--train-file` a missing file", ["--train-file", os.path.join(work, "missing.txt")]),
        ("`--train-file` a folder", ["--train-file", work]),
        ("2-class file with 2 lines missing their label", ["--train-file", unlabeled]),
    ]
    for case, argv in cases:
        run_dir = os.path.join(work, "bad_input_run")
        result = _kzoo(
            "train", "lstm_classifier", *argv, "--output-dir", run_dir, "--export-dir", exports
        )
        lost = "nothing (nothing trained, nothing exported)"
        if os.path.exists(exports) or os.path.exists(os.path.join(run_dir, "model.keras")):
            lost = "a model was trained or exported"
        rows.append([case, _answer(result), result.returncode, f"{result.seconds:.1f}", lost])
        shutil.rmtree(run_dir, ignore_errors=True)
    result = _kzoo(
        "export", os.path.join(work, "run"), "--name", "../../x", "--export-dir", exports
    )
    escaped = os.path.exists(os.path.join(work, "..", "x"))
    rows.append(
        [
            "`kzoo export --name ../../x`",
            _answer(result),
            result.returncode,
            f"{result.seconds:.1f}",
            "a folder outside the exports" if escaped else "nothing",
        ]
    )
    return rows


# === Killed runs ===


def _kill_and_resume(name, work, moment="epoch_end", epoch=0, epochs=2, extra=()):
    run_dir = os.path.join(work, "run")
    shutil.rmtree(run_dir, ignore_errors=True)
    options = [*_recipe_options(name, work, epochs), *extra]
    killed = _run([sys.executable, FAULT_AT, str(epoch), moment, name, *options])
    committed = _history(run_dir)
    resumed = _kzoo("train", name, *options)
    if resumed.returncode != 0:
        return killed, committed, resumed, f"the rerun failed: {_error_line(resumed)}"
    return killed, committed, resumed, _lost_after_resume(run_dir, epochs)


def _resume_cases(work, recipes):
    rows = []
    for name in recipes:
        killed, committed, resumed, lost = _kill_and_resume(name, work)
        how = "SIGKILL" if killed.returncode == -signal.SIGKILL else f"exit {killed.returncode}"
        answer = f"{how} after epoch 1 of 2 ({len(committed)} in history); the same command resumed"
        rows.append(
            [
                f"`{name}` killed after an epoch",
                answer,
                resumed.returncode,
                f"{resumed.seconds:.1f}",
                lost,
            ]
        )
    for moment, epoch, what in (
        ("staged", 1, "between epoch 2's best checkpoint and its commit"),
        ("committed", 1, "between epoch 2's commit and its history row"),
    ):
        extra = ["--set", "model_args.units=4", "--learning-rate", "0.01"]
        killed, _, resumed, lost = _kill_and_resume(
            "lstm_classifier", work, moment, epoch, epochs=3, extra=extra
        )
        rows.append(
            [
                f"`lstm_classifier` killed {what}",
                "SIGKILL; the same command resumed",
                resumed.returncode,
                f"{resumed.seconds:.1f}",
                lost,
            ]
        )
    return rows


def _ctrl_c_case(work):
    run_dir = os.path.join(work, "run")
    shutil.rmtree(run_dir, ignore_errors=True)
    # Far more epochs than the signal needs: a busy machine may wake this loop late.
    options = _recipe_options("lstm_classifier", work, epochs=400)
    process = subprocess.Popen(
        [sys.executable, "-m", "kzoo_cli", "train", "lstm_classifier", *options],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As a foreground command in a terminal: a background job starts with SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    state = os.path.join(run_dir, "backup", "state.json")
    while not os.path.exists(state) and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate()
    interrupted = subprocess.CompletedProcess(process.args, process.returncode, "", err)
    if not os.path.exists(state):  # it ended before the signal: nothing was tried
        return [
            "Ctrl-C during `kzoo train`",
            _answer(interrupted),
            process.returncode,
            "",
            "not tried: the run ended first",
        ]
    with open(state, encoding="utf-8") as f:
        completed = json.load(f)["completed"]
    lost = "nothing" if _history(run_dir) == list(range(completed)) else "history incomplete"
    return [
        "Ctrl-C during `kzoo train` (after a committed epoch)",
        _answer(interrupted),
        process.returncode,
        "",
        lost,
    ]


def _disk_full_case(work):
    run_dir = os.path.join(work, "run")
    shutil.rmtree(run_dir, ignore_errors=True)
    options = _recipe_options("lstm_classifier", work, epochs=3)
    options[options.index("--num-examples") + 1] = "400"
    full = _run([sys.executable, FAULT_AT, "0", "disk_full", "lstm_classifier", *options])
    partial = _partial_files(run_dir)
    resumed = _kzoo("train", "lstm_classifier", *options)
    lost = _lost_after_resume(run_dir, 3) if resumed.returncode == 0 else "the rerun failed"
    if partial:
        lost = f"{len(partial)} partial files; {lost}"
    return [
        "disk full after epoch 1 of 3 (files of at most 64 KiB)",
        _answer(full),
        full.returncode,
        "",
        f"{lost} (the rerun resumed: {resumed.returncode == 0})",
    ]


def _changed_settings_case(work):
    run_dir = os.path.join(work, "run")
    shutil.rmtree(run_dir, ignore_errors=True)
    options = _recipe_options("lstm_classifier", work, epochs=3)
    _run([sys.executable, FAULT_AT, "0", "epoch_end", "lstm_classifier", *options])
    before = _history(run_dir)
    result = _kzoo("train", "lstm_classifier", *options, "--learning-rate", "0.5")
    lost = (
        "nothing (the interrupted run is untouched)"
        if _history(run_dir) == before
        else ("the interrupted run was changed")
    )
    return [
        "rerun with other settings over an interrupted run",
        _answer(result),
        result.returncode,
        f"{result.seconds:.1f}",
        lost,
    ]


# === The server ===


def _server_cases(work):
    """Rows of the hostile requests, and a note on the server's memory."""
    from tests.faults import hostile

    base = hostile.make_fault_models(os.path.join(work, "served"))
    rows, mib = [], 2**20
    with hostile.ServerProcess(base, "--request-timeout", "1") as server:
        for model, inputs in (
            ("reviews", {"text": ["a good film"]}),
            ("writer", {"prompt": ["he"]}),
        ):
            hostile.normal_request(server, model, inputs)
        idle = server.memory()
        cases = [
            ("two million REST instances (55 MB body)", hostile.huge_instance_count, ("reviews",)),
            (
                "40-byte gRPC request declaring 1,000,000 ids",
                hostile.grpc_shape_bomb,
                ("reviews", "token_ids", "token_ids"),
            ),
            ("`max_new_tokens=100000000`", hostile.huge_max_new_tokens, ("writer",)),
            (
                "a GAN's `num_images=2147483647` (6 TB of images)",
                hostile.huge_num_images,
                ("painter",),
            ),
            (
                "token id = vocabulary size",
                hostile.token_ids_request,
                ("reviews", "token_ids", [[2, 12]], "token id 12"),
            ),
            (
                "negative token id",
                hostile.token_ids_request,
                ("reviews", "token_ids", [[2, -1]], "token id -1"),
            ),
            (
                "float token ids",
                hostile.token_ids_request,
                ("reviews", "token_ids", [[2.5, 1.0]], "float ids"),
            ),
            ("request past the 1 s deadline", hostile.past_the_deadline, ()),
            ("REST client that disconnects", hostile.disconnecting_client, ()),
            ("gRPC call cancelled by its client", hostile.cancelled_grpc_call, ()),
        ]
        peak = idle.peak_bytes
        for case, send, arguments in cases:
            outcome = send(server, *arguments)
            still = hostile.normal_request(server, "reviews", {"text": ["still there?"]})
            peak = max(peak, outcome.peak_bytes)
            status = outcome.http_status or outcome.code
            message = outcome.message or outcome.code
            if outcome.stopped is not None:
                message += "; computation " + ("stopped" if outcome.stopped else "still running")
            kept = (outcome.rss_bytes - idle.rss_bytes) / mib
            lost = "nothing" if still.code == "OK" else "the server stopped answering"
            rows.append(
                [
                    case,
                    f"`{message[:150]}`".replace("|", "\\|"),
                    status,
                    f"{outcome.seconds:.1f}",
                    f"{lost} (RSS {kept:+.0f} MiB after it)",
                ]
            )
        final = server.memory()
    note = (
        f"Server memory: idle RSS {idle.rss_bytes / mib:.0f} MiB; after all the hostile requests "
        f"{final.rss_bytes / mib:.0f} MiB; peak (VmHWM) {peak / mib:.0f} MiB, "
        f"{(peak - idle.rss_bytes) / mib:.0f} MiB above idle. Before these limits, two million "
        "instances took it from 1 GB to 10 GB and a 40-byte gRPC request added 2.9 GB, both kept."
    )
    return rows, [note]


def run(args):
    from kzoo_cli import recipe_names

    work = tempfile.mkdtemp(prefix="kzoo_faults_")
    recipes = QUICK_RECIPES if args.quick else recipe_names()
    try:
        rows = _bad_input_cases(work)
        rows += _resume_cases(work, recipes)
        rows += [_ctrl_c_case(work), _disk_full_case(work), _changed_settings_case(work)]
        server_rows, server_notes = _server_cases(work)
        rows += server_rows
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lost = [row for row in rows if not str(row[-1]).startswith("nothing")]
    notes = [
        "Status: the exit status of the `kzoo` command (2 a usage error, 1 another failure, "
        "130 Ctrl-C; after a kill, the rerun's), or the server's HTTP status / gRPC code. "
        "Seconds: how long the command took to answer (context only: the machine's load varies).",
        f"Cases where something was lost: {len(lost)} of {len(rows)}."
        + "".join(f"\n- {row[0]}: {row[-1]}" for row in lost),
        *server_notes,
    ]
    return Report(
        columns=["case", "what kzoo answered", "status", "seconds", "lost"],
        rows=rows,
        notes=notes,
        settings={"recipes killed": ", ".join(recipes), "tiny settings": "each recipe's TINY"},
    )
