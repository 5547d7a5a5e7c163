import subprocess
import sys

import kzoo
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
