"""Batched tf.data datasets: length buckets, teacher forcing, language-model windows."""

import numpy as np
import pytest
import tensorflow as tf

from kzoo.data import batching


def test_buckets_pad_each_batch_to_its_boundary_only():
    lengths = [2, 3, 3, 4, 9, 10, 11, 30]
    ids = [np.arange(1, n + 1, dtype="int32") for n in lengths]
    boundaries = batching.bucket_boundaries(lengths, num_buckets=2)
    dataset = batching.classification_dataset(ids, [0] * 8, batch_size=4, boundaries=boundaries)
    widths = sorted(x.shape[1] for x, _ in dataset)
    # Short sentences are batched together and padded to their own boundary, not to 30.
    assert widths[0] < 30 and all(w + 1 in boundaries for w in widths)
    total = sum(int(np.count_nonzero(x)) for x, _ in dataset)
    assert total == sum(lengths)


def test_each_epoch_draws_new_batches_of_every_example_once():
    lengths = [1, 2, 2, 3, 5, 6, 7, 7, 7, 9, 12, 14, 15]
    ids = [np.full(n, i + 1, dtype="int32") for i, n in enumerate(lengths)]
    boundaries = [4, 8, 17]
    dataset = batching.classification_dataset(
        ids, list(range(len(ids))), batch_size=2, boundaries=boundaries, shuffle=True, seed=5
    )
    # 4 + 5 + 4 examples in the three buckets: 2 + 3 + 2 batches, the middle one's last
    # incomplete.
    assert int(dataset.cardinality()) == 2 + 3 + 2
    epochs = []
    for _ in range(3):
        seen = []
        for x, y in dataset:
            x, y = x.numpy(), y.numpy()
            assert x.shape[1] + 1 in boundaries  # padded to its bucket's boundary minus one
            for row, label in zip(x, y):
                # A row is its own example, with its padding after it.
                np.testing.assert_array_equal(row[: lengths[label]], label + 1)
                assert not row[lengths[label] :].any()
            seen.append(y.tolist())
        assert len(seen) == 7 and sorted(sum(seen, [])) == list(range(len(ids)))
        epochs.append(seen)
    assert epochs[0] != epochs[1] or epochs[1] != epochs[2]


def test_dropping_the_remainder_keeps_full_batches_only():
    ids = [np.ones(n, dtype="int32") for n in [1, 1, 1, 5, 5]]
    columns = (batching.ragged_rows(ids), np.arange(5))
    dataset = batching.batch_by_length(columns, 2, [4, 9], shuffle=True, drop_remainder=True)
    assert int(dataset.cardinality()) == 2
    assert [tuple(x.shape) for x, _ in dataset] in ([(2, 3), (2, 8)], [(2, 8), (2, 3)])


def test_string_sequences_pad_with_empty_strings():
    words = batching.ragged_rows([["a", "b"], ["c"]], tf.string)
    dataset = batching.batch_by_length((words,), batch_size=2)
    assert next(iter(dataset)).numpy().tolist() == [[b"a", b"b"], [b"c", b""]]


def test_a_sequence_past_the_last_boundary_is_refused():
    with pytest.raises(ValueError, match="Expected the last boundary to exceed every length, 9"):
        batching.batch_by_length((batching.ragged_rows([np.ones(9)]),), 2, boundaries=[4, 9])


def test_bucket_boundaries_cover_the_longest_sequence():
    boundaries = batching.bucket_boundaries([5, 7, 100], num_buckets=4)
    assert boundaries == sorted(boundaries) and boundaries[-1] > 100
    assert all((b - 1) % 8 == 0 for b in boundaries)


def test_translation_dataset_shifts_the_target_for_teacher_forcing():
    dataset = batching.translation_dataset(
        [np.array([5, 6, 7]), np.array([8])],
        [np.array([9]), np.array([10, 11])],
        start_id=2,
        end_id=3,
        batch_size=2,
    )
    inputs, targets = next(iter(dataset))
    assert inputs["encoder_token_ids"].numpy().tolist() == [[5, 6, 7], [8, 0, 0]]
    assert inputs["decoder_token_ids"].numpy().tolist() == [[2, 9, 0], [2, 10, 11]]
    assert targets.numpy().tolist() == [[9, 3, 0], [10, 11, 3]]


def test_language_model_windows_are_shifted_by_one():
    stream = np.arange(1, 17)  # three windows of 4 + 1
    dataset = batching.language_model_dataset(stream, sequence_length=4, batch_size=2)
    (x, y), (last_x, _) = list(dataset)
    assert x.numpy().tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    assert y.numpy().tolist() == [[2, 3, 4, 5], [6, 7, 8, 9]]
    assert last_x.numpy().tolist() == [[9, 10, 11, 12]]  # evaluation keeps every window
    training = batching.language_model_dataset(stream, 4, batch_size=2, shuffle=True)
    assert [int(x.shape[0]) for x, _ in training] == [2]  # training batches share one shape


def test_language_model_random_offsets_move_the_windows_each_epoch():
    stream = np.arange(1, 42)  # ten windows of 4 + 1 at offset 0, nine at any other
    dataset = batching.language_model_dataset(
        stream, 4, batch_size=2, shuffle=True, seed=3, random_offsets=True
    )
    assert int(dataset.cardinality()) == 4  # nine windows, whatever the offset
    offsets = set()
    for _ in range(6):
        batches = list(dataset)
        assert len(batches) == 4
        x = np.concatenate([b[0].numpy() for b in batches])
        y = np.concatenate([b[1].numpy() for b in batches])
        np.testing.assert_array_equal(y, x + 1)  # targets are the next tokens
        np.testing.assert_array_equal(x[:, 1:], x[:, :-1] + 1)  # windows are contiguous
        # Eight of the nine windows (the last batch is incomplete and dropped), all cut at one
        # offset: non-overlapping.
        cuts = set(((x[:, 0] - 1) % 4).tolist())
        assert len(cuts) == 1 and len(set(x[:, 0].tolist())) == 8
        offsets |= cuts
    assert len(offsets) > 1 and offsets <= {0, 1, 2, 3}
    # Evaluation, and training without the option, keep the fixed cut.
    fixed = batching.language_model_dataset(stream, 4, batch_size=2, shuffle=True, seed=3)
    starts = {int(x.numpy()[:, 0].min()) for x, _ in fixed}
    assert min(starts) == 1 and len(list(fixed)) == 5


def test_language_model_rejects_a_window_longer_than_the_text():
    with pytest.raises(
        ValueError, match="Expected at most 3, the length of the token stream minus one"
    ):
        batching.language_model_dataset(np.arange(1, 5), sequence_length=8, batch_size=1)


def test_shuffled_pipelines_are_seeded():
    ids = [np.array([i + 1]) for i in range(20)]

    def order(seed):
        ds = batching.classification_dataset(ids, list(range(20)), 20, shuffle=True, seed=seed)
        return next(iter(ds))[1].numpy().tolist()

    assert order(1) == order(1) and order(1) != order(2)


def test_array_dataset_batches_dicts():
    ds = batching.array_dataset(
        {"x": np.zeros((5, 2))}, np.ones(5), batch_size=2, drop_remainder=True
    )
    assert [int(tf.shape(x["x"])[0]) for x, _ in ds] == [2, 2]


def test_without_autotuning_keeps_the_elements_and_turns_autotuning_off():
    dataset = tf.data.Dataset.range(5).map(lambda x: x * 2, num_parallel_calls=tf.data.AUTOTUNE)
    tuned = batching.without_autotuning(dataset.prefetch(tf.data.AUTOTUNE))
    assert dataset.options().autotune.enabled is not False
    assert tuned.options().autotune.enabled is False
    assert list(tuned.as_numpy_iterator()) == [0, 2, 4, 6, 8]


def test_a_runs_pipelines_are_not_autotuned_whichever_task_built_them():
    from kzoo.tasks.base import Data

    train = tf.data.Dataset.range(4).batch(2).prefetch(tf.data.AUTOTUNE)
    data = Data(train=train, valid=train.take(1))
    assert data.train.options().autotune.enabled is False
    assert data.valid.options().autotune.enabled is False
    assert data.test is None
    assert [list(batch) for batch in data.train.as_numpy_iterator()] == [[0, 1], [2, 3]]
