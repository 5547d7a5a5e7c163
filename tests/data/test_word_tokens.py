"""Raw sentences to word tokens with character offsets, in the graph (the taggers' serving
tokenizer)."""

import pytest
import tensorflow as tf

from kzoo.data.word_tokens import split_words

CASES = [
    (
        "Apple is looking at buying U.K. startup for $1 billion",
        ["Apple", "is", "looking", "at", "buying", "U.K.", "startup", "for", "$", "1", "billion"],
    ),
    ("I don't know -- O'Brien's!!", ["I", "do", "n't", "know", "--", "O'Brien", "'s", "!!"]),
    ("Dr. J. Smith (Acme Inc.) paid 3.50 at 10:30.", ["Dr.", "J.", "Smith", "(", "Acme", "Inc."]
     + [")", "paid", "3.50", "at", "10:30", "."]),
    ("Al-Zaman, AT&T e.g. ...", ["Al", "-", "Zaman", ",", "AT&T", "e.g.", "..."]),
    ("Über\tcafé\u00a0 naïve", ["Über", "café", "naïve"]),
    ("", []),
    ("   ", []),
]  # fmt: skip


def _split(texts):
    tokens, starts, ends = split_words(tf.constant(texts))
    return (
        [[t.decode() for t in row] for row in tokens.to_list()],
        starts.to_list(),
        ends.to_list(),
    )


def test_tokens_of_a_batch():
    texts = [text for text, _ in CASES]
    tokens, _, _ = _split(texts)
    assert tokens == [expected for _, expected in CASES]


def test_offsets_are_characters_of_the_text_sent():
    texts = [text for text, _ in CASES] + ["\ue000\ue002 a\ue003b ’s"]
    tokens, starts, ends = _split(texts)
    for text, row, row_starts, row_ends in zip(texts, tokens, starts, ends):
        assert [text[s:e] for s, e in zip(row_starts, row_ends)] == row
    # "Über" is 4 characters (5 bytes): offsets count characters, as Python's str does.
    assert starts[4] == [0, 5, 11] and ends[4] == [4, 9, 16]


@pytest.mark.parametrize("compiled", [False, True])
def test_in_a_serving_function(compiled):
    function = split_words
    if compiled:
        function = tf.function(split_words, input_signature=[tf.TensorSpec([None], tf.string)])
    tokens, starts, ends = function(tf.constant(["a b.", "c"]))
    assert tokens.to_list() == [[b"a", b"b", b"."], [b"c"]]
    assert starts.to_list() == [[0, 2, 3], [0]] and ends.to_list() == [[1, 3, 4], [1]]
