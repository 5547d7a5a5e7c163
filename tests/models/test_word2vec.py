import keras
import numpy as np
import pytest

from kzoo import build_word2vec, build_word2vec_classifier
from kzoo.models.word2vec import word2vec_vectors


def test_logits_are_dot_products_of_target_and_context_vectors():
    model = build_word2vec(vocabulary_size=12, embedding_dim=3)
    target = model.get_layer("target_embedding").embeddings.numpy()
    context = model.get_layer("context_embedding").embeddings.numpy()
    batch = {"target": np.array([2, 7]), "context": np.array([[5, 1, 9], [3, 3, 11]])}
    expected = np.einsum("bd,bcd->bc", target[batch["target"]], context[batch["context"]])
    np.testing.assert_allclose(model.predict(batch, verbose=0), expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(word2vec_vectors(model), target)


def test_classifier_starts_from_word2vec_vectors_and_averages_real_words():
    word2vec = build_word2vec(vocabulary_size=12, embedding_dim=3)
    model = build_word2vec_classifier(embeddings=word2vec, num_classes=3)
    vectors = word2vec_vectors(word2vec)
    np.testing.assert_array_equal(model.get_layer("embedding").embeddings.numpy(), vectors)
    pooled = keras.Model(model.input, model.get_layer("average_pool").output)
    np.testing.assert_allclose(
        pooled.predict(np.array([[4, 9, 0, 0]]), verbose=0), [vectors[[4, 9]].mean(0)], atol=1e-6
    )


def test_frozen_vectors_stay_and_trainable_vectors_move():
    matrix = np.random.default_rng(0).normal(size=(12, 3)).astype("float32")
    ids, labels = np.array([[4, 9, 2], [3, 5, 0]]), np.array([0, 1])
    frozen = build_word2vec_classifier(embeddings=matrix)
    frozen.fit(ids, labels, epochs=2, verbose=0)
    np.testing.assert_array_equal(frozen.get_layer("embedding").embeddings.numpy(), matrix)
    tuned = build_word2vec_classifier(embeddings=matrix, trainable_embeddings=True)
    tuned.fit(ids, labels, epochs=2, verbose=0)
    assert not np.allclose(tuned.get_layer("embedding").embeddings.numpy(), matrix)


def test_sizes_default_without_embeddings():
    model = build_word2vec_classifier()
    assert model.get_layer("embedding").embeddings.shape == (10_000, 128)


def _pooled(model, ids):
    pooled = keras.Model(model.input, model.get_layer("average_pool").output)
    return pooled.predict(np.array(ids), verbose=0)


def test_unknown_words_are_ignored_by_default():
    matrix = np.random.default_rng(1).normal(size=(12, 3)).astype("float32")
    model = build_word2vec_classifier(embeddings=matrix, num_classes=3)
    # [UNK] (id 1) neither adds its row of the embeddings nor dilutes the average.
    np.testing.assert_allclose(
        _pooled(model, [[4, 1, 9, 1, 0]]), [matrix[[4, 9]].mean(0)], rtol=1e-5
    )
    np.testing.assert_allclose(
        model.predict(np.array([[4, 1, 9, 1]]), verbose=0),
        model.predict(np.array([[4, 9]]), verbose=0),
        rtol=1e-5,
    )
    # A text of unknown words only averages to zeros: the model's "no evidence" answer.
    np.testing.assert_array_equal(_pooled(model, [[1, 1, 0]]), np.zeros((1, 3)))
    assert np.all(np.isfinite(model.predict(np.array([[1, 1, 0]]), verbose=0)))


def test_trainable_unknown_word_vector_counts_and_learns_while_words_stay_frozen(tmp_path):
    matrix = np.random.default_rng(2).normal(size=(12, 3)).astype("float32")
    model = build_word2vec_classifier(embeddings=matrix, oov="trainable")
    oov_vector = model.get_layer("average_pool").oov_vector
    np.testing.assert_array_equal(oov_vector.numpy(), matrix[1])  # starts from the [UNK] row
    np.testing.assert_allclose(
        _pooled(model, [[4, 1, 9, 0]]), [(matrix[4] + matrix[1] + matrix[9]) / 3], rtol=1e-5
    )
    assert not np.allclose(
        model.predict(np.array([[4, 1, 9]]), verbose=0),
        model.predict(np.array([[4, 9]]), verbose=0),
    )
    model.fit(np.array([[4, 1, 2], [3, 5, 1]]), np.array([0, 1]), epochs=2, verbose=0)
    np.testing.assert_array_equal(model.get_layer("embedding").embeddings.numpy(), matrix)
    assert not np.allclose(oov_vector.numpy(), matrix[1])
    ids = np.array([[4, 1, 9]])
    path = tmp_path / "classifier.keras"
    model.save(path)
    np.testing.assert_allclose(
        keras.models.load_model(path).predict(ids, verbose=0), model.predict(ids, verbose=0)
    )


def test_invalid_oov_mode():
    with pytest.raises(ValueError, match="argument oov. Expected one of {'ignore', 'trainable'}"):
        build_word2vec_classifier(vocabulary_size=12, embedding_dim=3, oov="bucket")
