"""TFDS loaders, offline: `tfds.testing.mock_data` serves random examples in each dataset's real
structure (features, supervised keys, class names) from the metadata that tfds ships."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from kzoo.data import (
    load_tfds_classification,
    load_tfds_images,
    load_tfds_tagging,
    load_tfds_text,
    load_tfds_translation,
)


def raw_examples(name, split="train"):
    """The same (mocked) split read straight from tfds, for comparison."""
    return list(tfds.as_numpy(tfds.load(name, split=split)))


def test_classification_from_imdb_reviews():
    with tfds.testing.mock_data(num_examples=7):
        texts, labels, class_names = load_tfds_classification("imdb_reviews", split="test")
        raw = raw_examples("imdb_reviews", split="test")
    assert class_names == ["neg", "pos"]
    assert texts == [example["text"].decode("utf-8") for example in raw]
    assert labels == [int(example["label"]) for example in raw]
    assert all(isinstance(text, str) for text in texts)
    assert all(type(label) is int and label in (0, 1) for label in labels)


def test_classification_with_explicit_keys():
    with tfds.testing.mock_data(num_examples=3):
        default = load_tfds_classification("imdb_reviews")
        explicit = load_tfds_classification("imdb_reviews", text_key="text", label_key="label")
    assert default == explicit


def test_text_from_tiny_shakespeare_joins_examples_with_newlines():
    with tfds.testing.mock_data(num_examples=3):
        text = load_tfds_text("tiny_shakespeare")
        raw = raw_examples("tiny_shakespeare")
    assert text == "\n".join(example["text"].decode("utf-8") for example in raw)


def test_translation_pairs_from_ted_hrlr():
    with tfds.testing.mock_data(num_examples=5):
        sources, targets = load_tfds_translation("ted_hrlr_translate/pt_to_en", "pt", "en")
        raw = raw_examples("ted_hrlr_translate/pt_to_en")
    assert sources == [example["pt"].decode("utf-8") for example in raw]
    assert targets == [example["en"].decode("utf-8") for example in raw]


@pytest.mark.parametrize(
    "name, source, target",
    [("gigaword", "document", "summary"), ("cnn_dailymail", "article", "highlights")],
)
def test_summarisation_pairs_by_feature_or_supervised_keys(name, source, target):
    with tfds.testing.mock_data(num_examples=4):
        articles, summaries = load_tfds_translation(name, source, target, split="test")
        by_default = load_tfds_translation(name, split="test")  # the supervised keys
        raw = raw_examples(name, split="test")
    assert articles == [example[source].decode("utf-8") for example in raw]
    assert summaries == [example[target].decode("utf-8") for example in raw]
    assert by_default == (articles, summaries)


def test_translation_without_keys_or_supervised_keys_is_an_error(monkeypatch):
    from kzoo.data import tfds_sources

    loaded = tfds_sources._load

    def without_supervised_keys(*args):
        dataset, info = loaded(*args)
        return dataset, type("Info", (), {"supervised_keys": None})()

    monkeypatch.setattr(tfds_sources, "_load", without_supervised_keys)
    expected = r"has no supervised keys .* Features found: \['en', 'pt'\]"
    with tfds.testing.mock_data(num_examples=2), pytest.raises(ValueError, match=expected):
        load_tfds_translation("ted_hrlr_translate/pt_to_en")


def test_translation_with_an_unknown_language_lists_the_features():
    expected = r"has no feature 'fr'\. Features found: \['en', 'pt'\]"
    with tfds.testing.mock_data(num_examples=2), pytest.raises(ValueError, match=expected):
        load_tfds_translation("ted_hrlr_translate/pt_to_en", "fr", "en")


def _conll2003(*sentences):
    """Stands in for conll2003's download: sentences of (tokens, ner ids, pos ids)."""

    def as_dataset(*args, **kwargs):
        rows = [{"tokens": t, "ner": n, "pos": p} for t, n, p in sentences]
        return tf.data.Dataset.from_generator(
            lambda: iter(rows),
            output_signature={
                "tokens": tf.TensorSpec([None], tf.string),
                "ner": tf.TensorSpec([None], tf.int64),
                "pos": tf.TensorSpec([None], tf.int64),
            },
        )

    return tfds.testing.mock_data(as_dataset_fn=as_dataset)


def test_tagged_sentences_from_conll2003_by_tag_feature():
    sentences = [(["EU", "rejects", "German"], [3, 0, 7], [22, 42, 16]), (["Peter"], [1], [22])]
    with _conll2003(*sentences):
        words, ner = load_tfds_tagging("conll2003", "validation")
        _, pos = load_tfds_tagging("conll2003", tags_key="pos")
        with pytest.raises(ValueError, match=r"'conll2003' has no feature 'entities'. Features"):
            load_tfds_tagging("conll2003", tags_key="entities")
    assert words == [["EU", "rejects", "German"], ["Peter"]]
    assert ner == [["B-ORG", "O", "B-MISC"], ["B-PER"]]  # the ClassLabel names
    assert pos == [["NNP", "VBZ", "JJ"], ["NNP"]]


def test_a_sentence_without_one_tag_per_word_is_an_error():
    with _conll2003((["EU", "rejects"], [3, 0], [22, 42]), (["Peter", "Blackburn"], [1], [22])):
        with pytest.raises(ValueError, match=r"sentence \(example 1\) of 2 'tokens' and 1 'ner'"):
            load_tfds_tagging("conll2003")


def test_images_from_mnist_scaled_to_unit_range():
    with tfds.testing.mock_data(num_examples=6):
        images, labels = load_tfds_images("mnist")
        raw = raw_examples("mnist")
    assert images.shape == (6, 28, 28, 1) and images.dtype == np.float32
    assert labels.dtype == np.int32 and labels.tolist() == [int(e["label"]) for e in raw]
    np.testing.assert_allclose(images, np.stack([e["image"] for e in raw]) / 255.0, atol=1e-7)
    assert 0.0 <= images.min() and images.max() <= 1.0


def test_unknown_dataset_names_it_and_suggests_offline_data():
    with pytest.raises(ValueError) as info:
        load_tfds_classification("no_such_dataset_xyz")
    message = str(info.value)
    assert "'no_such_dataset_xyz'" in message and "DatasetNotFoundError" in message
    assert "--train-file" in message and "embedded" in message


def test_download_failure_becomes_a_value_error(monkeypatch):
    def unreachable(*args, **kwargs):
        raise ConnectionError("Failed to establish a new connection: Network is unreachable")

    monkeypatch.setattr(tfds, "load", unreachable)
    with pytest.raises(ValueError, match=r"'mnist' \(split 'train'\)\. ConnectionError: Failed"):
        load_tfds_images("mnist")
    with pytest.raises(ValueError, match="--train-file"):
        load_tfds_text("tiny_shakespeare")
