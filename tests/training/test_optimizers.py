"""The `optimizer` setting: Adam, or a dense Adadelta that compiles with XLA on embeddings."""

import keras
import numpy as np
import pytest

from kzoo.training.optimizers import DenseAdadelta, build_optimizer


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


def test_adam_is_keras_adam():
    optimizer = build_optimizer("adam", 1e-3)
    assert type(optimizer) is keras.optimizers.Adam
    assert float(optimizer.learning_rate) == pytest.approx(1e-3)


def test_unknown_optimizer_is_a_clear_error():
    with pytest.raises(ValueError, match="Expected optimizer to be one of 'adam', 'adadelta'"):
        build_optimizer("sgd", 0.1)
