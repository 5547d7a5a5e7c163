"""The pretrained_classifier recipe fine-tunes a preset on local files, evaluates and exports a
SavedModel that answers raw text; here on a tiny randomly initialised BERT preset."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import kzoo
from kzoo.testing import write_tiny_bert_preset
from kzoo.training.config import parse_settings
from kzoo_cli import main as kzoo_main

# keras-hub tasks compile themselves; a reloaded one is left uncompiled, and Keras says so.
pytestmark = pytest.mark.filterwarnings("ignore:`compile\\(\\)` was not called")


@pytest.fixture
def preset(tmp_path):
    return write_tiny_bert_preset(str(tmp_path / "tiny_bert"))


def _write_split(path, count, rng):
    lines = []
    for i in range(count):
        label = ("neg", "pos")[i % 2]
        word = rng.choice(["good", "great", "fine"] if label == "pos" else ["bad", "awful", "dull"])
        lines.append(f"{label} The {rng.choice(['film', 'movie', 'plot'])} was {word}")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_recipe_fine_tunes_on_local_files_and_exports_raw_text(preset, tmp_path, rng):
    files = []
    for split, count in (("train", 40), ("valid", 8), ("test", 8)):
        files += [f"--{split}-file", _write_split(tmp_path / f"{split}.txt", count, rng)]
    run, exports = tmp_path / "run", tmp_path / "exports"
    argv = ["train", "pretrained_classifier", "--preset", preset, *files]
    argv += ["--epochs", "1", "--no-xla", "--max-length", "8", "--batch-size", "16"]
    argv += ["--set", "model_args.dropout=0", "--output-dir", str(run)]
    assert kzoo_main([*argv, "--export-dir", str(exports)]) == 0

    config = json.loads((run / "config.json").read_text())
    assert config["preset"] == preset and config["task"] == "pretrained_classification"
    assert config["model_args"] == {"dropout": 0.0}
    assert (run / "class_names.txt").read_text().split() == ["neg", "pos"]
    assert not (run / "vocabulary.txt").exists()  # the preset's tokenizer, nothing adapted
    metrics = json.loads((run / "metrics.json").read_text())
    for split in ("valid", "test"):
        assert 0.0 <= metrics[split]["accuracy"] <= 1.0
        assert np.isfinite(metrics[split]["loss"])
    assert np.isfinite(metrics["last_epoch"]["loss"])

    # The export takes raw text and answers as the trained model does.
    version = exports / "pretrained_classifier" / "1"
    assert (version / "assets.extra" / "tf_serving_warmup_requests").exists()
    signature = tf.saved_model.load(str(version)).signatures["serving_default"]
    assert list(signature.structured_input_signature[1]) == ["text"]
    texts = ["the film was great", "an awful plot", "words it never saw"]
    outputs = signature(text=tf.constant(texts))
    model = keras.models.load_model(run / "model.keras")
    assert model.preprocessor.sequence_length == 8
    expected = model.predict(texts, verbose=0)
    np.testing.assert_allclose(outputs["scores"].numpy(), expected, atol=1e-5)
    np.testing.assert_array_equal(outputs["label_id"].numpy(), expected.argmax(-1))
    labels = [label.decode() for label in outputs["label"].numpy()]
    assert labels == [["neg", "pos"][i] for i in expected.argmax(-1)]

    # Its preset loads as the fine-tuned keras-hub classifier, raw strings in.
    ready = kzoo.from_preset(kzoo.save_preset(run, tmp_path / "preset"))
    np.testing.assert_allclose(ready.predict(texts, verbose=0), expected, atol=1e-5)


def test_preset_is_a_setting_of_this_task_only():
    from kzoo.recipes.pretrained_classifier import SETTINGS

    config = parse_settings(SETTINGS, ["--preset", "presets/tiny", "--max-length", "64"])
    assert config["preset"] == "presets/tiny" and config["max_length"] == 64
    assert parse_settings(SETTINGS, [])["preset"] == "bert_tiny_en_uncased"
    with pytest.raises(SystemExit):  # a classification recipe has no --preset
        parse_settings(
            {"recipe": "r", "model": "kim_cnn", "task": "classification"}, ["--preset", "x"]
        )
