import pytest

import kzoo
from kzoo import registry


def test_list_models_filters_with_wildcards():
    assert kzoo.list_models("*seq2seq") == [
        "attention_seq2seq",
        "seq2seq",
        "transformer_seq2seq",
    ]
    assert kzoo.list_models("nothing*") == []
    assert kzoo.list_models() == sorted(kzoo.list_models())


def test_build_model_applies_overrides_and_drops_none():
    model = kzoo.build_model("lstm_classifier", vocabulary_size=50, num_classes=4, units=None)
    assert model.output_shape == (None, 4)
    # units=None was dropped, so the factory default (32) applies.
    assert model.get_layer("lstm_0").units == 32


def test_unknown_model_name():
    with pytest.raises(
        ValueError, match=r"Unknown model name\. Expected one of .*Received: name=bert"
    ):
        kzoo.build_model("bert")


def test_registering_a_taken_name_fails(monkeypatch):
    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))

    def build_seq2seq():
        """A second seq2seq."""

    with pytest.raises(ValueError, match="A model named 'seq2seq' is already registered"):
        registry.register_model(build_seq2seq)


def test_register_model_names_and_describes(monkeypatch):
    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))

    @registry.register_model
    def build_tiny_thing(width=3):
        """A tiny thing.

        More words.
        """
        return width

    assert "tiny_thing" in kzoo.list_models()
    assert registry.get_model_entry("tiny_thing").description == "A tiny thing."
    assert kzoo.build_model("tiny_thing", width=5) == 5
