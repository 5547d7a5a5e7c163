"""The pre-trained classifier, on a tiny randomly initialised BERT preset written by the test.

The model needs a preset, so it is not in the registry and these tests stand in for the model
contract: raw strings in and probabilities out, fine-tuning that learns, `.keras` round trip,
the frozen-backbone option and the errors. (Its SavedModel export is tested through the recipe,
in tests/training/test_pretrained_recipe.py.)
"""

import re
import socket

import keras
import keras_hub
import numpy as np
import pytest

from kzoo import build_pretrained_classifier
from kzoo.testing import TINY_BERT_VOCABULARY, write_tiny_bert_preset

VOCABULARY = TINY_BERT_VOCABULARY
POSITIVE, NEGATIVE = ("good", "great", "fine"), ("bad", "awful", "dull")

# keras-hub tasks compile themselves; a reloaded one is left uncompiled, and Keras says so.
pytestmark = pytest.mark.filterwarnings("ignore:`compile\\(\\)` was not called")


def write_tiny_preset(path):
    """A 2-layer, 16-wide BERT with a 18-token vocabulary (`VOCABULARY`), as a preset."""
    return write_tiny_bert_preset(str(path))


def sentences(count, seed=0):
    """Separable texts: label 1 holds a positive word, label 0 a negative one."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(count):
        label = i % 2
        noun, verb = rng.choice(["film", "movie", "plot"]), rng.choice(["is", "was"])
        word = rng.choice(POSITIVE if label else NEGATIVE)
        texts.append(f"The {noun} {verb} {word}")
        labels.append(label)
    return texts, np.array(labels)


@pytest.fixture(scope="module")
def preset(tmp_path_factory):
    return write_tiny_preset(tmp_path_factory.mktemp("presets") / "tiny_bert")


@pytest.fixture(scope="module")
def fine_tuned(preset):
    """A classifier before and after 8 epochs on 24 texts: (model, texts, labels, before, after,
    history), `before`/`after` being `evaluate` results."""
    keras.utils.set_random_seed(0)
    model = build_pretrained_classifier(preset, num_classes=2, sequence_length=8, dropout=0.0)
    # The default 5e-5 suits a pre-trained BERT over a few thousand steps; a random tiny one
    # learns this set in a few dozen steps at 1e-2.
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    texts, labels = sentences(24)
    before = model.evaluate(texts, labels, batch_size=24, verbose=0, return_dict=True)
    history = model.fit(texts, labels, batch_size=8, epochs=8, verbose=0)
    after = model.evaluate(texts, labels, batch_size=24, verbose=0, return_dict=True)
    return model, texts, labels, before, after, history


def test_raw_strings_in_probabilities_out(preset):
    model = build_pretrained_classifier(preset, num_classes=3, sequence_length=8)
    assert isinstance(model, keras_hub.models.BertTextClassifier)
    assert model.preprocessor.sequence_length == 8
    texts = ["the film was great", "a dull plot", "unknown words here"]
    probabilities = model.predict(texts, verbose=0)
    assert probabilities.shape == (3, 3)
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-5)
    assert np.all(probabilities >= 0.0)
    # Called directly, the model takes its preprocessor's output; the same probabilities.
    direct = model(model.preprocessor(np.array(texts)), training=False)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(direct), probabilities, atol=1e-6)
    # Compiled for fine-tuning: Adam at BERT's 5e-5 on probabilities, not logits.
    assert model.optimizer.learning_rate.numpy() == pytest.approx(5e-5)
    assert model.loss.get_config()["from_logits"] is False


def test_sequence_length_defaults_to_the_preset_capped_by_the_backbone(preset):
    # A preset saved without preprocessor.json gets keras-hub's 512, more than this backbone's 16.
    model = build_pretrained_classifier(preset)
    assert model.preprocessor.sequence_length == 16


def test_fine_tuning_lowers_the_loss_and_raises_accuracy(fine_tuned):
    _, _, _, before, after, history = fine_tuned
    assert after["loss"] < 0.5 * before["loss"]
    assert after["accuracy"] == 1.0 > before["accuracy"]
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_keras_round_trip_gives_equal_outputs(fine_tuned, tmp_path):
    model, texts, _, _, _, _ = fine_tuned
    expected = model.predict(texts[:6], verbose=0)
    model.save(tmp_path / "model.keras")
    reloaded = keras.models.load_model(tmp_path / "model.keras")  # no custom_objects
    np.testing.assert_allclose(reloaded.predict(texts[:6], verbose=0), expected, atol=1e-6)
    assert reloaded.preprocessor.sequence_length == 8


def test_frozen_backbone_trains_the_head_alone(preset):
    model = build_pretrained_classifier(preset, num_classes=4, trainable_backbone=False)
    assert [w.path for w in model.trainable_weights] == ["logits/kernel", "logits/bias"]
    assert model.trainable_weights[0].shape == (16, 4)


def _message(name, expected, value):
    return re.escape(
        f"Invalid value for argument {name}. Expected {expected}. Received: {name}={value}"
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_classes": 1}, _message("num_classes", "an integer >= 2", 1)),
        ({"sequence_length": 1}, _message("sequence_length", "an integer >= 2", 1)),
        (
            {"sequence_length": 17},
            _message("sequence_length", "an integer <= 16, the preset's max_sequence_length", 17),
        ),
        ({"dropout": 1.5}, _message("dropout", "a float in [0, 1)", 1.5)),
        (
            {"trainable_backbone": "no"},
            _message("trainable_backbone", "True or False", "no"),
        ),
    ],
)
def test_bad_arguments(preset, kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_pretrained_classifier(preset, **kwargs)


def test_missing_preset_directory(tmp_path):
    missing = tmp_path / "no_such_preset"
    with pytest.raises(
        ValueError,
        match=r"Invalid value for argument preset\. Expected a preset directory .*"
        rf"Received: preset={re.escape(str(missing))}$",
    ):
        build_pretrained_classifier(str(missing))


def test_directory_that_is_not_a_preset(tmp_path):
    received = re.escape(str(tmp_path))
    with pytest.raises(ValueError, match=rf"with the config\.json .*Received: preset={received}$"):
        build_pretrained_classifier(tmp_path)


@pytest.mark.parametrize(
    "preset, host",
    [
        ("hf://keras/bert_tiny_en_uncased", "huggingface.co"),
        ("kaggle://keras/bert/keras/bert_tiny_en_uncased/3", "api.kaggle.com"),
        ("bert_tiny_en_uncased", "api.kaggle.com"),  # keras-hub's own presets are on Kaggle
    ],
)
def test_hub_preset_offline_fails_at_once_with_a_clear_error(preset, host, monkeypatch):
    probed = []

    def unreachable(address, timeout=None):
        probed.append(address)
        raise OSError("[Errno -2] Name or service not known")

    for variable in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HF_ENDPOINT"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(socket, "create_connection", unreachable)
    with pytest.raises(
        ConnectionError,
        match=rf"Cannot download preset '{preset}': {host} cannot be reached .*local directory",
    ):
        build_pretrained_classifier(preset)
    assert probed == [(host, 443)]
