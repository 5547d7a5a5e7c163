"""The `optimizer` setting: Adam, or Kim's Adadelta (the dense update's weights, computed on the
looked-up rows of an embedding, with or without XLA); the `lr_schedule` setting: a constant
rate, cosine decay after a linear warm-up, or the Transformer's inverse square root."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kzoo.optimizers import DenseAdadelta, build_optimizer, learning_rate_schedule

# tests/test_backends.py runs this file on JAX and PyTorch too, where an embedding's gradient is
# a dense tensor and DenseAdadelta is Keras' update.
ON_TENSORFLOW = keras.backend.backend() == "tensorflow"


def _embedding_model():
    model = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(6, 1, embeddings_initializer="zeros"),
            keras.layers.GlobalAveragePooling1D(),
        ]
    )
    return model


def test_dense_adadelta_matches_hand_computed_first_step_under_xla():
    model = _embedding_model()
    model.compile(
        optimizer=build_optimizer("adadelta", 1.0), loss="mean_squared_error", jit_compile=True
    )
    # Ids 1 and 2 in one example of two steps: output 0, target 1, so dLoss/dOutput = -2 and
    # each of the two rows gets gradient -2 * 1/2 = -1. Rows 0, 3, 4, 5 get none.
    model.train_on_batch(np.array([[1, 2]]), np.array([[1.0]]))
    rho, epsilon = 0.95, 1e-6
    accumulated = (1 - rho) * 1.0**2
    step = np.sqrt(epsilon) / np.sqrt(accumulated + epsilon) * 1.0
    table = model.layers[0].embeddings.numpy()[:, 0]
    np.testing.assert_allclose(table, [0, step, step, 0, 0, 0], rtol=1e-5, atol=1e-9)


def test_dense_adadelta_saves_and_loads_with_the_model(tmp_path):
    model = _embedding_model()
    model.compile(optimizer=build_optimizer("adadelta", 1.0, clipnorm=5.0), loss="mse")
    model.train_on_batch(np.array([[1, 2]]), np.array([[1.0]]))
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert isinstance(loaded.optimizer, DenseAdadelta)
    assert loaded.optimizer.get_config()["rho"] == 0.95
    assert loaded.optimizer.get_config()["clipnorm"] == 5.0


class KerasDenseAdadelta(keras.optimizers.Adadelta):
    """Keras' own update over the whole table: the reference `DenseAdadelta` must equal."""

    def apply(self, grads, trainable_variables=None):
        grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]
        return super().apply(grads, trainable_variables)


def _classifier(seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(40, 3),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(1),
        ]
    )


def _batches(steps):
    # Ids repeat within a batch (0 most of all) and many rows go unused for steps at a time.
    rng = np.random.default_rng(0)
    ids = [np.where(rng.random((3, 5)) < 0.3, 0, rng.integers(0, 40, (3, 5))) for _ in range(steps)]
    return [(x, rng.normal(size=(3, 1))) for x in ids]


def _train(optimizer, batches, jit_compile):
    model = _classifier(1)
    model.compile(optimizer, "mse", jit_compile=jit_compile)
    for x, y in batches:
        model.train_on_batch(x, y)
    return model


@pytest.mark.parametrize("jit_compile", [False, True], ids=["graph", "xla"])
def test_dense_adadelta_equals_keras_update_of_the_whole_table(jit_compile):
    batches = _batches(25)
    ours = _train(DenseAdadelta(1.0, rho=0.95, epsilon=1e-6), batches, jit_compile)
    keras_ = _train(KerasDenseAdadelta(1.0, rho=0.95, epsilon=1e-6), batches, jit_compile)
    for mine, theirs in zip(ours.weights, keras_.weights):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(mine),
            keras.ops.convert_to_numpy(theirs),
            rtol=1e-5,
            atol=1e-7,
        )
    if not ON_TENSORFLOW:
        return  # the accumulators are Keras' own there
    # Stored accumulators times the decay each row missed are Keras' accumulators.
    table = ours.layers[0].embeddings
    missed = 25 - ours.optimizer.row_steps(table).numpy()
    assert missed.max() > 0  # some rows went unused in the last steps
    index = ours.optimizer._get_variable_index(table)
    for mine, theirs in [
        (ours.optimizer._accumulated_grads, keras_.optimizer._accumulated_grads),
        (ours.optimizer._accumulated_delta_vars, keras_.optimizer._accumulated_delta_vars),
    ]:
        caught_up = mine[index].numpy() * 0.95 ** missed[:, None]
        np.testing.assert_allclose(caught_up, theirs[index].numpy(), rtol=1e-5, atol=1e-12)


@pytest.mark.skipif(not ON_TENSORFLOW, reason="rows (IndexedSlices) are TensorFlow's gradients")
def test_dense_adadelta_touches_only_the_rows_a_batch_looks_up():
    model = _train(DenseAdadelta(1.0), [(np.array([[1, 2, 1]]), np.ones((1, 1)))], False)
    table = model.layers[0].embeddings
    accumulated = model.optimizer._accumulated_grads[model.optimizer._get_variable_index(table)]
    before = table.numpy(), accumulated.numpy()
    model.train_on_batch(np.array([[2, 5]]), np.ones((1, 1)))
    changed = [np.flatnonzero(np.any(a != b, axis=1)) for a, b in zip(before, (table, accumulated))]
    assert [rows.tolist() for rows in changed] == [[2, 5], [2, 5]]
    np.testing.assert_array_equal(model.optimizer.row_steps(table).numpy()[:6], [0, 1, 2, 0, 0, 2])


def test_dense_adadelta_catches_up_a_rows_missed_decay_by_hand():
    # One id, gradient -1 on its one weight at steps 1 and 4, none at steps 2 and 3.
    model = keras.Sequential(
        [
            keras.Input((1,), dtype="int32"),
            keras.layers.Embedding(3, 1, embeddings_initializer="zeros"),
            keras.layers.Flatten(),
        ]
    )
    model.compile(DenseAdadelta(1.0, rho=0.5, epsilon=1e-6), "mse", jit_compile=True)
    model.train_on_batch(np.array([[1]]), np.array([[0.5]]))  # dLoss/dOutput = -1
    model.train_on_batch(np.array([[2]]), np.array([[0.0]]))
    model.train_on_batch(np.array([[2]]), np.array([[0.0]]))
    weight = float(model.layers[0].embeddings[1, 0])
    model.train_on_batch(np.array([[1]]), np.array([[0.5 + weight]]))
    rho, eps = 0.5, 1e-6
    grad_1 = (1 - rho) * 1.0
    step_1 = np.sqrt(eps) / np.sqrt(grad_1 + eps)
    delta_1 = (1 - rho) * step_1**2
    grad_4 = rho * (rho**2 * grad_1) + (1 - rho) * 1.0
    step_4 = np.sqrt(rho**2 * delta_1 + eps) / np.sqrt(grad_4 + eps)
    np.testing.assert_allclose(weight, step_1, rtol=1e-5)
    np.testing.assert_allclose(float(model.layers[0].embeddings[1, 0]), step_1 + step_4, rtol=1e-5)


def test_dense_adadelta_resumes_from_a_saved_model_as_if_never_stopped(tmp_path):
    batches = _batches(12)
    whole = _train(DenseAdadelta(1.0), batches, True)
    first = _train(DenseAdadelta(1.0), batches[:6], True)
    first.save(tmp_path / "half.keras")
    second = keras.models.load_model(tmp_path / "half.keras")
    for x, y in batches[6:]:
        second.train_on_batch(x, y)
    for resumed, uninterrupted in zip(second.weights, whole.weights):
        np.testing.assert_allclose(resumed.numpy(), uninterrupted.numpy(), rtol=1e-6, atol=1e-8)


@pytest.mark.skipif(not ON_TENSORFLOW, reason="row steps exist only for TensorFlow's rows")
def test_dense_adadelta_resumes_from_a_file_saved_before_row_steps(tmp_path, recwarn):
    # An earlier kzoo's DenseAdadelta had Keras' Adadelta's variables and updated the whole
    # table: a run saved by it resumes with its accumulators, each row decayed up to that step.
    batches = _batches(12)
    whole = _train(KerasDenseAdadelta(1.0, rho=0.95, epsilon=1e-6), batches, True)
    old = _train(KerasDenseAdadelta(1.0, rho=0.95, epsilon=1e-6), batches[:6], True)
    old.save(tmp_path / "old.keras")
    resumed = _classifier(2)
    resumed.compile(DenseAdadelta(1.0, rho=0.95, epsilon=1e-6), "mse", jit_compile=True)
    resumed.optimizer.build(resumed.trainable_variables)
    resumed.load_weights(tmp_path / "old.keras")
    assert not [w for w in recwarn if "Skipping variable loading" in str(w.message)]
    table = resumed.layers[0].embeddings
    assert int(resumed.optimizer.iterations) == 6
    np.testing.assert_array_equal(resumed.optimizer.row_steps(table).numpy(), np.full(40, 6))
    for x, y in batches[6:]:
        resumed.train_on_batch(x, y)
    for mine, uninterrupted in zip(resumed.weights, whole.weights):
        np.testing.assert_allclose(mine.numpy(), uninterrupted.numpy(), rtol=1e-5, atol=1e-7)


def test_adam_is_keras_adam():
    optimizer = build_optimizer("adam", 1e-3)
    # Keras' own class (on PyTorch, Keras makes its backend's subclass of it).
    assert isinstance(optimizer, keras.optimizers.Adam)
    assert type(optimizer).__module__.startswith("keras.")
    assert float(optimizer.learning_rate) == pytest.approx(1e-3)


def test_unknown_optimizer_is_a_clear_error():
    with pytest.raises(ValueError, match="Expected optimizer to be one of 'adam', 'adadelta'"):
        build_optimizer("sgd", 0.1)


def test_constant_schedule_is_the_rate_itself():
    assert learning_rate_schedule("constant", 2e-3) == 2e-3


def test_cosine_schedule_matches_hand_computed_values():
    # Warm-up 0 -> 1e-3 over 10 steps, then 1e-4 + 0.9e-3 * (1 + cos(pi * t / 90)) / 2.
    schedule = learning_rate_schedule("cosine", 1e-3, total_steps=100, warmup_steps=10)
    steps = [0, 5, 10, 40, 55, 100, 200]
    expected = [0.0, 5e-4, 1e-3]
    expected += [1e-4 + 9e-4 * (1 + np.cos(np.pi * t / 90)) / 2 for t in (30, 45, 90, 90)]
    np.testing.assert_allclose([float(schedule(s)) for s in steps], expected, rtol=1e-5, atol=1e-9)
    no_warmup = learning_rate_schedule("cosine", 2e-3, total_steps=40)
    np.testing.assert_allclose([float(no_warmup(s)) for s in (0, 20, 40)], [2e-3, 1.1e-3, 2e-4])


def test_cosine_schedule_drives_the_optimizer_and_saves_with_the_model(tmp_path):
    schedule = learning_rate_schedule("cosine", 1e-3, total_steps=4)
    model = _embedding_model()
    model.compile(optimizer=build_optimizer("adam", schedule), loss="mse", jit_compile=True)
    for _ in range(2):
        model.train_on_batch(np.array([[1, 2]]), np.array([[1.0]]))
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-4 + 9e-4 * 0.5, rel=1e-5)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert float(loaded.optimizer.learning_rate) == pytest.approx(5.5e-4, rel=1e-5)


def test_unknown_schedule_is_a_clear_error():
    with pytest.raises(ValueError, match="Expected lr_schedule to be one of 'constant', 'cosine'"):
        learning_rate_schedule("linear", 1e-3, total_steps=10)


def test_cosine_schedule_needs_the_run_length():
    with pytest.raises(ValueError, match="Expected total_steps to be a positive int"):
        learning_rate_schedule("cosine", 1e-3, total_steps=0)


def test_warmup_longer_than_the_run_is_a_clear_error():
    with pytest.raises(ValueError, match=r"Expected warmup_steps to be an int in \[0, 10\)"):
        learning_rate_schedule("cosine", 1e-3, total_steps=10, warmup_steps=10)


def test_inverse_sqrt_schedule_matches_hand_computed_values(tmp_path):
    # peak * min(step / warmup, sqrt(warmup / step)), steps counted from 1.
    schedule = learning_rate_schedule("inverse_sqrt", 2e-3, warmup_steps=4)
    expected = [2e-3 * min(s / 4, (4 / s) ** 0.5) for s in (1, 2, 4, 9, 16)]
    actual = [float(schedule(step - 1)) for step in (1, 2, 4, 9, 16)]
    np.testing.assert_allclose(actual, expected, rtol=1e-6)
    assert expected[2] == 2e-3 and expected[4] == 1e-3  # the peak, then half at 4x the warm-up
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(build_optimizer("adam", schedule), "mse")
    model.fit(np.ones((4, 2)), np.ones(4), verbose=0)
    model.save(tmp_path / "m.keras")
    reloaded = keras.models.load_model(tmp_path / "m.keras")
    assert type(reloaded.optimizer.learning_rate).__name__ != "float"
    assert reloaded.optimizer.get_config()["learning_rate"]["class_name"] == (
        "InverseSquareRootDecay"
    )


def test_inverse_sqrt_schedule_needs_a_warm_up():
    with pytest.raises(ValueError, match="Expected a positive integer for lr_schedule='inverse_"):
        learning_rate_schedule("inverse_sqrt", 1e-3, warmup_steps=0)
