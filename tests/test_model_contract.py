"""The contract every registered model passes, run on each model's declared tiny config.

It runs on whichever Keras backend the process has (`KERAS_BACKEND`); tests/test_backends.py
runs this same file on JAX and PyTorch in subprocesses.
"""

import copy

import keras
import numpy as np
import pytest
import tensorflow as tf

import kzoo
from kzoo.registry import get_model_entry

MODEL_NAMES = kzoo.list_models()
BACKEND = keras.backend.backend()


def _tiny(name):
    entry = get_model_entry(name)
    assert entry.tiny is not None, f"{name} declares no TinyConfig"
    return entry, entry.tiny


def _build(name, rng):
    entry, tiny = _tiny(name)
    keras.utils.set_random_seed(0)
    return entry.builder(**tiny.kwargs), tiny.inputs(rng), tiny


def _numpy(outputs):
    return [keras.ops.convert_to_numpy(x) for x in keras.tree.flatten(outputs)]


def _assert_outputs_close(actual, expected, atol=1e-5):
    actual, expected = _numpy(actual), _numpy(expected)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a, e, atol=atol, rtol=1e-5)


def _without_build_configs(config):
    """Drops the `build_config` of nested layers: it records how a layer was first built, not
    what it is, and keras-hub's TransformerDecoder records a call-built layer and a
    config-built one in two different forms."""
    if isinstance(config, dict):
        return {k: _without_build_configs(v) for k, v in config.items() if k != "build_config"}
    if isinstance(config, (list, tuple)):
        return type(config)(_without_build_configs(v) for v in config)
    return config


def test_registry_lists_every_architecture():
    expected = {
        "lstm_classifier",
        "rnn_generator",
        "cnn_sentiment",
        "kim_cnn",
        "seq2seq",
        "attention_seq2seq",
        "mha_classifier",
        "gan",
        "encoder_decoder_classifier",
        "word2vec",
        "word2vec_classifier",
        "gpt",
        "transformer_seq2seq",
        "bilstm_tagger",
    }
    assert set(MODEL_NAMES) == expected
    for name in MODEL_NAMES:
        entry = get_model_entry(name)
        assert getattr(kzoo, entry.builder.__name__) is entry.builder
        assert entry.description, f"{name} has no docstring summary"
        assert "Example" in entry.builder.__doc__ and "Args:" in entry.builder.__doc__


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_forward_shape_and_finite(name, rng):
    model, inputs, tiny = _build(name, rng)
    outputs = model(inputs, training=False)
    assert tuple(outputs.shape) == tiny.output_shape
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(outputs)))
    # The model also runs on a tf.data pipeline through `predict`.
    predicted = model.predict(tf.data.Dataset.from_tensors(inputs), verbose=0)
    _assert_outputs_close(predicted, outputs)


@pytest.mark.parametrize("name", [n for n in MODEL_NAMES if get_model_entry(n).tiny.padded_inputs])
def test_extra_padding_changes_nothing(name, rng):
    model, inputs, tiny = _build(name, rng)
    outputs = keras.ops.convert_to_numpy(model(inputs))
    padded = keras.ops.convert_to_numpy(model(tiny.padded_inputs(inputs)))
    # Sequence outputs grow with the padding; the steps that were there before must not change.
    padded = padded[tuple(slice(0, n) for n in outputs.shape)]
    np.testing.assert_allclose(padded, outputs, atol=1e-5)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_get_config_round_trip(name, rng):
    model, _, _ = _build(name, rng)
    config = model.get_config()
    # from_config may consume the dict it is given.
    rebuilt = model.__class__.from_config(copy.deepcopy(config))
    assert _without_build_configs(rebuilt.get_config()) == _without_build_configs(config)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_keras_file_round_trip(name, rng, tmp_path):
    model, inputs, _ = _build(name, rng)
    expected = model(inputs)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    # No custom_objects: kzoo's layers and models are registered serializables.
    reloaded = keras.models.load_model(path)
    _assert_outputs_close(reloaded(inputs), expected)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_xla_train_step_gives_finite_loss(name, rng):
    model, inputs, tiny = _build(name, rng)
    model.jit_compile = True
    # The setter falls back to False, with a warning, when a layer cannot be XLA-compiled.
    assert model.jit_compile is True, f"{name} cannot be XLA-compiled"
    targets = tiny.targets(rng) if tiny.targets else None
    if tiny.training_inputs:
        inputs = tiny.training_inputs(rng)
    logs = model.train_on_batch(inputs, targets, return_dict=True)
    assert logs, "train_on_batch returned no losses"
    for key, value in logs.items():
        assert np.isfinite(value), f"{key}={value}"


@pytest.mark.skipif(
    BACKEND != "tensorflow",
    reason="kzoo exports from TensorFlow (kzoo.backends): Keras' own export from JAX cannot "
    "trace keras-hub's position embeddings over a variable length",
)
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_saved_model_export_round_trip(name, rng, tmp_path):
    model, inputs, _ = _build(name, rng)
    expected = model(inputs)
    path = str(tmp_path / name)
    model.export(path, verbose=False)
    reloaded = tf.saved_model.load(path)
    _assert_outputs_close(reloaded.serve(inputs), expected)


@pytest.mark.parametrize("name", [n for n in MODEL_NAMES if get_model_entry(n).tiny.targets])
def test_gradients_reach_every_weight(name, rng):
    model, inputs, tiny = _build(name, rng)
    targets = tiny.targets(rng)
    gradients = _gradients(model, inputs, targets)
    for variable, gradient in zip(model.trainable_variables, gradients):
        assert gradient is not None, f"no gradient reaches {variable.path}"
        assert np.any(np.asarray(gradient) != 0), f"zero gradient: {variable.path}"


def _gradients(model, inputs, targets):
    """The loss's gradients for the trainable variables, as NumPy arrays, on this backend."""

    def loss_of(predictions):
        return model.compute_loss(x=inputs, y=targets, y_pred=predictions, training=True)

    if BACKEND == "tensorflow":
        with tf.GradientTape() as tape:
            loss = loss_of(model(inputs, training=True))
        gradients = tape.gradient(loss, model.trainable_variables)
        return [None if g is None else tf.convert_to_tensor(g).numpy() for g in gradients]
    if BACKEND == "jax":
        import jax

        def stateless_loss(trainable, non_trainable):
            predictions, _ = model.stateless_call(trainable, non_trainable, inputs, training=True)
            return loss_of(predictions)

        values = [v.value for v in model.trainable_variables]
        fixed = [v.value for v in model.non_trainable_variables]
        return [np.asarray(g) for g in jax.grad(stateless_loss)(values, fixed)]
    model.zero_grad()
    loss_of(model(inputs, training=True)).backward()
    return [
        None if v.value.grad is None else v.value.grad.detach().cpu().numpy()
        for v in model.trainable_variables
    ]


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_mixed_precision_keeps_float32_outputs(name, rng):
    keras.config.set_dtype_policy("mixed_bfloat16")
    model, inputs, _ = _build(name, rng)
    outputs = model(inputs)
    for output in keras.tree.flatten(outputs):
        assert keras.backend.standardize_dtype(output.dtype) == "float32"
        assert np.all(np.isfinite(keras.ops.convert_to_numpy(output)))
