"""Batched `tf.data` datasets for kzoo's recipes: token-id sequences bucketed by length, arrays.

Datasets are built from token ids computed once in memory (`kzoo.data.vectorization.vectorize`),
then cached, shuffled, batched by sequence length and prefetched:

- **Length bucketing.** `bucket_by_sequence_length` groups sentences of similar length, so a
  batch of short sentences is not padded to the longest sentence of the corpus.
- **Padding to bucket boundaries.** Each bucket pads to its own boundary, so the model sees a
  small, fixed set of sequence lengths: an XLA-compiled step compiles once per bucket instead
  of once per batch.
- **No autotuning thread.** A run's `Data` carries its pipelines `without_autotuning`, so a new
  epoch never waits for the last epoch's iterator to close (see there).
"""

import keras
import numpy as np
import tensorflow as tf

from kzoo import validation


def without_autotuning(dataset):
    """`dataset` without tf.data's autotuning thread, for the datasets Keras iterates anew
    every epoch.

    Keras makes a new iterator of its training and validation data at every epoch, and
    closing the last one waits for the autotuning thread of its pipeline to wake up: with
    training holding every core, a wait of seconds at the start of each epoch, growing
    with the length of the epoch (TensorFlow 2.21; benchmarks/results/peers.md). Without
    the thread, `tf.data.AUTOTUNE` settings take tf.data's defaults: a parallel map runs one
    call per core, and a prefetch buffer still grows while its consumer waits.

    Args:
        dataset: `tf.data.Dataset`.

    Returns:
        The same elements, as a `tf.data.Dataset` whose options turn autotuning off.

    Example:

    >>> dataset = without_autotuning(tf.data.Dataset.range(3).prefetch(tf.data.AUTOTUNE))
    >>> dataset.options().autotune.enabled, [int(x) for x in dataset.as_numpy_iterator()]
    (False, [0, 1, 2])
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def bucket_boundaries(lengths, num_buckets=6, multiple=8):
    """Returns sequence-length bucket boundaries from training lengths.

    Boundaries sit at evenly spaced quantiles of `lengths`, rounded up to a multiple of
    `multiple`, and the last one exceeds the longest length, as `bucket_by_sequence_length`
    with `pad_to_bucket_boundary=True` requires.

    Example:

    >>> bucket_boundaries([3, 5, 9, 12, 30, 31], num_buckets=3)
    [17, 25, 33]
    """
    lengths = np.asarray(lengths)
    quantiles = np.quantile(lengths, np.linspace(0, 1, num_buckets + 1)[1:-1])
    rounded = {int(np.ceil((q + 1) / multiple) * multiple) + 1 for q in quantiles}
    last = int(np.ceil((lengths.max() + 1) / multiple) * multiple) + 1
    return sorted(b for b in rounded if b < last) + [last]


def _sequences(*columns):
    """A dataset whose elements hold one 1-D int32 tensor per column of sequences."""
    ragged = [
        tf.ragged.constant([np.asarray(s).tolist() for s in column], dtype=tf.int32, ragged_rank=1)
        for column in columns
    ]
    # Slices of a ragged tensor are ragged specs, which padded_batch refuses; identity inside
    # `map` turns them into plain 1-D tensors.
    return tf.data.Dataset.from_tensor_slices(tuple(ragged)).map(_dense)


@tf.autograph.experimental.do_not_convert
def _dense(*sequences):
    dense = tuple(tf.identity(x) for x in sequences)
    return dense[0] if len(dense) == 1 else dense


@tf.autograph.experimental.do_not_convert
def _first_length(x, *rest):
    return tf.shape(x)[0]


@tf.autograph.experimental.do_not_convert
def _longest_of_pair(source, decoder_input, target):
    return tf.maximum(tf.shape(source)[0], tf.shape(decoder_input)[0])


@tf.autograph.experimental.do_not_convert
def _seq2seq_structure(source, decoder_input, target):
    return {"encoder_token_ids": source, "decoder_token_ids": decoder_input}, target


def batch_by_length(
    dataset,
    batch_size,
    boundaries=None,
    shuffle=False,
    seed=0,
    drop_remainder=False,
    length=None,
    lengths=None,
):
    """Caches, shuffles, batches and prefetches a dataset of variable-length sequences.

    With `boundaries` (from `bucket_boundaries`), elements are grouped by `length(*element)`
    and every batch is padded to its bucket's boundary minus one; without them, each batch is
    padded to its longest element. Padding is 0.

    Args:
        dataset: a `tf.data.Dataset` whose sequence components are 1-D int tensors.
        batch_size: int. Global batch size.
        boundaries: list of int. Bucket boundaries; the last must exceed every length.
        shuffle: bool. Reshuffle the examples each epoch.
        seed: int. Shuffle seed.
        drop_remainder: bool. Drop incomplete batches (each bucket's last one).
        length: callable. Maps an element to its length; defaults to the length of its first
            component.
        lengths: int array. Every element's length, computed as `length` does. Given with
            `boundaries`, it sets the number of batches, which bucketing leaves unknown, so
            Keras shows real progress and does not warn that the data ran out.
    """
    length = length or _first_length
    count = int(dataset.cardinality())
    dataset = dataset.cache()
    if shuffle:
        dataset = dataset.shuffle(max(count, 1), seed=seed, reshuffle_each_iteration=True)
    if boundaries:
        dataset = dataset.bucket_by_sequence_length(
            length,
            bucket_boundaries=list(boundaries),
            # One batch size per bucket, plus the unused bucket past the last boundary.
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
            pad_to_bucket_boundary=True,
            drop_remainder=drop_remainder,
        )
        if lengths is not None:
            # Bucket membership depends on length only, so the batch count is fixed.
            sizes = np.bincount(np.searchsorted(boundaries, lengths, side="right"))
            rounding = np.floor if drop_remainder else np.ceil
            batches = int(rounding(sizes / batch_size).sum())
            dataset = dataset.apply(tf.data.experimental.assert_cardinality(batches))
    else:
        dataset = dataset.padded_batch(batch_size, drop_remainder=drop_remainder)
    return dataset.prefetch(tf.data.AUTOTUNE)


def classification_dataset(ids, labels, batch_size, boundaries=None, shuffle=False, seed=0):
    """Returns a dataset of `(token_ids, label)` batches, bucketed by sentence length.

    Args:
        ids: list of int arrays, from `vectorize`.
        labels: ints, one per sequence.
        batch_size: int. Global batch size.
        boundaries: list of int. Bucket boundaries, from `bucket_boundaries`.
        shuffle: bool. Reshuffle each epoch (training). Defaults to `False`.
        seed: int. Shuffle seed.

    Example:

    >>> ds = classification_dataset([np.array([3, 4]), np.array([5])], [1, 0], batch_size=2)
    >>> [x.numpy().tolist() for x, y in ds]
    [[[3, 4], [5, 0]]]
    """
    labels = tf.data.Dataset.from_tensor_slices(np.asarray(labels, dtype="int32"))
    dataset = tf.data.Dataset.zip((_sequences(ids), labels))
    lengths = [len(x) for x in ids]
    return batch_by_length(dataset, batch_size, boundaries, shuffle, seed, lengths=lengths)


def translation_dataset(
    source_ids, target_ids, start_id, end_id, batch_size, boundaries=None, shuffle=False, seed=0
):
    """Returns a teacher-forcing dataset for seq2seq models.

    Each element is `({"encoder_token_ids": source, "decoder_token_ids": [start] + target},
    target + [end])`: the decoder reads the target shifted right and predicts the next token.
    Batches are bucketed by the longer of the two sequences.

    Example:

    >>> ds = translation_dataset([np.array([5, 6])], [np.array([7])], 2, 3, batch_size=1)
    >>> inputs, outputs = next(iter(ds))
    >>> inputs["decoder_token_ids"].numpy().tolist(), outputs.numpy().tolist()
    ([[2, 7]], [[7, 3]])
    """
    starts = [np.concatenate([[start_id], t]) for t in target_ids]
    ends = [np.concatenate([t, [end_id]]) for t in target_ids]
    dataset = _sequences(source_ids, starts, ends)
    lengths = [max(len(s), len(t)) for s, t in zip(source_ids, starts)]
    dataset = batch_by_length(
        dataset, batch_size, boundaries, shuffle, seed, length=_longest_of_pair, lengths=lengths
    )
    return dataset.map(_seq2seq_structure, num_parallel_calls=tf.data.AUTOTUNE)


def language_model_dataset(
    stream, sequence_length, batch_size, shuffle=False, seed=0, random_offsets=False
):
    """Returns `(inputs, next tokens)` windows cut from one long stream of token ids.

    The stream is cut into non-overlapping windows of `sequence_length + 1` tokens; inputs are
    the first `sequence_length`, targets the last `sequence_length`. When shuffling (training),
    incomplete batches are dropped so every batch has one shape; otherwise every window is kept.

    Args:
        stream: int array of token ids.
        sequence_length: int. Tokens per input window.
        batch_size: int. Global batch size.
        shuffle: bool. Reshuffle the windows each epoch (training). Defaults to `False`.
        seed: int. Seed of the shuffle and the offsets. Defaults to `0`.
        random_offsets: bool. With `shuffle`, cut each epoch's windows at a new random offset
            in `[0, sequence_length)`, so a token does not sit at the same place of its window
            every epoch (one window fewer then fits, so every epoch has as many). Defaults to
            `False`.

    Example:

    >>> ds = language_model_dataset(np.arange(1, 8), sequence_length=3, batch_size=2)
    >>> [(x.numpy().tolist(), y.numpy().tolist()) for x, y in ds]
    [([[1, 2, 3], [4, 5, 6]], [[2, 3, 4], [5, 6, 7]])]
    """
    validation.positive_int("sequence_length", sequence_length)
    stream = np.asarray(stream, dtype="int32")
    count = (len(stream) - 1) // sequence_length
    if count < 1:
        raise ValueError(
            f"Invalid value for argument sequence_length. Expected at most {len(stream) - 1}, "
            f"the length of the token stream minus one. Received: sequence_length={sequence_length}"
        )
    window = np.arange(sequence_length + 1)
    if shuffle and random_offsets and count > 1:
        count -= 1
        tokens = tf.constant(stream)

        def windows_at(draw):
            offset = tf.cast(draw % sequence_length, "int32")
            starts = offset + tf.range(count, dtype="int32") * sequence_length
            windows = tf.gather(tokens, starts[:, None] + window[None, :])
            return tf.data.Dataset.from_tensor_slices((windows[:, :-1], windows[:, 1:]))

        # A new draw each time the dataset is iterated, i.e. each epoch.
        draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)
        dataset = draws.flat_map(windows_at)
    else:
        windows = stream[np.arange(count)[:, None] * sequence_length + window]
        dataset = tf.data.Dataset.from_tensor_slices((windows[:, :-1], windows[:, 1:])).cache()
    if shuffle:
        dataset = dataset.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    drop = shuffle and count >= batch_size
    dataset = dataset.batch(batch_size, drop_remainder=drop)
    batches = count // batch_size if drop else -(-count // batch_size)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(batches))
    return dataset.prefetch(tf.data.AUTOTUNE)


def array_dataset(inputs, targets=None, batch_size=32, shuffle=False, seed=0, drop_remainder=False):
    """Returns a cached, shuffled, batched dataset from in-memory arrays (images, skip-grams)."""
    elements = inputs if targets is None else (inputs, targets)
    dataset = tf.data.Dataset.from_tensor_slices(elements).cache()
    if shuffle:
        count = len(keras.tree.flatten(inputs)[0])
        dataset = dataset.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
