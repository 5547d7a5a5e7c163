import keras
import numpy as np
import pytest

from kzoo import build_lstm_classifier


@pytest.mark.parametrize("rnn", ["lstm", "gru", "simple_rnn"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_before_or_after_changes_nothing(rnn, bidirectional):
    keras.utils.set_random_seed(0)
    model = build_lstm_classifier(
        vocabulary_size=30, units=4, rnn=rnn, bidirectional=bidirectional, num_layers=2
    )
    sentence = model.predict(np.array([[5, 8, 13]]), verbose=0)
    post = model.predict(np.array([[5, 8, 13, 0, 0, 0]]), verbose=0)
    pre = model.predict(np.array([[0, 0, 5, 8, 13]]), verbose=0)
    np.testing.assert_allclose(post, sentence, atol=1e-6)
    np.testing.assert_allclose(pre, sentence, atol=1e-6)


def test_head_and_loss_follow_the_number_of_classes():
    binary = build_lstm_classifier(vocabulary_size=30)
    assert binary.output_shape == (None, 1)
    assert binary.get_layer("predictions").activation.__name__ == "sigmoid"
    assert isinstance(binary.loss, keras.losses.BinaryCrossentropy)
    multi = build_lstm_classifier(vocabulary_size=30, num_classes=6)
    assert multi.output_shape == (None, 6)
    assert multi.get_layer("predictions").activation.__name__ == "softmax"
    assert isinstance(multi.loss, keras.losses.SparseCategoricalCrossentropy)


def test_options_shape_the_network():
    model = build_lstm_classifier(
        vocabulary_size=30, units=5, rnn="gru", bidirectional=True, num_layers=2, dropout=0.2
    )
    assert isinstance(model.get_layer("bidirectional_0").forward_layer, keras.layers.GRU)
    assert model.get_layer("bidirectional_1").output.shape == (None, 10)
    assert model.get_layer("dropout_1").rate == 0.2
    assert model.get_layer("embedding").output_dim == 16


def test_simple_rnn_matches_hand_computation():
    # One-unit SimpleRNN on one-wide embeddings: h_t = tanh(w x_t + u h_{t-1} + b),
    # p = sigmoid(v h_T + c), and the padded step is skipped.
    model = build_lstm_classifier(vocabulary_size=4, embedding_dim=1, units=1, rnn="simple_rnn")
    model.get_layer("embedding").set_weights([np.array([[0.0], [0.5], [-1.0], [2.0]])])
    w, u, b, v, c = 0.8, 0.3, 0.1, 1.5, -0.2
    model.get_layer("simple_rnn_0").set_weights(
        [np.array(x, "float32") for x in ([[w]], [[u]], [b])]
    )
    model.get_layer("predictions").set_weights(
        [np.array([[v]], "float32"), np.array([c], "float32")]
    )
    h = 0.0
    for x in (0.5, 2.0, -1.0):  # token ids 1, 3, 2
        h = np.tanh(w * x + u * h + b)
    expected = 1 / (1 + np.exp(-(v * h + c)))
    actual = model.predict(np.array([[1, 3, 2, 0]]), verbose=0)
    np.testing.assert_allclose(actual, [[expected]], rtol=1e-6)
