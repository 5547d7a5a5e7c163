import keras
import numpy as np

from kzoo import build_cnn_sentiment, build_kim_cnn


def test_default_is_embedding_64_conv_128_5_global_max_dense():
    model = build_cnn_sentiment(vocabulary_size=1000)
    assert model.get_layer("embedding").output_dim == 64
    conv = model.get_layer("conv_5")
    assert (conv.filters, conv.kernel_size, conv.activation.__name__) == (128, (5,), "relu")
    assert model.output_shape == (None, 1)


def test_kim_variant_has_three_widths_of_100_maps_and_dropout():
    model = build_kim_cnn(vocabulary_size=1000, num_classes=6)
    assert model.name == "kim_cnn"
    for width in (3, 4, 5):
        assert model.get_layer(f"conv_{width}").kernel.shape == (width, 300, 100)
    assert model.get_layer("concat").output.shape == (None, 300)
    assert model.get_layer("dropout").rate == 0.5
    expected_params = 1000 * 300 + sum(w * 300 * 100 + 100 for w in (3, 4, 5)) + 300 * 6 + 6
    assert model.count_params() == expected_params


def test_kim_arguments_can_be_overridden():
    model = build_kim_cnn(vocabulary_size=100, embedding_dim=32, kernel_sizes=(2, 3))
    assert model.get_layer("conv_2").kernel.shape == (2, 32, 100)


def test_sentence_shorter_than_the_kernel_still_classifies():
    keras.utils.set_random_seed(0)
    model = build_kim_cnn(vocabulary_size=50, embedding_dim=8, filters=4)
    one_word = model.predict(np.array([[7]]), verbose=0)
    padded = model.predict(np.array([[7, 0, 0, 0, 0, 0, 0]]), verbose=0)
    assert np.all(np.isfinite(one_word))
    np.testing.assert_allclose(padded, one_word, atol=1e-6)


def test_max_norm_bounds_each_output_units_weights_after_an_update():
    def step(**kwargs):
        keras.utils.set_random_seed(0)
        model = build_kim_cnn(
            vocabulary_size=30, num_classes=3, embedding_dim=8, filters=4, **kwargs
        )
        model.compile(optimizer=keras.optimizers.SGD(100.0), loss="sparse_categorical_crossentropy")
        ids = np.random.default_rng(0).integers(1, 30, size=(8, 7))
        model.train_on_batch(ids, np.arange(8) % 3)
        kernel = model.get_layer("predictions").kernel.numpy()  # (12 features, 3 units)
        return np.sqrt((kernel**2).sum(axis=0))

    free, bounded = step(), step(max_norm=3)
    assert free.max() > 3.01  # the same large step, unconstrained, leaves a unit above 3
    np.testing.assert_array_less(bounded, 3.0 + 1e-5)
    # Units above the bound are rescaled onto it; the others are left as they are.
    np.testing.assert_allclose(bounded, np.minimum(free, 3.0), rtol=1e-4)
