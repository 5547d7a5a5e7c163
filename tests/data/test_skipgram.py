import collections

import numpy as np
import pytest

from kzoo.data import sampling_table, skipgram_examples


def true_pairs(sequences, window_size):
    """All (target, context) pairs by a plain double loop, padding skipped."""
    pairs = []
    for sequence in sequences:
        for i, target in enumerate(sequence):
            for j, context in enumerate(sequence):
                if target and context and 0 < abs(i - j) <= window_size:
                    pairs.append((int(target), int(context)))
    return pairs


def pairs_of(examples):
    return list(zip(examples["target"].tolist(), examples["context"][:, 0].tolist()))


# === Positive pairs ===


def test_window_one_by_hand():
    examples = skipgram_examples([[1, 2, 3, 4]], vocabulary_size=5, window_size=1)
    assert pairs_of(examples) == [(1, 2), (2, 1), (2, 3), (3, 2), (3, 4), (4, 3)]


def test_every_true_pair_and_none_outside_the_window():
    sequences = [[3, 1, 4, 1, 5, 9, 2, 6], [5, 3, 5], [8]]
    for window_size in (1, 2, 3):
        examples = skipgram_examples(sequences, vocabulary_size=10, window_size=window_size)
        assert collections.Counter(pairs_of(examples)) == collections.Counter(
            true_pairs(sequences, window_size)
        )
    # Window 2 on 8 tokens: 4 neighbours each, less 2 + 1 missing at either end = 26 pairs.
    examples = skipgram_examples([[3, 1, 4, 1, 5, 9, 2, 6]], vocabulary_size=10, window_size=2)
    assert len(examples["target"]) == 26


def test_no_window_spans_two_sequences_or_padding():
    padded = np.array([[1, 2, 0, 0], [3, 4, 5, 0]])
    from_array = skipgram_examples(padded, vocabulary_size=6, window_size=3)
    from_lists = skipgram_examples([[1, 2], [3, 4, 5]], vocabulary_size=6, window_size=3)
    expected = [(1, 2), (2, 1), (3, 4), (3, 5), (4, 3), (4, 5), (5, 3), (5, 4)]
    assert pairs_of(from_array) == pairs_of(from_lists) == expected
    assert 0 not in from_array["target"] and 0 not in from_array["context"]


def test_pair_count_on_a_long_sequence_matches_the_formula():
    length, window = 100_000, 3
    tokens = np.random.default_rng(0).integers(1, 500, size=length)
    examples = skipgram_examples([tokens], vocabulary_size=500, window_size=window)
    # Each position has 2w neighbours, less those past either end: w(w+1) in all.
    assert len(examples["target"]) == 2 * window * length - window * (window + 1)


# === Negatives ===


def test_shapes_dtypes_and_labels():
    examples = skipgram_examples([[1, 2, 3, 4, 5]], vocabulary_size=6, num_negatives=3)
    n = len(examples["target"])
    assert examples["target"].shape == (n,) and examples["target"].dtype == np.int32
    assert examples["context"].shape == (n, 4) and examples["context"].dtype == np.int32
    np.testing.assert_array_equal(examples["label"], np.tile([1.0, 0.0, 0.0, 0.0], (n, 1)))
    assert examples["label"].dtype == np.float32


def test_negatives_are_real_words_other_than_the_true_context():
    rng = np.random.default_rng(1)
    sequences = [rng.integers(0, 20, size=rng.integers(1, 30)) for _ in range(300)]
    examples = skipgram_examples(sequences, vocabulary_size=20, num_negatives=6, seed=3)
    negatives = examples["context"][:, 1:]
    assert negatives.min() >= 1 and negatives.max() < 20
    assert not np.any(negatives == examples["context"][:, :1])


def test_negatives_follow_unigram_to_the_three_quarters():
    # Word 1 is 16 times as frequent as word 2: weights 16^0.75 = 8 to 1. With word 3 as the
    # true context (excluded), negatives are word 1 with probability 8 / 9.
    tokens = np.array([1] * 3200 + [2] * 200 + [3] * 200)
    np.random.default_rng(0).shuffle(tokens)
    examples = skipgram_examples([tokens], vocabulary_size=4, num_negatives=4, seed=0)
    rows = examples["context"][:, 0] == 3
    negatives = examples["context"][rows, 1:]
    assert negatives.size > 2000
    assert np.mean(negatives == 1) == pytest.approx(8 / 9, abs=0.02)


def test_same_seed_same_examples_other_seed_other_negatives():
    sequences = [[1, 2, 3, 4, 5, 6, 7], [7, 6, 5]]
    first = skipgram_examples(sequences, vocabulary_size=8, seed=7)
    second = skipgram_examples(sequences, vocabulary_size=8, seed=7)
    other = skipgram_examples(sequences, vocabulary_size=8, seed=8)
    for key in ("target", "context", "label"):
        np.testing.assert_array_equal(first[key], second[key])
    np.testing.assert_array_equal(first["context"][:, 0], other["context"][:, 0])
    assert not np.array_equal(first["context"][:, 1:], other["context"][:, 1:])


def test_no_negatives():
    examples = skipgram_examples([[1, 2]], vocabulary_size=3, num_negatives=0)
    assert examples["context"].tolist() == [[2], [1]]
    assert examples["label"].tolist() == [[1.0], [1.0]]


def test_empty_input_gives_empty_arrays_of_the_right_width():
    examples = skipgram_examples([[0, 0], [7]], vocabulary_size=8, num_negatives=2)
    assert examples["target"].shape == (0,) and examples["context"].shape == (0, 3)


# === Subsampling ===


def test_sampling_table_matches_the_formula_by_hand():
    # Real words: 1000 counts, so f = 0.9, 0.09, 0.009, 0.001; t / f = 1/90, 1/9, 10/9, 10.
    table = sampling_table([5, 900, 90, 9, 1, 0], sampling_factor=0.01)
    expected = [0.0, (1 / 90) ** 0.5 + 1 / 90, (1 / 9) ** 0.5 + 1 / 9, 1.0, 1.0, 1.0]
    np.testing.assert_allclose(table, expected, rtol=1e-12)
    np.testing.assert_allclose(table[1:3], [0.116520, 0.444444], atol=1e-6)


def test_sampling_table_rejects_bad_counts():
    with pytest.raises(ValueError, match="Invalid value for argument word_counts"):
        sampling_table([0, -1, 3])
    with pytest.raises(ValueError, match="at least one word"):
        sampling_table([4, 0, 0])
    with pytest.raises(ValueError, match="Invalid value for argument sampling_factor"):
        sampling_table([0, 1, 2], sampling_factor=0)


def test_subsampling_drops_targets_by_their_keep_probability():
    tokens = np.tile([1, 2], 5000)
    never_one = skipgram_examples(
        [tokens], vocabulary_size=3, num_negatives=0, sampling_table=[0.0, 0.0, 1.0]
    )
    assert set(never_one["target"].tolist()) == {2}
    assert 1 in never_one["context"]  # still a context
    half = skipgram_examples(
        [tokens], vocabulary_size=3, num_negatives=0, sampling_table=[0.0, 0.5, 0.5], seed=1
    )
    full = skipgram_examples([tokens], vocabulary_size=3, num_negatives=0)
    assert len(half["target"]) / len(full["target"]) == pytest.approx(0.5, abs=0.03)
    all_kept = skipgram_examples(
        [tokens], vocabulary_size=3, num_negatives=0, sampling_table=[0.0, 1.0, 1.0]
    )
    np.testing.assert_array_equal(all_kept["target"], full["target"])


# === Argument checks ===


def test_argument_errors_in_keras_wording():
    with pytest.raises(ValueError, match=r"Expected token ids in \[0, 5\)"):
        skipgram_examples([[1, 5]], vocabulary_size=5)
    with pytest.raises(ValueError, match=r"pass \[ids\] for a single sequence"):
        skipgram_examples([1, 2, 3], vocabulary_size=5)
    with pytest.raises(ValueError, match=r"Expected an array of shape \(5,\)"):
        skipgram_examples([[1, 2]], vocabulary_size=5, sampling_table=[1.0, 1.0])
    with pytest.raises(ValueError, match="Invalid value for argument window_size"):
        skipgram_examples([[1, 2]], vocabulary_size=5, window_size=0)
    with pytest.raises(ValueError, match="at least two distinct words"):
        skipgram_examples([[1, 1, 1]], vocabulary_size=5)
