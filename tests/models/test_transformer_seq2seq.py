"""The Transformer seq2seq: its arguments, masks, cached decoding and attention weights."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kzoo
from kzoo.data import vectorization
from kzoo.decoding import Decoding
from kzoo.models.heads import LabelSmoothedCrossentropy
from kzoo.models.transformer_seq2seq import cross_attention_model
from kzoo.registry import decoder_for

SOURCE = np.array([[3, 5, 7, 9, 2], [4, 6, 0, 0, 0]], dtype="int32")
TARGET = np.array([[1, 4, 5, 6], [1, 7, 8, 0]], dtype="int32")
VARIANTS = {
    "post-norm, learned": {},
    "pre-norm, sinusoidal": dict(normalize_first=True, position_embedding="sinusoidal"),
    "tied output": dict(tie_output_embeddings=True),
}


def _build(**kwargs):
    keras.utils.set_random_seed(0)
    args = dict(
        source_vocabulary_size=20,
        target_vocabulary_size=17,
        num_layers=2,
        hidden_dim=16,
        num_heads=2,
        intermediate_dim=32,
        max_sequence_length=32,
        dropout=0.0,
    )
    return kzoo.build_transformer_seq2seq(**{**args, **kwargs})


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(hidden_dim=10, num_heads=4), "argument hidden_dim. Expected a multiple of num_heads"),
        (dict(num_layers=0), "argument num_layers. Expected a positive integer. Received: num_"),
        (dict(position_embedding="rotary"), r"Expected one of \{'learned', 'sinusoidal'\}"),
        (dict(label_smoothing=1.0), "argument label_smoothing. Expected a float in"),
        (dict(normalize_first="yes"), "argument normalize_first. Expected True or False"),
        (dict(share_embeddings=True), "argument share_embeddings. Expected one vocabulary"),
    ],
)
def test_arguments_are_checked_in_keras_wording(arguments, message):
    with pytest.raises(ValueError, match=message):
        _build(**arguments)


def test_shared_embeddings_are_one_layer():
    shared = _build(source_vocabulary_size=17, share_embeddings=True)
    apart = _build(source_vocabulary_size=17)
    assert shared.count_params() == apart.count_params() - 17 * 16


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_padding_changes_nothing_on_either_side(variant):
    model = _build(**VARIANTS[variant])
    batch = {"encoder_token_ids": SOURCE, "decoder_token_ids": TARGET}
    padded = {key: np.pad(ids, [(0, 0), (0, 3)]) for key, ids in batch.items()}
    np.testing.assert_allclose(
        model.predict(padded, verbose=0)[:, :4], model.predict(batch, verbose=0), atol=1e-5
    )


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_cached_greedy_decoding_equals_the_full_recompute_argmax(variant):
    source = vectorization.make_vectorizer(["21 nov 2026"], split="character", standardize=None)
    target = vectorization.make_vectorizer(
        ["2026-11-21"],
        split="character",
        standardize=None,
        reserved_tokens=(vectorization.START, vectorization.END),
    )
    tokens = vectorization.vocabulary(target)
    model = _build(
        source_vocabulary_size=source.vocabulary_size(),
        target_vocabulary_size=len(tokens),
        **VARIANTS[variant],
    )
    ids = vectorization.vectorize(source, ["21 nov", "1 2 2020"])
    batch = np.stack([np.pad(x, (0, 8 - len(x))) for x in ids]).astype("int32")
    decoding = Decoding(decoder_for(model), tokens)
    cached = decoding.generate(tf.constant(batch), 8, "greedy", 1.0, 0, 1.0, 1, 0).numpy()
    # Re-reading the whole prefix for every token: no cache at all.
    start, end = tokens.index(vectorization.START), tokens.index(vectorization.END)
    prefix = np.full((2, 1), start)
    for _ in range(8):
        logits = model.predict({"encoder_token_ids": batch, "decoder_token_ids": prefix}, verbose=0)
        logits = logits[:, -1]
        logits[:, [0, 1, start]] = -np.inf
        chosen = np.where((prefix == end).any(axis=1), 0, logits.argmax(-1))
        prefix = np.concatenate([prefix, chosen[:, None]], axis=1)
    np.testing.assert_array_equal(cached, prefix[:, 1:])


def test_cross_attention_weights_per_head_and_averaged():
    model = _build()
    batch = {"encoder_token_ids": SOURCE, "decoder_token_ids": TARGET}
    logits, heads, mean = (np.asarray(x) for x in cross_attention_model(model)(batch))
    np.testing.assert_allclose(logits, model.predict(batch, verbose=0), atol=1e-5)
    assert heads.shape == (2, 2, 4, 5) and mean.shape == (2, 4, 5)
    np.testing.assert_allclose(heads.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(mean, heads.mean(axis=1), atol=1e-6)
    np.testing.assert_array_equal(heads[1, :, :, 2:], 0.0)  # source row 1 has 2 real tokens


def test_label_smoothed_loss_matches_hand_computed_values():
    # Two real tokens and one padding token: probabilities (0.7, 0.2, 0.1) for the first,
    # (0.25, 0.25, 0.5) for the second.
    probabilities = np.array([[[0.7, 0.2, 0.1], [0.25, 0.25, 0.5], [0.3, 0.3, 0.4]]])
    targets = np.array([[1, 2, 0]])
    epsilon = 0.1

    def per_token(p, true):
        return -(1 - epsilon) * np.log(p[true]) - epsilon * np.mean(np.log(p))

    expected = (per_token(probabilities[0, 0], 1) + per_token(probabilities[0, 1], 2)) / 2
    loss = LabelSmoothedCrossentropy(epsilon)(targets, np.log(probabilities).astype("float32"))
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    unsmoothed = LabelSmoothedCrossentropy(0.0)(targets, np.log(probabilities).astype("float32"))
    assert float(unsmoothed) == pytest.approx(-(np.log(0.2) + np.log(0.5)) / 2, rel=1e-5)


def test_label_smoothing_compiles_into_the_model_and_reloads(tmp_path):
    model = _build(label_smoothing=0.1)
    assert isinstance(model.loss, LabelSmoothedCrossentropy) and model.loss.label_smoothing == 0.1
    batch = {"encoder_token_ids": SOURCE, "decoder_token_ids": TARGET}
    model.fit(batch, np.roll(TARGET, -1, axis=1), epochs=1, verbose=0)
    model.save(tmp_path / "t.keras")
    reloaded = keras.models.load_model(tmp_path / "t.keras")
    np.testing.assert_allclose(
        reloaded.predict(batch, verbose=0), model.predict(batch, verbose=0), atol=1e-6
    )
    assert reloaded.loss.label_smoothing == 0.1
