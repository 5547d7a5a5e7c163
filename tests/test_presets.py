"""kzoo presets: a finished run saved in keras-hub's layout loads back ready to use, the same
model as the run's, from a folder (hub handles fail at once offline); kzoo export, generate and
serve take a preset."""

import json
import os
import shutil
import socket

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

# keras-hub's check of a preset folder before an upload (not exported).
from keras_hub.src.utils.preset_utils import _validate_backbone

import kzoo
from kzoo.runs import load_run
from kzoo.tasks import get_task
from kzoo.tasks.classification import RawTextClassifier
from kzoo_cli import main as kzoo_main

TRAIN = ["--epochs", "1", "--no-xla", "--no-export"]


@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("cnn") / "run"
    options = ["--num-examples", "200", "--set", "model_args.filters=4", "--set"]
    options += ["model_args.embedding_dim=8", "--output-dir", str(run)]
    assert kzoo_main(["train", "cnn_sentiment", *TRAIN, *options]) == 0
    return run


@pytest.fixture(scope="module")
def gpt_run(tmp_path_factory):
    from kzoo.recipes.gpt import TINY

    run = tmp_path_factory.mktemp("gpt") / "run"
    assert kzoo_main(["train", "gpt", *TRAIN, *TINY, "--output-dir", str(run)]) == 0
    return run


def test_a_classifier_preset_in_keras_hubs_layout(classifier_run, tmp_path):
    preset = kzoo.save_preset(classifier_run, tmp_path / "preset")
    assert sorted(os.listdir(preset)) == [
        "assets",
        "config.json",
        "metadata.json",
        "model.weights.h5",
    ]
    assert sorted(os.listdir(tmp_path / "preset" / "assets")) == [
        "class_names.txt",
        "vectorizers.json",
        "vocabulary.txt",
    ]
    _validate_backbone(str(preset))  # what keras-hub's upload_preset checks first
    config = json.loads((tmp_path / "preset" / "config.json").read_text())
    settings = json.loads((classifier_run / "config.json").read_text())
    assert config["kzoo"]["model"] == "cnn_sentiment"
    assert config["kzoo"]["task"] == "classification"
    assert config["kzoo"]["settings"] == settings
    assert config["class_name"] == "Functional" and config["compile_config"]["loss"]
    metadata = json.loads((tmp_path / "preset" / "metadata.json").read_text())
    assert metadata["kzoo_version"] == kzoo.__version__
    assert metadata["keras_version"] == keras.__version__
    assert metadata["keras_hub_version"] == keras_hub.__version__
    assert metadata["metrics"] == json.loads((classifier_run / "metrics.json").read_text())
    assert metadata["data"]["dataset"] == "embedded:sentiment"
    assert metadata["data"]["summary"][:3] == [
        "train: 162 examples",
        "valid: 18 examples",
        "test: 20 examples",
    ]
    model = keras.models.load_model(classifier_run / "model.keras")
    assert metadata["parameter_count"] == model.count_params()


def test_from_preset_is_a_classifier_of_raw_strings_with_the_runs_outputs(classifier_run, tmp_path):
    preset = kzoo.save_preset(classifier_run, tmp_path / "preset")
    model = kzoo.from_preset(preset)
    assert isinstance(model, RawTextClassifier)
    assert model.class_names == ["negative", "positive"]
    texts = ["a gripping, lovely film", "not good at all", "words it never saw", ""]
    probabilities = model.predict(texts, verbose=0)
    assert probabilities.shape == (4, 2)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-6)
    # The training pipeline's own answer: vectorize in Python, then the run's model.
    bundle, _ = load_run(classifier_run)
    expected = get_task("classification").reference_outputs(
        bundle, {"text": np.array(texts, dtype=object)}, None
    )
    np.testing.assert_allclose(probabilities, expected["scores"], atol=1e-6)
    # Weights equal to the run's, and fine-tuning needs no compile() of one's own.
    loaded = model.classifier
    for saved, run_weight in zip(loaded.weights, bundle.model.weights):
        np.testing.assert_array_equal(saved.numpy(), run_weight.numpy())
    assert loaded.loss is not None and loaded.optimizer is not None
    # The ready model saves and reloads as any Keras model.
    model.save(tmp_path / "ready.keras")
    reloaded = keras.models.load_model(tmp_path / "ready.keras")
    np.testing.assert_allclose(reloaded.predict(texts, verbose=0), probabilities, atol=1e-6)


def test_a_generator_preset_generates_what_the_run_does(gpt_run, tmp_path):
    preset = str(kzoo.save_preset(gpt_run, tmp_path / "preset"))
    expected = kzoo.generate(str(gpt_run), ["The ", "It is"], max_new_tokens=8)
    assert kzoo.generate(preset, ["The ", "It is"], max_new_tokens=8) == expected
    ready = kzoo.from_preset(preset)  # a ServingBundle: the model with its vocabulary
    assert kzoo.generate(ready, ["The ", "It is"], max_new_tokens=8) == expected
    sampled = kzoo.generate(ready, "The ", 8, sampler="top_k", k=3, seed=4)
    assert sampled == kzoo.generate(str(gpt_run), "The ", 8, sampler="top_k", k=3, seed=4)
    assert np.isclose(
        kzoo.perplexity(ready, ["The quick brown fox."]),
        kzoo.perplexity(str(gpt_run), ["The quick brown fox."]),
    )


def test_kzoo_preset_save_and_export_from_the_command_line(gpt_run, tmp_path, capsys):
    preset = str(tmp_path / "preset")
    assert kzoo_main(["preset", "save", str(gpt_run), preset]) == 0
    assert capsys.readouterr().out.strip() == preset
    assert kzoo_main(["export", preset, "--export-dir", str(tmp_path / "exports")]) == 0
    version = capsys.readouterr().out.strip()
    assert version == str(tmp_path / "exports" / "gpt" / "1")
    signature = tf.saved_model.load(version).signatures["serving_default"]
    served = signature(prompt=tf.constant(["The "]))["text"].numpy()[0].decode()
    # 100 new tokens by default, cut at the context of 16: 12 after the 4 of the prompt.
    assert served == kzoo.generate(str(gpt_run), "The ", max_new_tokens=12)


def test_kzoo_serve_exports_a_preset_under_the_base_path_first(
    gpt_run, tmp_path, monkeypatch, capsys
):
    preset = kzoo.save_preset(gpt_run, tmp_path / "preset")
    served = []
    monkeypatch.setattr("kzoo.serving.server.main", lambda argv, prog: served.append(argv) or 0)
    base = str(tmp_path / "models")
    argv = ["serve", "--preset", str(preset), "--model-base-path", base, "--rest-port", "0"]
    assert kzoo_main(argv) == 0
    assert served == [["--model-base-path", base, "--rest-port", "0"]]
    assert os.listdir(os.path.join(base, "gpt")) == ["1"]
    assert f"exported {preset} to {base}/gpt/1" in capsys.readouterr().out


def test_kzoo_serve_refuses_a_preset_with_a_model_config_file(gpt_run, tmp_path, capsys):
    argv = ["serve", "--preset", str(gpt_run), "--model-config-file", "models.config"]
    assert kzoo_main(argv) == 2
    assert "Expected no --model-config-file, which lists the models itself" in (
        capsys.readouterr().err
    )


# === Errors ===


def test_save_preset_needs_a_finished_run(tmp_path):
    with pytest.raises(ValueError, match=r"Expected a finished kzoo run folder with model\.keras"):
        kzoo.save_preset(tmp_path, tmp_path / "preset")


def test_save_preset_never_writes_over_files(classifier_run, tmp_path):
    (tmp_path / "preset").mkdir()
    (tmp_path / "preset" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"Expected a new or empty folder.*which holds files"):
        kzoo.save_preset(classifier_run, tmp_path / "preset")
    assert os.listdir(tmp_path / "preset") == ["notes.txt"]


def test_a_folder_that_is_neither_a_run_nor_a_preset(tmp_path):
    with pytest.raises(
        ValueError, match=r"Expected a finished kzoo run folder .* or a kzoo preset"
    ):
        kzoo.from_preset(str(tmp_path))


@pytest.mark.parametrize(
    "handle, host",
    [("hf://someone/kim_cnn_mr", "huggingface.co"), ("kaggle://a/b/keras/c", "api.kaggle.com")],
)
def test_a_hub_handle_offline_fails_at_once(handle, host, monkeypatch):
    def unreachable(address, timeout=None):
        raise OSError("[Errno -2] Name or service not known")

    for variable in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HF_ENDPOINT"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(socket, "create_connection", unreachable)
    with pytest.raises(ConnectionError, match=rf"Cannot download preset '{handle}': {host}"):
        kzoo.from_preset(handle)


def test_upload_offline_fails_at_once(classifier_run, tmp_path, monkeypatch):
    preset = kzoo.save_preset(classifier_run, tmp_path / "preset")

    def unreachable(address, timeout=None):
        raise OSError("[Errno 101] Network is unreachable")

    for variable in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HF_ENDPOINT"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(socket, "create_connection", unreachable)
    with pytest.raises(
        ConnectionError, match=r"Cannot upload preset 'hf://me/cnn'.*from a machine"
    ):
        kzoo.upload_preset(preset, "hf://me/cnn")


def test_upload_needs_a_preset(classifier_run):
    with pytest.raises(ValueError, match=r"Expected a kzoo preset folder"):
        kzoo.upload_preset(classifier_run, "hf://me/cnn")


def test_upload_needs_a_hub_handle(classifier_run, tmp_path):
    preset = kzoo.save_preset(classifier_run, tmp_path / "preset")
    with pytest.raises(
        ValueError, match=r"argument handle. Expected 'kaggle://.*Received: handle=s3"
    ):
        kzoo.upload_preset(preset, "s3://bucket/cnn")


# === Fine-tuning a preset (--fine-tune) ===


@pytest.fixture(scope="module")
def gpt_preset(gpt_run, tmp_path_factory):
    return str(kzoo.save_preset(gpt_run, tmp_path_factory.mktemp("gpt") / "preset"))


@pytest.fixture
def shakespeare_files(tmp_path):
    # "☃" is no character of the embedded prose the preset learned.
    train, valid = tmp_path / "train.txt", tmp_path / "valid.txt"
    train.write_text("ROMEO: the lady doth protest ☃ too much.\n" * 20, encoding="utf-8")
    valid.write_text("JULIET: what is in a name? ☃☃\n" * 10, encoding="utf-8")
    return ["--train-file", str(train), "--valid-file", str(valid)]


def test_fine_tuning_starts_from_the_presets_weights_and_reads_with_its_vocabulary(
    gpt_preset, shakespeare_files, tmp_path
):
    from kzoo.recipes.gpt import TINY

    run = tmp_path / "run"
    # A learning rate of 1e-12 leaves the weights where they started.
    argv = ["train", "gpt", *TRAIN, *TINY, *shakespeare_files, "--output-dir", str(run)]
    argv += ["--fine-tune", gpt_preset, "--learning-rate", "1e-12", "--steps-per-epoch", "1"]
    argv += ["--set", "model_args.num_layers=3"]
    assert kzoo_main(argv) == 0
    preset, _ = load_run(gpt_preset)
    tuned, config = load_run(run)
    assert config["model_args"] == preset_settings(gpt_preset)["model_args"]  # not num_layers=3
    assert tuned.vectorizers["text"].get_vocabulary() == preset.vectorizers["text"].get_vocabulary()
    assert len(tuned.model.weights) == len(preset.model.weights)
    for weight, start in zip(tuned.model.weights, preset.model.weights):
        np.testing.assert_allclose(weight.numpy(), start.numpy(), atol=1e-6)
    log = (run / "run.log").read_text()
    # 20 and 20 unknown characters; every other character is the preset's.
    assert "data: train: 820 characters, 820 tokens, 20 [UNK]" in log
    assert "data: valid: 300 characters, 300 tokens, 20 [UNK]" in log
    assert f"the preset's ({gpt_preset})" in log


def preset_settings(preset):
    with open(os.path.join(preset, "config.json"), encoding="utf-8") as f:
        return json.load(f)["kzoo"]["settings"]


def test_fine_tuning_needs_a_preset_of_the_recipes_model(gpt_preset, tmp_path, capsys):
    argv = ["train", "rnn_generator", "--fine-tune", gpt_preset, "--output-dir", str(tmp_path)]
    assert kzoo_main(argv) == 2
    assert (
        "Invalid value for setting fine_tune. Expected a preset of this recipe's model and text "
        f"(model=rnn_generator). Received: fine_tune={gpt_preset}, with model=gpt"
    ) in capsys.readouterr().err


def test_fine_tuning_reads_the_text_as_the_preset_did(gpt_preset, tmp_path, capsys):
    argv = ["train", "gpt", "--fine-tune", gpt_preset, "--split", "whitespace"]
    assert kzoo_main([*argv, "--output-dir", str(tmp_path)]) == 2
    assert "(split=whitespace). Received: fine_tune=" in capsys.readouterr().err


def test_fine_tuning_windows_fit_the_presets_positions(gpt_preset, tmp_path, capsys):
    argv = ["train", "gpt", "--fine-tune", gpt_preset, "--sequence-length", "17"]
    assert kzoo_main([*argv, "--output-dir", str(tmp_path)]) == 2
    assert (
        "Invalid value for setting sequence_length. Expected at most the 16 tokens the "
        "preset's positions cover. Received: sequence_length=17"
    ) in capsys.readouterr().err


def test_a_hf_handle_in_offline_mode_loads_from_the_hubs_cache(
    classifier_run, tmp_path, monkeypatch
):
    from huggingface_hub import constants as hub_constants

    preset = kzoo.save_preset(classifier_run, tmp_path / "preset")
    # The Hugging Face cache's layout, as a download of hf://someone/kim_cnn leaves it.
    repository = tmp_path / "hub" / "models--someone--kim_cnn"
    revision = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(preset, repository / "snapshots" / revision)
    (repository / "refs").mkdir()
    (repository / "refs" / "main").write_text(revision)

    def no_network(address, timeout=None):
        raise AssertionError(f"connected to {address} in offline mode")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # huggingface_hub reads its variables once, when it is imported.
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    texts = ["a gripping, lovely film", "not good at all"]
    model = kzoo.from_preset("hf://someone/kim_cnn")
    expected = kzoo.from_preset(preset).predict(texts, verbose=0)
    np.testing.assert_allclose(model.predict(texts, verbose=0), expected, atol=1e-6)
    with pytest.raises(Exception, match=r"offline|cache"):  # huggingface_hub's own words
        kzoo.from_preset("hf://someone/not_cached")
