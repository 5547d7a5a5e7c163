import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from kzoo import build_gpt
from kzoo.models.gpt import GPTBlock, gpt_call_with_cache, gpt_initial_cache


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


def test_made_of_gpt_blocks_after_keras_hub_embedding():
    model = build_gpt(vocabulary_size=100)
    blocks = [b for b in model.layers if isinstance(b, GPTBlock)]
    assert len(blocks) == 4 and blocks[0].num_heads == 4 and blocks[0].head_dim == 32
    assert isinstance(model.get_layer("embedding"), keras_hub.layers.TokenAndPositionEmbedding)
    # GPT-2's block: GELU feed-forward, dropout on the embeddings as in the blocks.
    assert blocks[0].feedforward_intermediate.activation is keras.activations.gelu
    assert blocks[0].dropout == 0.1
    assert model.get_layer("embedding_dropout").rate == 0.1


def _keras_hub_block_and_gpt_block(hidden_dim=8, num_heads=2, intermediate_dim=16):
    """A keras-hub pre-norm decoder block and a GPTBlock holding the same weights."""
    keras.utils.set_random_seed(1)
    reference = keras_hub.layers.TransformerDecoder(
        intermediate_dim, num_heads, activation="gelu", normalize_first=True
    )
    reference.build((None, None, hidden_dim))
    # Random, non-zero biases and norms, so that every weight's place is checked.
    for weight in reference.weights:
        weight.assign(np.random.default_rng(len(weight.path)).normal(0, 0.3, weight.shape))
    block = GPTBlock(hidden_dim, num_heads, intermediate_dim)
    block.build((None, None, hidden_dim))
    attention = reference._self_attention_layer
    dense = (attention._query_dense, attention._key_dense, attention._value_dense)
    block.query_key_value.kernel.assign(
        np.concatenate([np.reshape(d.kernel, (hidden_dim, hidden_dim)) for d in dense], axis=1)
    )
    block.query_key_value.bias.assign(np.concatenate([np.reshape(d.bias, -1) for d in dense]))
    output = attention._output_dense
    block.attention_output.kernel.assign(np.reshape(output.kernel, (hidden_dim, hidden_dim)))
    block.attention_output.bias.assign(output.bias)
    pairs = [
        (block.attention_norm, reference._self_attention_layer_norm),
        (block.feedforward_norm, reference._feedforward_layer_norm),
        (block.feedforward_intermediate, reference._feedforward_intermediate_dense),
        (block.feedforward_output, reference._feedforward_output_dense),
    ]
    for ours, theirs in pairs:
        ours.set_weights(theirs.get_weights())
    return reference, block


def test_block_computes_what_keras_hub_decoder_block_does():
    reference, block = _keras_hub_block_and_gpt_block()
    x = np.random.default_rng(0).normal(size=(2, 6, 8)).astype("float32")
    mask = np.array([[1] * 6, [1] * 4 + [0] * 2], dtype=bool)
    expected = reference(x, decoder_padding_mask=mask)
    np.testing.assert_allclose(block(x, padding_mask=mask), expected, atol=1e-5)
    # Without padding: causal attention alone.
    np.testing.assert_allclose(block(x), reference(x), atol=1e-5)


def test_block_attention_by_hand():
    # Zero queries and keys: each position attends equally to itself and every earlier,
    # unpadded one. Values are the normalized inputs, the output projection is the identity
    # and the feed-forward branch gives zero, so position i's output is its input plus the
    # mean of the normalized inputs it may see.
    block = GPTBlock(hidden_dim=2, num_heads=1, intermediate_dim=1, layer_norm_epsilon=0.0)
    block.build((None, None, 2))
    kernel = np.zeros((2, 6), "float32")
    kernel[:, 4:] = np.eye(2)
    block.query_key_value.kernel.assign(kernel)
    block.attention_output.kernel.assign(np.eye(2))
    block.feedforward_output.kernel.assign(np.zeros((1, 2)))
    x = np.array([[[3.0, 1.0], [0.0, 2.0], [5.0, -1.0]]], dtype="float32")
    # A width-2 LayerNormalization maps (a, b) to (1, -1) when a > b, (-1, 1) otherwise.
    normalized = np.array([[1.0, -1.0], [-1.0, 1.0], [1.0, -1.0]])
    expected = x[0] + np.cumsum(normalized, axis=0) / np.arange(1, 4)[:, None]
    np.testing.assert_allclose(block(x)[0], expected, atol=1e-5)
    # The third position padded: the others no longer see it (the first two do not anyway).
    padded = block(x, padding_mask=np.array([[True, True, False]]))[0]
    np.testing.assert_allclose(padded[:2], expected[:2], atol=1e-5)
    np.testing.assert_allclose(padded[2], x[0, 2] + normalized[:2].mean(0), atol=1e-5)


def test_block_initial_scale_is_keras_hub_s():
    reference = keras_hub.layers.TransformerDecoder(512, 4, normalize_first=True)
    reference.build((None, None, 128))
    block = GPTBlock(128, 4, 512)
    block.build((None, None, 128))
    attention = reference._self_attention_layer
    # Uniform kernels, Glorot's limit for a 128 x 128 matrix: sqrt(6 / (128 + 128)).
    limit = (6 / 256) ** 0.5
    for ours, theirs in [
        (block.query_key_value.kernel, attention._query_dense.kernel),
        (block.attention_output.kernel, attention._output_dense.kernel),
    ]:
        ours, theirs = np.asarray(ours), np.asarray(theirs)
        assert np.abs(ours).max() <= limit and np.abs(theirs).max() <= limit
        assert np.abs(ours).max() > 0.99 * limit
        np.testing.assert_allclose(ours.std(), theirs.std(), rtol=0.05)


def test_block_dropout_only_in_training():
    block = GPTBlock(8, 2, 16, dropout=0.5)
    x = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
    np.testing.assert_allclose(block(x), block(x, training=False))
    assert not np.allclose(block(x, training=True), block(x))


def test_block_fully_padded_row_stays_finite():
    block = GPTBlock(8, 2, 16)
    x = np.random.default_rng(0).normal(size=(1, 4, 8)).astype("float32")
    assert np.all(np.isfinite(block(x, padding_mask=np.zeros((1, 4), bool))))


def test_block_config_round_trip():
    block = GPTBlock(8, 2, 16, dropout=0.2, activation="relu", name="b")
    clone = GPTBlock.from_config(block.get_config())
    assert clone.get_config() == block.get_config()


def test_block_rejects_heads_that_do_not_divide_the_width():
    with pytest.raises(ValueError, match="Expected a multiple of num_heads=3. Received: hidden"):
        GPTBlock(hidden_dim=8, num_heads=3, intermediate_dim=16)


def test_block_rejects_inputs_of_another_width():
    with pytest.raises(ValueError, match=r"hidden_dim=8. Received: input_shape=\(2, 5, 6\)"):
        GPTBlock(8, 2, 16)(np.zeros((2, 5, 6), "float32"))


def test_cached_call_rejects_a_model_without_gpt_blocks():
    ids = keras.Input(shape=(None,), dtype="int32")
    x = keras_hub.layers.TokenAndPositionEmbedding(30, 16, 8, name="embedding")(ids)
    x = keras_hub.layers.TransformerDecoder(16, 2, normalize_first=True)(x)
    old = keras.Model(ids, keras.layers.Dense(30, name="logits")(x), name="gpt")
    with pytest.raises(ValueError, match="Expected a model from build_gpt, made of GPTBlock"):
        gpt_initial_cache(old, batch_size=1)
