"""Skip-gram training data with negative sampling, for `kzoo.build_word2vec`.

Keras 3 dropped `keras.preprocessing.sequence.skipgrams` and `make_sampling_table`; these are
kzoo's vectorised NumPy replacements, built from the corpus' real word counts (Mikolov et al.,
2013, "Distributed Representations of Words and Phrases and their Compositionality",
https://arxiv.org/abs/1310.4546):

- `sampling_table` gives each word id the probability of keeping it as a target, so that very
  frequent words ("the", "of") are subsampled.
- `skipgram_examples` pairs every kept target with each true context word within its window
  and with `num_negatives` words drawn from the unigram distribution raised to the 3/4 power.

Token id 0 is padding: it is never a target, a context or a negative.
"""

import numbers

import numpy as np

from kzoo import validation


def _counts_array(word_counts):
    counts = np.asarray(word_counts, dtype="float64")
    if counts.ndim != 1 or counts.size < 2 or not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError(
            "Invalid value for argument word_counts. Expected a 1-D array of non-negative counts "
            f"indexed by word id, with at least 2 entries. Received: word_counts={word_counts!r}"
        )
    if counts[1:].sum() <= 0:
        raise ValueError(
            "Invalid value for argument word_counts. Expected at least one word (id >= 1) with a "
            f"positive count. Received: word_counts={word_counts!r}"
        )
    return counts


def sampling_table(word_counts, sampling_factor=1e-5):
    """Returns the probability of keeping each word id as a skip-gram target.

    The subsampling rule of word2vec's reference code (Mikolov et al., 2013): a word whose
    count is a fraction `f` of all counted words is kept with probability

        keep(f) = min(1, sqrt(t / f) + t / f),     t = sampling_factor,

    so words with `f <= t` (about) are always kept and a word with `f = 100 t` is kept about
    11% of the time. (The paper's discard probability `1 - sqrt(t / f)` is the same idea.)
    Unlike Keras 2's `make_sampling_table`, which assumed Zipf's law from the word's rank, the
    frequencies here are the corpus' real ones. Id 0, padding, gets 0; ids with a count of 0
    never occur and get 1.

    Args:
        word_counts: array-like of shape `(vocabulary_size,)`. How often each word id occurs
            in the corpus; `word_counts[0]` (padding) is ignored.
        sampling_factor: float. The threshold `t`. Defaults to `1e-5`, the paper's value for
            corpora of billions of words; for a corpus of a million words, `1e-3` or `1e-4`
            subsample only its most frequent words.

    Returns:
        A float64 `numpy.ndarray` of shape `(vocabulary_size,)` with values in [0, 1].

    Example:

    >>> table = sampling_table([0, 50, 30, 20], sampling_factor=0.2)
    >>> [round(p, 4) for p in table.tolist()]
    [0.0, 1.0, 1.0, 1.0]
    >>> table = sampling_table([0, 900, 100], sampling_factor=0.01)  # f = 0.9 and 0.1
    >>> [round(p, 4) for p in table.tolist()]
    [0.0, 0.1165, 0.4162]
    """
    counts = _counts_array(word_counts)
    validation.positive_float("sampling_factor", sampling_factor)
    frequencies = counts / counts[1:].sum()
    with np.errstate(divide="ignore"):
        ratio = np.where(frequencies > 0, sampling_factor / frequencies, np.inf)
    table = np.minimum(1.0, np.sqrt(ratio) + ratio)
    table[0] = 0.0
    return table


def _flatten(sequences, window_size):
    """Concatenates sequences with `window_size` zeros after each, so no window spans two."""
    if isinstance(sequences, np.ndarray) and sequences.ndim == 2:
        rows = sequences
        if not np.issubdtype(rows.dtype, np.integer):
            raise ValueError(
                "Invalid value for argument sequences. Expected integer token ids. Received: "
                f"sequences of dtype {rows.dtype}"
            )
        return np.pad(rows, [(0, 0), (0, window_size)]).ravel().astype("int64")
    if (
        isinstance(sequences, (str, bytes))
        or not hasattr(sequences, "__len__")
        or (isinstance(sequences, np.ndarray) and sequences.ndim != 1)
        or any(isinstance(s, numbers.Number) for s in sequences[:1])
    ):
        raise ValueError(
            "Invalid value for argument sequences. Expected a list of token-id sequences or a "
            "2-D int array (pass [ids] for a single sequence). Received: "
            f"sequences={str(sequences)[:200]}"
        )
    parts = []
    gap = np.zeros(window_size, dtype="int64")
    for sequence in sequences:
        row = np.asarray(sequence)
        if row.ndim != 1 or (row.size and not np.issubdtype(row.dtype, np.integer)):
            raise ValueError(
                "Invalid value for argument sequences. Expected each sequence to be a 1-D list "
                f"of integer token ids. Received: a sequence {str(sequence)[:200]}"
            )
        parts.extend((row.astype("int64"), gap))
    return np.concatenate(parts) if parts else np.zeros(0, dtype="int64")


def _draw_negatives(rng, cumulative, probabilities, excluded, num_negatives):
    """Draws negatives from `probabilities`, never the `excluded` id of each row.

    Sampling from the distribution with `excluded[i]` removed, exactly and without a
    rejection loop: draw `u` uniformly from [0, 1 - p(excluded)), step over the excluded id's
    slice of the cumulative distribution, and look `u` up.
    """
    excluded = excluded[:, np.newaxis]
    p_excluded = probabilities[excluded]
    start = cumulative[excluded] - p_excluded
    u = rng.random((len(excluded), num_negatives)) * (1.0 - p_excluded)
    u = u + (u >= start) * p_excluded
    ids = np.searchsorted(cumulative, u, side="right")
    ids = np.minimum(ids, len(cumulative) - 1)
    # Rounding can land on a zero-probability id or on the excluded id; redraw those few.
    bad = (probabilities[ids] == 0) | (ids == excluded)
    while np.any(bad):
        rows = np.nonzero(bad)[0]
        ids[bad] = _draw_negatives(rng, cumulative, probabilities, excluded[rows, 0], 1)[:, 0]
        bad = (probabilities[ids] == 0) | (ids == excluded)
    return ids


def skipgram_examples(
    sequences,
    vocabulary_size,
    window_size=2,
    num_negatives=4,
    sampling_table=None,
    seed=0,
):
    """Builds skip-gram training examples with negative sampling, vectorised in NumPy.

    For every position of every sequence, the token there (the target) is paired with each
    token at most `window_size` positions before or after it in the same sequence (its true
    contexts). Each (target, true context) pair becomes one example whose context row is the
    true context followed by `num_negatives` negative words, with labels `[1, 0, ..., 0]`.

    Negatives are drawn from the corpus' unigram distribution raised to the power 3/4 (the
    word2vec choice, which samples rare words more often than their frequency), over ids >= 1,
    and never equal to the example's true context, so no row labels one word both 1 and 0.
    With `sampling_table`, each target position is kept with its word's probability, as Keras
    2's `skipgrams` did (the reference C code instead deletes words before windowing, which
    also widens windows).

    Examples come out ordered by target position, then by context offset; shuffle them for
    training. A million tokens with the defaults take about 3 seconds on one CPU core.

    Args:
        sequences: list of 1-D int sequences, or a 2-D int array whose rows are padded with 0.
            Token ids in `[0, vocabulary_size)`; 0 is padding and is skipped.
        vocabulary_size: int. Number of token ids, padding included.
        window_size: int. Largest distance between a target and a true context. Defaults to
            `2`.
        num_negatives: int. Negative words per example, >= 0. Defaults to `4`.
        sampling_table: array-like of shape `(vocabulary_size,)`. Keep-probability of each id
            as a target, from `sampling_table()`. Defaults to `None` (keep every target).
        seed: int. Random seed for subsampling and negatives; the same seed gives the same
            examples. Defaults to `0`.

    Returns:
        A dict of NumPy arrays: `"target"` int32 `(N,)`, `"context"` int32
        `(N, 1 + num_negatives)` (true context first) and `"label"` float32
        `(N, 1 + num_negatives)`, ready for `model.fit({"target": ..., "context": ...}, label)`.

    Example:

    >>> examples = skipgram_examples([[5, 6, 7]], vocabulary_size=8, window_size=1)
    >>> examples["target"].tolist(), examples["context"][:, 0].tolist()
    ([5, 6, 6, 7], [6, 5, 7, 6])
    >>> examples["context"].shape, examples["label"][0].tolist()
    ((4, 5), [1.0, 0.0, 0.0, 0.0, 0.0])
    """
    validation.int_at_least("vocabulary_size", vocabulary_size, 2)
    validation.positive_int("window_size", window_size)
    validation.int_at_least("num_negatives", num_negatives, 0)
    tokens = _flatten(sequences, window_size)
    if tokens.size and (tokens.min() < 0 or tokens.max() >= vocabulary_size):
        raise ValueError(
            f"Invalid value for argument sequences. Expected token ids in [0, {vocabulary_size}) "
            f"(vocabulary_size={vocabulary_size}). Received: ids from {tokens.min()} to "
            f"{tokens.max()}"
        )
    if sampling_table is not None:
        table = np.asarray(sampling_table, dtype="float64")
        if table.shape != (vocabulary_size,):
            raise ValueError(
                "Invalid value for argument sampling_table. Expected an array of shape "
                f"({vocabulary_size},), one keep-probability per token id. Received: "
                f"sampling_table of shape {table.shape}"
            )
    rng = np.random.default_rng(seed)

    # === Positive pairs: every offset in [-window, window] but 0, at every position ===
    offsets = np.concatenate([np.arange(-window_size, 0), np.arange(1, window_size + 1)])
    positions = np.nonzero(tokens)[0]
    if sampling_table is not None:
        positions = positions[rng.random(positions.size) < table[tokens[positions]]]
    context_positions = positions[:, np.newaxis] + offsets[np.newaxis, :]
    inside = (context_positions >= 0) & (context_positions < tokens.size)
    context_ids = tokens[np.where(inside, context_positions, 0)]
    valid = inside & (context_ids != 0)
    targets = np.broadcast_to(tokens[positions][:, np.newaxis], valid.shape)[valid]
    contexts = context_ids[valid]

    # === Negatives from unigram^0.75 over ids >= 1 ===
    width = 1 + num_negatives
    if num_negatives and contexts.size:
        counts = np.bincount(tokens, minlength=vocabulary_size).astype("float64")
        counts[0] = 0.0
        probabilities = counts**0.75
        probabilities /= probabilities.sum()
        if probabilities.max() >= 1.0:
            raise ValueError(
                "Invalid value for argument sequences. Expected at least two distinct words, "
                "so that negatives can differ from the true context. Received: sequences with "
                f"the single word id {int(np.argmax(probabilities))}"
            )
        negatives = _draw_negatives(
            rng, np.cumsum(probabilities), probabilities, contexts, num_negatives
        )
        context = np.concatenate([contexts[:, np.newaxis], negatives], axis=1)
    else:
        context = contexts.reshape(-1, 1)
    labels = np.zeros((len(targets), width), dtype="float32")
    labels[:, 0] = 1.0
    return {
        "target": targets.astype("int32"),
        "context": context.astype("int32").reshape(-1, width),
        "label": labels,
    }


__all__ = ["sampling_table", "skipgram_examples"]
