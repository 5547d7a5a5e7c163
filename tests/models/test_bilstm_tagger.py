"""The BiLSTM tagger: character cropping, masking (padding words and characters change
nothing, the loss and accuracy leave them out), word dropout, the CNN encoder, argument errors."""

import keras
import numpy as np
import pytest

from kzoo import build_bilstm_tagger
from kzoo.models.bilstm_tagger import (
    CharacterEncoder,
    WordDropout,
    crop_characters,
    tiny_tagger_inputs,
)

TINY = dict(
    vocabulary_size=20,
    num_tags=5,
    character_vocabulary_size=12,
    embedding_dim=4,
    character_embedding_dim=3,
    character_units=4,
    units=4,
)


def test_crop_keeps_the_first_and_last_halves_of_long_words():
    ids = np.array([[1, 2, 3, 4, 5, 6, 7, 0], [1, 2, 3, 4, 5, 0, 0, 0], [1, 2, 0, 0, 0, 0, 0, 0]])
    cropped = keras.ops.convert_to_numpy(crop_characters(ids, 5))
    # 5 characters: the first 3 and the last 2 of a longer word.
    assert cropped.tolist() == [[1, 2, 3, 6, 7], [1, 2, 3, 4, 5], [1, 2, 0, 0, 0]]
    assert keras.ops.convert_to_numpy(crop_characters(ids[:, :4], 5)).shape == (3, 4)


@pytest.mark.parametrize("encoder", ["lstm", "cnn"])
def test_extra_padding_of_words_and_characters_changes_nothing(encoder, rng):
    model = build_bilstm_tagger(**TINY, character_encoder=encoder)
    inputs = tiny_tagger_inputs(rng)
    expected = keras.ops.convert_to_numpy(model(inputs))
    padded = {
        "token_ids": np.pad(inputs["token_ids"], [(0, 0), (0, 4)]),
        "character_ids": np.pad(inputs["character_ids"], [(0, 0), (0, 4), (0, 5)]),
    }
    actual = keras.ops.convert_to_numpy(model(padded))[:, :6]
    real = inputs["token_ids"] > 0
    np.testing.assert_allclose(actual[real], expected[real], atol=1e-5)


def test_long_words_are_read_through_their_crop(rng):
    layer = CharacterEncoder(vocabulary_size=12, units=4, max_word_length=4)
    long_word = np.array([[[1, 2, 3, 4, 5, 6, 7, 8]]])
    cropped = np.array([[[1, 2, 7, 8]]])
    np.testing.assert_allclose(layer(long_word), layer(cropped), atol=1e-6)


def test_loss_and_accuracy_leave_padding_out(rng):
    model = build_bilstm_tagger(**TINY, word_dropout=0.0, dropout=0.0)
    inputs = tiny_tagger_inputs(rng)
    real = inputs["token_ids"] > 0
    tags = np.where(real, rng.integers(1, 5, size=real.shape), 0)
    probabilities = keras.ops.convert_to_numpy(model(inputs))
    predicted = probabilities.argmax(-1)
    chosen = np.take_along_axis(probabilities, tags[..., None], -1)[..., 0]
    expected_loss = -np.log(chosen[real]).mean()
    expected_accuracy = (predicted[real] == tags[real]).mean()
    logs = model.evaluate(inputs, tags, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(expected_loss, rel=1e-4)
    assert logs["accuracy"] == pytest.approx(expected_accuracy)
    # Whatever the padding's targets say.
    noisy = np.where(real, tags, 3)
    assert model.evaluate(inputs, noisy, verbose=0, return_dict=True) == pytest.approx(logs)


def test_word_dropout_replaces_words_by_unknown_while_training_only():
    ids = np.tile(np.array([[5, 6, 7, 8, 1, 0, 0]]), (200, 1))
    layer = WordDropout(0.3, seed=1)
    dropped = keras.ops.convert_to_numpy(layer(ids, training=True))
    assert np.all(dropped[:, 5:] == 0)  # padding stays
    replaced = (dropped[:, :4] == 1).mean()
    assert 0.25 < replaced < 0.35 and np.all((dropped == ids) | (dropped == 1))
    assert np.array_equal(keras.ops.convert_to_numpy(layer(ids)), ids)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"argument units. Expected an even number with encod"):
        build_bilstm_tagger(**{**TINY, "character_units": 5})
    with pytest.raises(ValueError, match=r"argument encoder. Expected one of \{'lstm', 'cnn'\}"):
        build_bilstm_tagger(**TINY, character_encoder="gru")
    with pytest.raises(ValueError, match=r"argument num_tags. Expected an integer >= 2"):
        build_bilstm_tagger(**{**TINY, "num_tags": 1})
    with pytest.raises(ValueError, match=r"argument word_dropout. Expected a float in \[0, 1\)"):
        build_bilstm_tagger(**TINY, word_dropout=1.0)
