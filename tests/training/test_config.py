import json

import pytest

from kzoo.training.config import parse_settings

RECIPE = {
    "recipe": "demo",
    "model": "lstm_classifier",
    "task": "classification",
    "epochs": 3,
    "batch_size": 16,
    "model_args": {"units": 16, "rnn": "gru"},
}


def _error(capsys, argv, settings=RECIPE):
    with pytest.raises(SystemExit) as exit_info:
        parse_settings(settings, argv, prog="demo")
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_recipe_values_override_kzoo_defaults():
    config = parse_settings(RECIPE, [])
    assert config["epochs"] == 3 and config["batch_size"] == 16
    assert config["learning_rate"] == 1e-3  # kzoo default
    assert config["model_args"] == {"units": 16, "rnn": "gru"}
    assert config["output_dir"] == "runs/demo"


def test_command_line_beats_config_file_beats_recipe(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"epochs": 7, "batch_size": 8, "model_args": {"units": 4}}))
    config = parse_settings(RECIPE, ["--config", str(path), "--epochs", "9"])
    assert config["epochs"] == 9  # command line
    assert config["batch_size"] == 8  # config file
    assert config["model_args"] == {"units": 4, "rnn": "gru"}  # file over recipe, merged


def test_yaml_config_and_set_overrides(tmp_path):
    path = tmp_path / "settings.yaml"
    path.write_text("epochs: 2\nxla: false\n")
    config = parse_settings(
        RECIPE, ["--config", str(path), "--set", "model_args.units=8", "--set", "clipnorm=none"]
    )
    assert (config["epochs"], config["xla"], config["clipnorm"]) == (2, False, None)
    assert config["model_args"]["units"] == 8


def test_a_saved_run_config_reruns_the_same_settings(tmp_path):
    config = parse_settings(RECIPE, ["--epochs", "4", "--no-xla", "--set", "model_args.units=5"])
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    assert parse_settings(RECIPE, ["--config", str(path)]) == config


def test_repeated_files_and_flags():
    config = parse_settings(RECIPE, ["--train-file", "a.pos", "--train-file", "a.neg", "--no-xla"])
    assert config["train_file"] == ["a.pos", "a.neg"] and config["xla"] is False


def test_unknown_setting_names_the_key(capsys):
    assert "Unknown setting epochz in --set" in _error(capsys, ["--set", "epochz=3"])


def test_unknown_model_argument_names_it_and_lists_the_real_ones(capsys):
    err = _error(capsys, ["--set", "model_args.unitz=3"])
    assert "Unknown setting model_args.unitz in --set. lstm_classifier takes:" in err
    assert "units" in err


def test_wrong_types_name_the_key(capsys):
    assert "Invalid value for setting epochs. Expected an integer. Received: epochs='x'" in _error(
        capsys, ["--epochs", "x"]
    )
    assert "Invalid value for setting xla. Expected true or false. Received: xla=maybe" in _error(
        capsys, ["--set", "xla=maybe"]
    )
    assert "model_args.units. Expected an integer" in _error(
        capsys, ["--set", "model_args.units=2.5"]
    )


def test_task_specific_settings_belong_to_their_task(capsys):
    assert "unrecognized arguments: --sequence-length" in _error(capsys, ["--sequence-length", "5"])
    lm = {**RECIPE, "task": "language_model", "model": "gpt", "model_args": {}}
    assert parse_settings(lm, ["--sequence-length", "5"])["sequence_length"] == 5


def test_config_file_errors(capsys, tmp_path):
    assert "The file does not exist" in _error(capsys, ["--config", str(tmp_path / "none.json")])
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"recipe": "gpt"}))
    assert "is for recipe gpt, not demo" in _error(capsys, ["--config", str(other)])
    bad = tmp_path / "bad.json"
    bad.write_text("{epochs: 3")
    assert "Cannot read config file" in _error(capsys, ["--config", str(bad)])


def test_choices_are_checked(capsys):
    assert "invalid choice: 'gpu'" in _error(capsys, ["--strategy", "gpu"])
    assert "Invalid value for setting strategy" in _error(capsys, ["--set", "strategy=gpu"])


def test_labels_and_on_bad_lines_are_classification_settings(capsys):
    config = parse_settings(RECIPE, ["--labels", "neg,pos", "--labels", "mixed"])
    assert config["labels"] == ["neg", "pos", "mixed"]  # commas split, flags repeat
    assert parse_settings(RECIPE, ["--set", "labels=neg,pos"])["labels"] == ["neg", "pos"]
    assert parse_settings(RECIPE, [])["on_bad_lines"] == "error"
    assert parse_settings(RECIPE, ["--on-bad-lines", "skip"])["on_bad_lines"] == "skip"
    assert "invalid choice: 'ignore'" in _error(capsys, ["--on-bad-lines", "ignore"])
    lm = {**RECIPE, "task": "language_model", "model": "gpt", "model_args": {}}
    assert "unrecognized arguments: --labels" in _error(capsys, ["--labels", "a,b"], lm)
