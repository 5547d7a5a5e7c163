"""Vectorizers, vocabularies and punctuation tokens: text to ids and back."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from kzoo.data import vectorization


def test_vectorizer_adapts_on_training_texts_only_and_reserves_tokens():
    vectorizer = vectorization.make_vectorizer(
        ["the cat sat", "the dog"], reserved_tokens=(vectorization.START, vectorization.END)
    )
    tokens = vectorization.vocabulary(vectorizer)
    assert tokens[:5] == ["", "[UNK]", "[start]", "[end]", "the"]
    # A word never seen in training maps to [UNK] (id 1).
    assert vectorization.vectorize(vectorizer, ["the bird"])[0].tolist() == [4, 1]


def test_character_vocabulary_round_trips_through_a_file(tmp_path):
    vectorizer = vectorization.make_vectorizer(["ab\nc\t"], split="character", standardize=None)
    path = tmp_path / "vocabulary.txt"
    vectorization.save_vocabulary(vectorizer, path)
    assert vectorization.load_vocabulary(path) == vectorization.vocabulary(vectorizer)
    assert "\n" in vectorization.load_vocabulary(path)


def test_max_tokens_caps_the_vocabulary():
    vectorizer = vectorization.make_vectorizer(["a a a b b c"], max_tokens=4)
    assert vectorization.vocabulary(vectorizer) == ["", "[UNK]", "a", "b"]


def test_vectorize_truncates_and_keeps_empty_texts_one_step_long():
    vectorizer = vectorization.make_vectorizer(["a b c d"])
    tokens = vectorization.vocabulary(vectorizer)
    ids = vectorization.vectorize(vectorizer, ["a b c d", "!!!"], max_length=2)
    assert [x.tolist() for x in ids] == [[tokens.index("a"), tokens.index("b")], [1]]


def test_detokenize_stops_at_end_and_joins_by_split():
    tokens = ["", "[UNK]", "[start]", "[end]", "a", "b"]
    assert vectorization.detokenize(tokens, [2, 4, 5, 3, 4], "whitespace") == "a b"
    assert vectorization.detokenize(tokens, [4, 5, 0], "character") == "ab"


# === Punctuation as tokens ===

SENTENCES = [
    "Two young, White males are outside near many bushes.",
    "A man's T-shirt (red) costs $3.50 at 10:30!",
    'She said "don\'t go" -- then left...',
    "Zwei Mädchen, die „Spaß“ haben.",
    "Rock'n'roll and/or U.S. jazz?",
]


@pytest.mark.parametrize("standardize", ["split_punctuation", "lower_and_split_punctuation"])
def test_punctuation_tokens_round_trip_through_ids(standardize):
    vectorizer = vectorization.make_vectorizer(
        SENTENCES, standardize=standardize, reserved_tokens=(vectorization.START, vectorization.END)
    )
    tokens = vectorization.vocabulary(vectorizer)
    for ids, sentence in zip(vectorization.vectorize(vectorizer, SENTENCES), SENTENCES):
        expected = sentence.lower() if standardize.startswith("lower") else sentence
        assert vectorization.detokenize(tokens, ids, "whitespace", standardize) == expected
    # Marks are tokens of their own; marks inside words stay there.
    for token in (",", ".", "(", ")", "$", "!", '"', "'s", "'t", "t-shirt", "3.50", "u.s"):
        assert (
            token
            if standardize.startswith("lower")
            else token.replace("t-", "T-").replace("u.s", "U.S")
        ) in tokens


def test_split_punctuation_tokens():
    tokens = vectorization.split_punctuation(SENTENCES[1:3]).numpy()
    assert tokens[0].decode().split() == [
        "A", "man", "'s", "T-shirt", "(", "red", ")", "costs", "$", "3.50", "at", "10:30", "!"
    ]  # fmt: skip
    assert tokens[1].decode().split() == [
        "She", "said", '"', "don", "'t", "go", '"', "-", "-", "then", "left", ".", ".", "."
    ]  # fmt: skip


def test_lower_and_split_punctuation_lowers_all_letters():
    out = vectorization.lower_and_split_punctuation(["ÜBER ÄRGER."]).numpy()[0].decode()
    assert out.split() == ["über", "ärger", "."]


@pytest.mark.parametrize(
    "words, text",
    [
        (["a", "man", "."], "a man."),
        (["(", "a", ")"], "(a)"),
        (["don", "'t", "stop", "!"], "don't stop!"),
        (['"', "hi", '"', ",", "he", "said", ",", '"', "bye", '"'], '"hi", he said, "bye"'),
        (["wait", ".", ".", "."], "wait..."),
        (["a", "-", "-", "b"], "a -- b"),
        (["„", "Spaß", "“", "."], "„Spaß“."),
        ([], ""),
    ],
)
def test_join_words_in_python_and_in_graph(words, text):
    assert vectorization.join_words(words) == text
    rows = tf.ragged.constant([words, ["x", "."], words], dtype=tf.string)
    joined = [t.decode() for t in vectorization.join_words_tensor(rows).numpy()]
    assert joined == [text, "x.", text]  # quotes are counted per row


def test_detokenized_references_score_bleu_100():
    import sacrebleu

    vectorizer = vectorization.make_vectorizer(
        SENTENCES,
        standardize="split_punctuation",
        reserved_tokens=(vectorization.START, vectorization.END),
    )
    tokens = vectorization.vocabulary(vectorizer)
    texts = [
        vectorization.detokenize(tokens, ids, "whitespace", "split_punctuation")
        for ids in vectorization.vectorize(vectorizer, SENTENCES)
    ]
    assert sacrebleu.corpus_bleu(texts, [SENTENCES]).score == pytest.approx(100.0)
    # Joined with plain spaces, as before, the same tokens score far lower.
    spaced = [
        vectorization.detokenize(tokens, ids, "whitespace")
        for ids in vectorization.vectorize(vectorizer, SENTENCES)
    ]
    assert sacrebleu.corpus_bleu(spaced, [SENTENCES]).score < 70


def test_punctuation_vectorizer_survives_serialization():
    vectorizer = vectorization.make_vectorizer(SENTENCES, standardize="split_punctuation")
    config = keras.saving.serialize_keras_object(vectorizer)
    restored = keras.saving.deserialize_keras_object(json.loads(json.dumps(config)))
    assert restored.get_config()["standardize"] is vectorization.split_punctuation
    assert vectorization.splits_punctuation(restored)
    np.testing.assert_array_equal(
        restored(tf.constant(SENTENCES)).to_tensor().numpy(),
        vectorizer(tf.constant(SENTENCES)).to_tensor().numpy(),
    )


@pytest.mark.parametrize("name", ["split_punctuation", "lower_and_split_punctuation"])
def test_standardizations_keep_the_registered_names_saved_models_use(name):
    # Saved vectorizers refer to the function by this name alone (no module path), as written
    # here by kzoo before the function moved modules: the name must never change.
    saved = {"module": "builtins", "class_name": "function", "config": f"kzoo>{name}"}
    function = getattr(vectorization, name)
    assert keras.saving.get_registered_name(function) == f"kzoo>{name}"
    assert keras.saving.deserialize_keras_object({**saved, "registered_name": "function"}) is (
        function
    )


def test_standardizer_names():
    from kzoo.training.config import SETTINGS

    assert SETTINGS["standardize"].choices == vectorization.STANDARDIZATIONS
    assert vectorization.standardizer("lower_and_split_punctuation") is (
        vectorization.lower_and_split_punctuation
    )
    assert (
        vectorization.standardizer("lower") == "lower"
        and vectorization.standardizer("none") is None
    )
    with pytest.raises(ValueError, match="Invalid value for argument standardize"):
        vectorization.standardizer("split_everything")
