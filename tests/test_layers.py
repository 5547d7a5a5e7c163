"""Hand-computed checks of kzoo's shared layers."""

import keras
import numpy as np
import pytest

from kzoo.layers import MaskedConv1D, MaskedGlobalMaxPooling1D, MinibatchStdDev


def test_masked_global_max_pooling_skips_padded_steps():
    x = np.array([[[1.0, -4.0], [5.0, -2.0], [9.0, 7.0]]], dtype="float32")
    mask = np.array([[True, True, False]])
    # The padded step holds the largest values; the real maximum is [5, -2].
    np.testing.assert_array_equal(MaskedGlobalMaxPooling1D()(x, mask=mask), [[5.0, -2.0]])
    np.testing.assert_array_equal(MaskedGlobalMaxPooling1D()(x), [[9.0, 7.0]])


def test_masked_global_max_pooling_of_empty_sequence_is_zero():
    x = np.full((1, 3, 2), 3.0, dtype="float32")
    pooled = MaskedGlobalMaxPooling1D()(x, mask=np.zeros((1, 3), dtype=bool))
    np.testing.assert_array_equal(pooled, [[0.0, 0.0]])


def test_masked_conv1d_matches_hand_computation():
    # One input channel, kernel [1, 2, 3], no bias: y[t] = x[t-1] + 2 x[t] + 3 x[t+1].
    layer = MaskedConv1D(1, 3, use_bias=False, kernel_initializer="ones")
    x = np.array([[[1.0], [2.0], [4.0], [100.0]]], dtype="float32")
    layer.build(x.shape)
    layer.kernel.assign(np.array([1.0, 2.0, 3.0]).reshape(3, 1, 1))
    mask = np.array([[True, True, True, False]])
    y = keras.ops.convert_to_numpy(layer(x, mask=mask))[0, :, 0]
    # The padded 100 is zeroed, exactly as "same" padding zeroes past the end.
    np.testing.assert_allclose(y[:3], [0 + 2 * 1 + 3 * 2, 1 + 2 * 2 + 3 * 4, 2 + 2 * 4 + 0])


def test_masked_conv1d_is_padding_invariant():
    rng = np.random.default_rng(0)
    layer = MaskedConv1D(4, 3)
    x = rng.normal(size=(1, 5, 2)).astype("float32")
    padded = np.concatenate([x, rng.normal(size=(1, 3, 2)).astype("float32")], axis=1)
    short = layer(x, mask=np.ones((1, 5), bool))
    long = layer(padded, mask=np.array([[True] * 5 + [False] * 3]))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(long)[:, :5], short, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"padding": "valid"}, "Invalid value for argument padding. Expected 'same'"),
        ({"strides": 2}, "Invalid value for argument strides. Expected 1"),
        ({"dilation_rate": 2}, "Invalid value for argument dilation_rate. Expected 1"),
    ],
)
def test_masked_conv1d_rejects_shape_changing_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MaskedConv1D(4, 3, **kwargs)


def test_layers_round_trip_through_config():
    layers = (
        MaskedConv1D(4, 3, activation="relu"),
        MaskedGlobalMaxPooling1D(),
        MinibatchStdDev(epsilon=1e-6),
    )
    for layer in layers:
        config = layer.get_config()
        assert type(layer).from_config(config).get_config() == config


def test_minibatch_stddev_matches_hand_computation():
    x = np.array([[1.0, 0.0, 4.0], [3.0, 0.0, 4.0], [5.0, 3.0, 4.0]], dtype="float32")
    # Population standard deviations of the columns: sqrt(8/3), sqrt(2), 0.
    expected = (np.sqrt(8 / 3) + np.sqrt(2) + 0.0) / 3
    out = MinibatchStdDev(epsilon=0.0)(x).numpy()
    assert out.shape == (3, 4)
    np.testing.assert_allclose(out[:, :3], x)
    np.testing.assert_allclose(out[:, 3], [expected] * 3, rtol=1e-6)
    # A batch of identical examples (a collapsed generator) gets sqrt(epsilon), near zero.
    same = MinibatchStdDev(epsilon=1e-8)(np.ones((4, 3), "float32")).numpy()
    np.testing.assert_allclose(same[:, 3], 1e-4, rtol=1e-3)
