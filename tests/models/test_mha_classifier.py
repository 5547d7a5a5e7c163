import keras
import numpy as np

from kzoo import build_mha_classifier


def test_attention_heads_ignore_padding():
    keras.utils.set_random_seed(0)
    model = build_mha_classifier(
        vocabulary_size=30, num_classes=3, max_sequence_length=10, embedding_dim=8, num_heads=4
    )
    heads = keras.Model(model.input, model.get_layer("self_attention").output[1])
    weights = heads.predict(np.array([[5, 8, 13, 0, 0]]), verbose=0)
    assert weights.shape == (1, 4, 5, 5)  # (batch, heads, queries, keys)
    np.testing.assert_array_equal(weights[0, :, :3, 3:], 0.0)
    np.testing.assert_allclose(weights[0, :, :3].sum(-1), 1.0, atol=1e-6)


def test_defaults_four_heads_and_dense_128():
    model = build_mha_classifier(vocabulary_size=100)
    attention = model.get_layer("self_attention")
    assert (attention.num_heads, attention.key_dim) == (4, 16)
    assert model.get_layer("hidden").units == 128
    assert model.get_layer("embedding").sequence_length == 256
