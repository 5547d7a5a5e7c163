"""Invalid arguments raise ValueError in Keras' wording: the argument, what was expected, and the
value received. One case per message."""

import re

import numpy as np
import pytest

import kzoo


def _message(name, expected, value):
    return f"Invalid value for argument {name}. Expected {expected}. Received: {name}={value}"


RNN_CHOICES = "one of {'lstm', 'gru', 'simple_rnn'}"
CASES = [
    # --- sizes: positive integers ---
    ("lstm_classifier", {"units": -3}, _message("units", "a positive integer", -3)),
    ("lstm_classifier", {"units": 2.5}, _message("units", "a positive integer", 2.5)),
    ("lstm_classifier", {"embedding_dim": 0}, _message("embedding_dim", "a positive integer", 0)),
    ("lstm_classifier", {"num_layers": 0}, _message("num_layers", "a positive integer", 0)),
    ("rnn_generator", {"units": True}, _message("units", "a positive integer", True)),
    ("cnn_sentiment", {"filters": 0}, _message("filters", "a positive integer", 0)),
    ("seq2seq", {"latent_dim": 0}, _message("latent_dim", "a positive integer", 0)),
    (
        "mha_classifier",
        {"max_sequence_length": 0},
        _message("max_sequence_length", "a positive integer", 0),
    ),
    ("mha_classifier", {"hidden_dim": -1}, _message("hidden_dim", "a positive integer", -1)),
    ("gan", {"latent_dim": 0}, _message("latent_dim", "a positive integer", 0)),
    ("word2vec", {"embedding_dim": -1}, _message("embedding_dim", "a positive integer", -1)),
    ("gpt", {"intermediate_dim": 0}, _message("intermediate_dim", "a positive integer", 0)),
    ("gpt", {"num_layers": -2}, _message("num_layers", "a positive integer", -2)),
    # --- vocabularies and classes ---
    ("lstm_classifier", {"num_classes": 1}, _message("num_classes", "an integer >= 2", 1)),
    ("lstm_classifier", {"vocabulary_size": 1}, _message("vocabulary_size", "an integer >= 2", 1)),
    ("kim_cnn", {"num_classes": 0}, _message("num_classes", "an integer >= 2", 0)),
    ("kim_cnn", {"max_norm": -3}, _message("max_norm", "a positive float", -3)),
    (
        "seq2seq",
        {"source_vocabulary_size": 1},
        _message("source_vocabulary_size", "an integer >= 2", 1),
    ),
    (
        "attention_seq2seq",
        {"target_vocabulary_size": 0},
        _message("target_vocabulary_size", "an integer >= 2", 0),
    ),
    ("word2vec_classifier", {"num_classes": 1}, _message("num_classes", "an integer >= 2", 1)),
    # --- rates ---
    ("lstm_classifier", {"dropout": 1.0}, _message("dropout", "a float in [0, 1)", 1.0)),
    ("mha_classifier", {"dropout": -0.1}, _message("dropout", "a float in [0, 1)", -0.1)),
    ("gan", {"dropout": 1.5}, _message("dropout", "a float in [0, 1)", 1.5)),
    ("gan", {"minibatch_stddev": "no"}, _message("minibatch_stddev", "True or False", "no")),
    ("gpt", {"dropout": "high"}, _message("dropout", "a float in [0, 1)", "high")),
    # --- names ---
    ("lstm_classifier", {"rnn": "transformer"}, _message("rnn", RNN_CHOICES, "transformer")),
    ("rnn_generator", {"rnn": "LSTM"}, _message("rnn", RNN_CHOICES, "LSTM")),
    (
        "attention_seq2seq",
        {"attention": "multiplicative"},
        _message("attention", "one of {'dot', 'additive'}", "multiplicative"),
    ),
    ("gpt", {"activation": "swish"}, _message("activation", "one of {'gelu', 'relu'}", "swish")),
    # --- lists ---
    (
        "cnn_sentiment",
        {"kernel_sizes": ()},
        _message("kernel_sizes", "a non-empty list of positive integers", ()),
    ),
    (
        "kim_cnn",
        {"kernel_sizes": (3, 0)},
        _message("kernel_sizes", "a non-empty list of positive integers", (3, 0)),
    ),
    (
        "gan",
        {"image_shape": (28, 0)},
        _message("image_shape", "a non-empty list of positive integers", (28, 0)),
    ),
    (
        "gan",
        {"generator_units": []},
        _message("generator_units", "a non-empty list of positive integers", []),
    ),
    # --- arguments that depend on each other ---
    (
        "mha_classifier",
        {"embedding_dim": 64, "num_heads": 3},
        _message("embedding_dim", "a multiple of num_heads=3", 64),
    ),
    (
        "gpt",
        {"hidden_dim": 10, "num_heads": 4},
        _message("hidden_dim", "a multiple of num_heads=4", 10),
    ),
    (
        "word2vec_classifier",
        {"embeddings": np.zeros((20, 4)), "vocabulary_size": 30},
        _message("vocabulary_size", "20, as the embeddings have shape (20, 4)", 30),
    ),
    (
        "word2vec_classifier",
        {"embeddings": np.zeros((20, 4)), "embedding_dim": 8},
        _message("embedding_dim", "4, as the embeddings have shape (20, 4)", 8),
    ),
]


@pytest.mark.parametrize(
    "name, kwargs, message", CASES, ids=[f"{n}-{'-'.join(k)}" for n, k, _ in CASES]
)
def test_invalid_argument_message(name, kwargs, message):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        kzoo.build_model(name, **kwargs)


def test_word2vec_classifier_rejects_embeddings_that_are_not_a_matrix():
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Invalid value for argument embeddings. Expected a WordVectors or a matrix of "
            "shape (vocabulary_size, embedding_dim). Received: embeddings.shape=(20,)"
        ),
    ):
        kzoo.build_word2vec_classifier(embeddings=np.zeros(20))


def test_gan_generate_rejects_a_non_positive_count():
    gan = kzoo.build_gan(latent_dim=4, image_shape=(2, 2, 1), generator_units=(4,))
    with pytest.raises(
        ValueError, match=re.escape(_message("num_images", "a positive integer", 0))
    ):
        gan.generate(0)
