import keras
import keras_hub
import numpy as np
import tensorflow as tf

from kzoo import build_gpt
from kzoo.models.gpt import gpt_call_with_cache, gpt_initial_cache


def _tiny_gpt():
    keras.utils.set_random_seed(0)
    return build_gpt(
        vocabulary_size=30,
        max_sequence_length=16,
        num_layers=2,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        dropout=0.0,
    )


IDS = np.array([[3, 5, 7, 9, 2, 4], [4, 6, 8, 1, 11, 12]], dtype="int32")


def test_cached_decoding_reproduces_the_full_forward_pass(tmp_path):
    model = _tiny_gpt()
    full = model.predict(IDS, verbose=0)
    for candidate in (model, _reloaded(model, tmp_path)):
        cache = gpt_initial_cache(candidate, batch_size=2)
        steps = []
        for t in range(IDS.shape[1]):
            logits, cache = gpt_call_with_cache(candidate, tf.constant(IDS[:, t : t + 1]), cache, t)
            steps.append(logits[:, 0])
        np.testing.assert_allclose(np.stack(steps, 1), full, atol=1e-5)


def _reloaded(model, tmp_path):
    model.save(tmp_path / "gpt.keras")
    return keras.models.load_model(tmp_path / "gpt.keras")


def test_prompt_then_steps_with_the_cache():
    model = _tiny_gpt()
    full = model.predict(IDS, verbose=0)
    cache = gpt_initial_cache(model, batch_size=2)
    assert tuple(cache.shape) == (2, 2, 2, 16, 2, 4)
    logits, cache = gpt_call_with_cache(model, tf.constant(IDS[:, :4]), cache, 0)
    np.testing.assert_allclose(logits, full[:, :4], atol=1e-5)
    logits, cache = gpt_call_with_cache(model, tf.constant(IDS[:, 4:5]), cache, 4)
    np.testing.assert_allclose(logits[:, 0], full[:, 4], atol=1e-5)


def test_attention_is_causal():
    model = _tiny_gpt()
    changed_future = IDS.copy()
    changed_future[:, 4:] = 13
    a, b = model.predict(IDS, verbose=0), model.predict(changed_future, verbose=0)
    np.testing.assert_allclose(a[:, :4], b[:, :4], atol=1e-6)
    assert not np.allclose(a[:, 4:], b[:, 4:])


def test_loss_ignores_padded_targets():
    model = _tiny_gpt()
    ids = np.array([[3, 5, 7, 0, 0]])
    targets = np.array([[5, 7, 9, 0, 0]])
    logits = model.predict(ids, verbose=0)
    per_token = keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)
    logs = model.evaluate(ids, targets, verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["loss"], np.mean(per_token[0, :3]), rtol=1e-5)


def test_made_of_keras_hub_decoder_blocks():
    model = build_gpt(vocabulary_size=100)
    blocks = [b for b in model.layers if isinstance(b, keras_hub.layers.TransformerDecoder)]
    assert len(blocks) == 4 and blocks[0].num_heads == 4
    assert isinstance(model.get_layer("embedding"), keras_hub.layers.TokenAndPositionEmbedding)
    # GPT-2's block: GELU feed-forward, dropout on the embeddings as in the blocks.
    assert blocks[0].activation is keras.activations.gelu
    assert model.get_layer("embedding_dropout").rate == 0.1
