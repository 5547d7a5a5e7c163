"""Translation and summarisation figures: corpus BLEU (sacrebleu) and ROUGE (rouge-score) on
raw references, and serving signatures that join punctuation tokens back into text."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kzoo
from kzoo.data import vectorization
from kzoo.export import serving_functions
from kzoo.signatures import ServingBundle
from kzoo.tasks.translation import TranslationTask


def test_bleu_and_rouge_of_identical_texts_are_100():
    texts = ["A man rides a red bike.", "Two dogs (brown) play!"]
    scores = TranslationTask.scores(texts, texts)
    assert scores == pytest.approx(
        {"bleu": 100.0, "rouge1": 100.0, "rouge2": 100.0, "rougeL": 100.0}
    )


def test_bleu_hand_computed():
    # One extra word: n-gram precisions 6/7, 5/6, 4/5, 3/4, no brevity penalty.
    scores = TranslationTask.scores(["the cat sat on the mat today"], ["the cat sat on the mat"])
    assert scores["bleu"] == pytest.approx(100 * (6 / 7 * 5 / 6 * 4 / 5 * 3 / 4) ** 0.25, abs=1e-6)


def test_bleu_is_cased_and_detokenized():
    # sacrebleu tokenizes the raw texts itself (13a): "mat." and "mat ." read the same.
    assert TranslationTask.scores(["the cat sat on the mat ."], ["the cat sat on the mat."])[
        "bleu"
    ] == pytest.approx(100.0)
    assert (
        TranslationTask.scores(["The cat sat on the mat."], ["the cat sat on the mat."])["bleu"]
        < 100.0
    )


def test_rouge_hand_computed():
    # Three of six reference words, all three predicted words right: P = 1, R = 1/2.
    scores = TranslationTask.scores(["the cat sat"], ["the cat sat on the mat"])
    assert scores["rouge1"] == pytest.approx(100 * 2 * 0.5 / 1.5)
    assert scores["rouge2"] == pytest.approx(100 * 2 * 0.4 / 1.4)  # bigrams: P = 2/2, R = 2/5
    assert scores["rougeL"] == pytest.approx(100 * 2 * 0.5 / 1.5)  # longest common: 3 words
    # Case-insensitive and stemmed, as summarisation papers report it.
    assert TranslationTask.scores(["A man riding"], ["a man rides"])["rouge1"] == pytest.approx(
        100.0
    )


def test_rouge_averages_sentences():
    scores = TranslationTask.scores(["a b", "x y"], ["a b", "c d"])
    assert scores["rouge1"] == pytest.approx(50.0)


def _punctuation_bundle():
    keras.utils.set_random_seed(3)
    sentences = ["A man (tall) sits.", 'Dogs don\'t run, "cats" do!', "A man's hat -- red."]
    options = dict(standardize="split_punctuation")
    source = vectorization.make_vectorizer(sentences, **options)
    target = vectorization.make_vectorizer(
        sentences, reserved_tokens=(vectorization.START, vectorization.END), **options
    )
    model = kzoo.build_attention_seq2seq(
        source_vocabulary_size=source.vocabulary_size(),
        target_vocabulary_size=target.vocabulary_size(),
        embedding_dim=4,
        latent_dim=8,
    )
    bundle = ServingBundle(
        model,
        "translation",
        {"source": source, "target": target},
        max_decode_length=16,
        examples=sentences,
    )
    return bundle, sentences


def test_serving_joins_punctuation_tokens_like_detokenize():
    bundle, sentences = _punctuation_bundle()
    functions = serving_functions(bundle)
    queries = tf.constant([*sentences, "", "unseen words ."])
    texts = [t.decode() for t in functions["serving_default"](text=queries)["translation"].numpy()]
    source_ids = vectorization.vectorize(
        bundle.vectorizers["source"], [q.decode() for q in queries.numpy()]
    )
    width = max(len(x) for x in source_ids)
    padded = np.stack([np.pad(x, (0, width - len(x))) for x in source_ids])
    ids = functions["token_ids"](token_ids=tf.constant(padded))["translation_ids"].numpy()
    tokens = vectorization.vocabulary(bundle.vectorizers["target"])
    expected = [
        vectorization.detokenize(tokens, row, "whitespace", "split_punctuation") for row in ids
    ]
    assert texts == expected
    # The untrained model's outputs hold marks, which are joined, not spaced.
    words = [[tokens[i] for i in row if i > 3] for row in ids]
    assert any(w in ".,!()\"'" for row in words for w in row)
    assert texts != [" ".join(row) for row in words]


def test_exported_translation_model_joins_punctuation(tmp_path):
    from kzoo.export import export_bundle

    bundle, sentences = _punctuation_bundle()
    expected = serving_functions(bundle)["serving_default"](text=tf.constant(sentences))
    path = export_bundle(bundle, str(tmp_path), "punctuation")  # checks the reload itself
    reloaded = tf.saved_model.load(path).signatures["serving_default"]
    out = reloaded(text=tf.constant(sentences))["translation"].numpy()
    assert out.tolist() == expected["translation"].numpy().tolist()


@pytest.mark.parametrize("recipe", ["seq2seq", "attention_seq2seq", "transformer_seq2seq"])
def test_recipe_docstrings_give_the_benchmark_command(recipe):
    import importlib

    from benchmarks import translation

    doc = " ".join(importlib.import_module(f"kzoo.recipes.{recipe}").__doc__.split())
    doc = doc.replace("\\ ", "")
    options = translation.WORD_LEVEL[recipe]
    for flag, value in zip(options[::2], options[1::2]):
        assert f"{flag} {value}" in doc, (flag, value)
    paths = [p for p in translation.multi30k("../shared/data") if not p.startswith("--")]
    assert len(paths) == 6 and all(path in doc for path in paths)
