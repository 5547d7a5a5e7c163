import json

import pytest

from kzoo.training.config import SETTINGS, check_bounds, check_settings, parse_settings

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


NUMERIC_KINDS = (int, float, "optional_int", "optional_float")


def test_every_numeric_setting_has_bounds_that_hold_its_default():
    for key, setting in SETTINGS.items():
        if setting.kind in NUMERIC_KINDS:
            assert setting.bounds, f"{key} has no bounds"
            check_bounds(key, setting.default, setting.bounds, setting.kind)  # raises if not


def _outside(bounds, kind):
    """A value just outside an interval's lower end (every kzoo interval has one)."""
    low = float(bounds[1:-1].split(",")[0])
    if kind in (int, "optional_int"):
        return int(low) - 1 if bounds[0] == "[" else int(low)
    return low - 0.5 if bounds[0] == "[" else low


@pytest.mark.parametrize("key", sorted(k for k, s in SETTINGS.items() if s.kind in NUMERIC_KINDS))
def test_a_number_outside_its_bounds_is_refused_before_any_data_is_read(key, capsys):
    setting = SETTINGS[key]
    value = _outside(setting.bounds, setting.kind)
    with pytest.raises(SystemExit):
        parse_settings(RECIPE, ["--set", f"{key}={value}"])
    assert f"Invalid value for setting {key}. Expected " in capsys.readouterr().err
    # A config built in Python is checked by the runner too.
    config = parse_settings(RECIPE, [])
    config[key] = value
    with pytest.raises(ValueError, match=rf"Invalid value for setting {key}\. Expected"):
        check_settings(config)


def test_bounds_are_worded_as_keras_words_its_checks():
    messages = []
    for args in (
        ("epochs", 0, "[1, inf)", int),
        ("valid_fraction", 1.0, "(0, 1)", float),
        ("seed", 2**32, "[0, 4294967296)", int),
        ("learning_rate", 0.0, "(0, inf)", float),
    ):
        with pytest.raises(ValueError) as error:
            check_bounds(*args)
        messages.append(str(error.value))
    assert messages == [
        "Invalid value for setting epochs. Expected an integer >= 1. Received: epochs=0",
        "Invalid value for setting valid_fraction. Expected a number in (0, 1). "
        "Received: valid_fraction=1.0",
        "Invalid value for setting seed. Expected an integer in [0, 4294967296). "
        "Received: seed=4294967296",
        "Invalid value for setting learning_rate. Expected a number > 0. "
        "Received: learning_rate=0.0",
    ]
