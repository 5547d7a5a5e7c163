import os
import re
import subprocess
import sys

import pytest

import kzoo
import kzoo_cli
from kzoo_cli import main


def test_list_prints_every_model_with_its_description(capsys):
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == kzoo.list_models()
    assert all(len(line.split(maxsplit=1)) == 2 for line in lines)


def test_list_with_pattern_and_no_match(capsys):
    assert main(["list", "*cnn*"]) == 0
    assert capsys.readouterr().out.split()[0] == "cnn_sentiment"
    assert main(["list", "zzz*"]) == 1


def test_info_unknown_model_fails_with_a_clear_message(capsys):
    assert main(["info", "nope"]) == 2
    assert "Unknown model name" in capsys.readouterr().err


def test_console_entry_point_runs():
    # `python -m kzoo` is what the `kzoo` console script runs.
    result = subprocess.run(
        [sys.executable, "-m", "kzoo", "list", "gan"], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("gan ")


def _kzoo(*argv, env=None):
    """Runs the `kzoo` console script in a fresh process, as a user would."""
    script = os.path.join(os.path.dirname(sys.executable), "kzoo")
    command = [script] if os.path.exists(script) else [sys.executable, "-m", "kzoo_cli"]
    return subprocess.run(
        [*command, *argv],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize("argv", [["--help"], ["list"], ["train"], ["train", "--help"]])
def test_help_list_and_the_recipe_listing_do_not_import_tensorflow(argv):
    # These answer at once (no second spent importing TensorFlow, and none of its log lines).
    script = (
        "import sys, kzoo_cli\n"
        "try:\n"
        f"    kzoo_cli.main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'kzoo') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert "I0000" not in result.stderr and "E0000" not in result.stderr


def test_list_reads_the_registry_from_the_model_files():
    # What `kzoo list` reads without importing kzoo is what `import kzoo` registers.
    models = kzoo_cli.registered_models()
    assert sorted(models) == kzoo.list_models()
    assert models == {name: kzoo.get_model_entry(name).description for name in models}


def test_commands_that_need_tensorflow_keep_its_log_lines_quiet():
    quiet = _kzoo("info", "gan", env={"TF_CPP_MIN_LOG_LEVEL": ""})
    assert quiet.returncode == 0 and quiet.stdout.startswith("gan: ")
    assert not re.search(r"^[IWE]0000|oneDNN|cuInit|absl::InitializeLog", quiet.stderr, re.M)


def test_a_user_error_is_one_line_with_exit_status_2_and_a_traceback_with_debug(tmp_path):
    argv = ["train", "lstm_classifier", "--output-dir", str(tmp_path / "run")]
    argv += ["--set", "model_args.rnn=transformer"]
    result = _kzoo(*argv)
    assert result.returncode == 2
    assert result.stderr == (
        "kzoo train: error: Invalid value for argument rnn. Expected one of {'lstm', 'gru', "
        "'simple_rnn'}. Received: rnn=transformer\n"
    )
    # Checked before any data was read: the run folder was not even made.
    assert "[kzoo] data" not in result.stdout and not (tmp_path / "run").exists()
    for debug in (["--debug"], []):
        env = {} if debug else {"KZOO_DEBUG": "1"}
        result = _kzoo(*argv, *debug, env=env)
        assert result.returncode == 1 and "Traceback (most recent call last)" in result.stderr


@pytest.mark.parametrize(
    "setting, message",
    [
        (["--epochs", "0"], "Invalid value for setting epochs. Expected an integer >= 1. "),
        (["--epochs", "-1"], "Received: epochs=-1"),
        (["--batch-size", "0"], "Invalid value for setting batch_size. Expected an integer >= 1"),
        (["--learning-rate", "0"], "setting learning_rate. Expected a number > 0. "),
        (["--set", "model_args.units=-3"], "argument units. Expected a positive integer. "),
        (["--train-file", "/nonexistent/reviews.txt"], "Cannot read /nonexistent/reviews.txt"),
    ],
)
def test_bad_settings_fail_in_one_line_before_training(setting, message, tmp_path, capsys):
    run_dir, exports = tmp_path / "run", tmp_path / "exports"
    argv = ["train", "lstm_classifier", "--output-dir", str(run_dir), "--export-dir", str(exports)]
    assert main([*argv, *setting]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message in error
    # Nothing trained, nothing exported (--epochs 0 used to export an untrained model).
    assert not exports.exists() and not (run_dir / "model.keras").exists()


def test_ctrl_c_ends_with_one_line_saying_the_same_command_resumes(tmp_path, monkeypatch, capsys):
    import kzoo.recipes.lstm_classifier as recipe

    def interrupted(argv, prog=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(recipe, "main", interrupted)
    assert main(["train", "lstm_classifier", "--output-dir", str(tmp_path / "r")]) == 130
    error = capsys.readouterr().err.strip()
    assert error == (
        f"kzoo train: interrupted. The same command resumes from the last completed epoch "
        f"(saved in {tmp_path / 'r'})."
    )
