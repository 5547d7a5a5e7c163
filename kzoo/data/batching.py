"""Batched `tf.data` datasets for kzoo's recipes: token-id sequences bucketed by length, arrays.

Datasets are built from token ids computed once in memory (`kzoo.data.vectorization.vectorize`),
then shuffled, batched by sequence length and prefetched:

- **Length bucketing.** `batch_by_length` groups sentences of similar length, so a batch of
  short sentences is not padded to the longest sentence of the corpus. Each batch is a gather
  from the whole split held as ragged tensors, planned per epoch from the known lengths.
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


def ragged_rows(sequences, dtype="int32"):
    """Variable-length sequences as one `tf.RaggedTensor` with a row per sequence.

    Built from one flat array and the row lengths, which is much faster on a corpus than
    `tf.ragged.constant` of nested lists.

    Example:

    >>> ragged_rows([np.array([3, 4]), np.array([5])]).to_list()
    [[3, 4], [5]]
    """
    lengths = np.fromiter((len(s) for s in sequences), dtype="int64", count=len(sequences))
    if tf.as_dtype(dtype) == tf.string:
        flat = tf.constant([x for s in sequences for x in s], dtype=tf.string)
    else:
        flat = np.concatenate([np.asarray(s, dtype=dtype).reshape(-1) for s in sequences] or [[]])
        flat = tf.constant(flat.astype(dtype), dtype=dtype)
    return tf.RaggedTensor.from_row_lengths(flat, lengths, validate=False)


@tf.autograph.experimental.do_not_convert
def _seq2seq_structure(source, decoder_input, target):
    return {"encoder_token_ids": source, "decoder_token_ids": decoder_input}, target


def _batch_count(examples, batch_size, drop_remainder):
    return examples // batch_size if drop_remainder else -(-examples // batch_size)


def _batch_rows(indices, batch_size, drop_remainder):
    """Example indices cut into batches: a `[batches, batch_size]` table (-1 past the end of
    an incomplete batch) and each batch's size."""
    count = _batch_count(len(indices), batch_size, drop_remainder)
    kept = min(len(indices), count * batch_size)
    rows = tf.pad(indices[:kept], [[0, count * batch_size - kept]], constant_values=-1)
    sizes = np.minimum(batch_size, kept - np.arange(count) * batch_size).astype("int32")
    return tf.reshape(rows, [count, batch_size]), sizes


def batch_by_length(
    columns,
    batch_size,
    boundaries=None,
    shuffle=False,
    seed=0,
    drop_remainder=False,
    lengths=None,
):
    """Shuffles, batches and prefetches examples made of variable-length sequences.

    An example is one row of each column. With `boundaries` (from `bucket_boundaries`),
    examples are grouped by length and every batch is padded to its bucket's boundary minus
    one; without them, each batch is padded to its longest example. Padding is 0 (`""` for
    strings). Training (`shuffle`) draws new batches each epoch: each bucket's examples are
    shuffled and cut into batches, and the batches are shuffled.

    Why not `tf.data.Dataset.bucket_by_sequence_length`: it groups examples one at a time,
    every epoch, and on MR its pipeline alone gave about as many examples a second as the
    word2vec classifier trains on (about 21,000 on two cores), so the pipeline set the
    training speed. Here the lengths are known up front: an epoch's plan is a table of
    example indices, made by a few array operations, and each batch is one gather per column.

    Args:
        columns: tuple of columns: `tf.RaggedTensor`s of sequences (`ragged_rows`), or
            arrays whose first axis is the example (labels).
        batch_size: int. Global batch size.
        boundaries: list of int. Bucket boundaries; the last must exceed every length.
        shuffle: bool. New batches each epoch. Defaults to `False`.
        seed: int. Shuffle seed. Defaults to `0`.
        drop_remainder: bool. Drop incomplete batches (each bucket's last one).
        lengths: int array. Each example's length, which picks its bucket. Defaults to the
            row lengths of the first ragged column.

    Returns:
        A `tf.data.Dataset` of padded batches, a tuple with one tensor per column (the tensor
        itself for one column), whose cardinality is the number of batches.

    Example:

    >>> ds = batch_by_length((ragged_rows([[3, 4, 5], [6], [7, 8]]), [0, 1, 1]), 2, [3, 9])
    >>> [(x.numpy().tolist(), y.numpy().tolist()) for x, y in ds]
    [([[6, 0], [7, 8]], [1, 1]), ([[3, 4, 5, 0, 0, 0, 0, 0]], [0])]
    """
    validation.positive_int("batch_size", batch_size)
    columns = tuple(
        c if isinstance(c, tf.RaggedTensor) else tf.convert_to_tensor(c) for c in columns
    )
    if lengths is None:
        lengths = next(c for c in columns if isinstance(c, tf.RaggedTensor)).row_lengths()
    lengths = np.asarray(lengths, dtype="int64")
    if boundaries:
        buckets = np.searchsorted(boundaries, lengths, side="right")
        if len(lengths) and buckets.max() == len(boundaries):
            raise ValueError(
                f"Invalid value for argument boundaries. Expected the last boundary to exceed "
                f"every length, {int(lengths.max())} here. Received: boundaries={boundaries}"
            )
        widths = [b - 1 for b in boundaries]
    else:
        buckets, widths = np.zeros(len(lengths), dtype="int64"), [-1]  # -1: the batch's longest
    members = [np.flatnonzero(buckets == b).astype("int32") for b in range(len(widths))]
    plan = [(m, w) for m, w in zip(members, widths) if len(m)]

    def batches(draw):
        rows, sizes, batch_widths = [], [], []
        for bucket, (indices, width) in enumerate(plan):
            indices = tf.constant(indices)
            if shuffle:
                bucket_seed = tf.stack([draw, tf.constant(bucket, tf.int64)])
                indices = tf.random.experimental.stateless_shuffle(indices, seed=bucket_seed)
            bucket_rows, bucket_sizes = _batch_rows(indices, batch_size, drop_remainder)
            rows.append(bucket_rows)
            sizes.append(bucket_sizes)
            batch_widths.append(np.full(len(bucket_sizes), width, dtype="int32"))
        rows = tf.concat(rows, 0) if rows else tf.zeros([0, batch_size], tf.int32)
        sizes, batch_widths = np.concatenate(sizes or [[]]), np.concatenate(batch_widths or [[]])
        table = (rows, tf.constant(sizes, tf.int32), tf.constant(batch_widths, tf.int32))
        if shuffle:
            order_seed = tf.stack([draw, tf.constant(len(plan), tf.int64)])
            order = tf.random.experimental.stateless_shuffle(tf.range(len(sizes)), seed=order_seed)
            table = tuple(tf.gather(t, order) for t in table)
        return tf.data.Dataset.from_tensor_slices(table)

    @tf.autograph.experimental.do_not_convert
    def gather(rows, size, width):
        indices = rows[:size]
        batch = []
        for column in columns:
            if isinstance(column, tf.RaggedTensor):
                shape = None if not boundaries else tf.stack([size, width])
                batch.append(tf.gather(column, indices).to_tensor(shape=shape))
            else:
                batch.append(tf.gather(column, indices))
        return batch[0] if len(batch) == 1 else tuple(batch)

    count = sum(_batch_count(len(indices), batch_size, drop_remainder) for indices, _ in plan)
    if shuffle:
        # A new draw each time the dataset is iterated, i.e. each epoch.
        draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)
        dataset = draws.flat_map(batches)
    else:
        dataset = batches(tf.constant(0, tf.int64))
    dataset = dataset.map(gather, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(count))
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
    columns = (ragged_rows(ids), np.asarray(labels, dtype="int32"))
    return batch_by_length(columns, batch_size, boundaries, shuffle, seed)


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
    columns = (ragged_rows(source_ids), ragged_rows(starts), ragged_rows(ends))
    lengths = [max(len(s), len(t)) for s, t in zip(source_ids, starts)]
    dataset = batch_by_length(columns, batch_size, boundaries, shuffle, seed, lengths=lengths)
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
