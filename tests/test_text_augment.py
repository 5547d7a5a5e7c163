import re

import numpy as np
import pytest

from kzoo.embeddings import WordVectors
from kzoo.text import augment

TABLE = {"good": ["fine", "great", "nice"], "movie": ["film", "picture"], "plot": ["story"]}
TEXT = "A good movie, a GOOD plot!  Good acting; the movie was good."


def words(text):
    return re.findall(r"\w+", text)


def test_same_seed_same_output_and_different_seeds_differ():
    texts = [TEXT] * 4
    first = augment(texts, TABLE, rate=0.5, seed=3)
    assert augment(texts, TABLE, rate=0.5, seed=3) == first
    assert augment(texts, TABLE, rate=0.5, seed=4) != first
    assert first != texts  # something changed at rate 0.5 over 24 candidate words


def test_rate_zero_is_the_identity():
    texts = [TEXT, "", "no synonyms here"]
    assert augment(texts, TABLE, rate=0.0) == texts
    assert augment(TEXT, TABLE, rate=0.0) == TEXT  # a str gives a str


def test_rate_one_replaces_every_word_with_a_synonym_keeping_case_and_punctuation():
    out = augment(TEXT, TABLE, rate=1.0, seed=0)
    # Only the words change: spacing and punctuation are untouched.
    assert re.sub(r"\w+", "W", out) == re.sub(r"\w+", "W", TEXT)
    for before, after in zip(words(TEXT), words(out)):
        options = TABLE.get(before.lower())
        if options is None:
            assert after == before
        else:
            assert after.lower() in options
            if before.isupper():
                assert after.isupper()
            elif before[0].isupper():
                assert after[0].isupper() and after[1:].islower()
            else:
                assert after.islower()


def test_never_replaces_a_word_with_itself():
    table = {"good": ["good", "Good", "GOOD", "fine"], "bad": ["BAD"]}
    out = augment(["good bad Good", "good good"], table, rate=1.0, seed=5)
    assert out == ["fine bad Fine", "fine fine"]


def test_replacement_share_follows_the_rate_and_grows_with_it():
    text = " ".join(["good"] * 2000)
    low = words(augment(text, TABLE, rate=0.3, seed=1))
    high = words(augment(text, TABLE, rate=0.6, seed=1))
    changed_low = np.array([w != "good" for w in low])
    changed_high = np.array([w != "good" for w in high])
    assert 0.26 < changed_low.mean() < 0.34 and 0.56 < changed_high.mean() < 0.64
    # The same seed draws the same numbers: a higher rate only adds replacements.
    assert np.all(changed_high[changed_low])


VOCABULARY = ["", "[UNK]", "good", "great", "fine", "?", "awful", "movie", "film"]
VECTORS = np.array(
    [
        [0, 0, 0],
        [0, 0, 0],
        [1.0, 0.1, 0.0],  # good
        [1.0, 0.0, 0.0],  # great: cos(good, great) = 0.995
        [0.7, 0.7, 0.0],  # fine: cos(good, fine) = 0.774
        [1.0, 0.12, 0.0],  # "?": good's nearest token, but not a word
        [-1.0, 0.0, 0.0],  # awful
        [0.0, 0.0, 1.0],  # movie
        [0.0, 0.3, 1.0],  # film: cos(movie, film) = 0.958
    ],
    dtype="float32",
)


def test_embedding_neighbours_are_the_synonyms():
    wv = WordVectors(VOCABULARY, VECTORS, center=False)  # the cosines noted above
    assert [w for w, _ in wv.most_similar("good", k=2)] == ["?", "great"]
    # k=2: "?" is left out as punctuation, so "great" is good's only synonym; film is movie's
    # only neighbour above 0.5 (the others are orthogonal to it).
    out = augment("Good movie? good MOVIE", wv, rate=1.0, k=2, min_similarity=0.5)
    assert out == "Great film? great FILM"
    # With k=3 "fine" joins, unless min_similarity (cosine 0.774 < 0.9) removes it.
    text = " ".join(["good"] * 50)
    assert set(words(augment(text, wv, rate=1.0, k=3))) == {"great", "fine"}
    assert set(words(augment(text, wv, rate=1.0, k=3, min_similarity=0.9))) == {"great"}
    # Unknown words stay, although WordVectors could guess a vector from their n-grams.
    assert augment("goods films", wv, rate=1.0) == "goods films"


def test_invalid_arguments():
    with pytest.raises(ValueError, match=r"argument rate. Expected a float in \[0, 1\]"):
        augment("good", TABLE, rate=1.5)
    with pytest.raises(ValueError, match="Expected a dict {word: \\[synonyms\\]} or a kzoo"):
        augment("good", [("good", "fine")])
    with pytest.raises(ValueError, match="Expected a dict mapping each word to a list"):
        augment("good", {"good": "fine"})
    with pytest.raises(ValueError, match="Expected lists of str synonyms"):
        augment("good", {"good": ["fine", 3]})
    with pytest.raises(ValueError, match="Expected None, as synonyms is a table"):
        augment("good", TABLE, min_similarity=0.5)
    with pytest.raises(ValueError, match="argument texts. Expected a str or a list of str"):
        augment(["good", 3], TABLE)
    with pytest.raises(ValueError, match="argument k. Expected a positive integer"):
        augment("good", WordVectors(VOCABULARY, VECTORS, center=False), k=0)
