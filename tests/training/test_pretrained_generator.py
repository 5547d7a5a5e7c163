"""build_pretrained_generator and the pretrained_generator recipe: a keras-hub causal language
model fine-tuned on local text (every weight, or LoRA), evaluated by perplexity and exported
with generation in the graph; here on a tiny randomly initialised GPT-2 preset."""

import dataclasses
import json

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

import kzoo
from kzoo import build_pretrained_generator
from kzoo.export import export_bundle, export_run
from kzoo.runs import load_run
from kzoo.testing import write_tiny_gpt2_preset
from kzoo_cli import main as kzoo_main

# keras-hub tasks compile themselves; a reloaded one is left uncompiled, and Keras says so.
pytestmark = pytest.mark.filterwarnings("ignore:`compile\\(\\)` was not called")

TEXT = "the cat sat on the mat.\nthe dog ate a bone.\n"


@pytest.fixture(scope="module")
def preset(tmp_path_factory):
    return write_tiny_gpt2_preset(str(tmp_path_factory.mktemp("preset") / "tiny_gpt2"))


def test_fine_tuning_every_weight_lowers_the_loss(preset):
    model = build_pretrained_generator(preset, sequence_length=16)
    assert model.preprocessor.sequence_length == 16
    model.optimizer.learning_rate.assign(1e-2)
    texts = TEXT.splitlines() * 8
    before = model.evaluate(texts, verbose=0, return_dict=True)["loss"]
    model.fit(texts, batch_size=8, epochs=3, verbose=0)
    assert model.evaluate(texts, verbose=0, return_dict=True)["loss"] < before - 0.1


def test_lora_trains_low_rank_updates_alone(preset):
    model = build_pretrained_generator(preset, sequence_length=16, lora_rank=2)
    # Keras' LoRA freezes an EinsumDense kernel (8 inputs x 2 heads x 4) and trains A
    # (8 x 2 x rank) and B (rank x 4), and the bias: of the query and value projections here.
    shapes = {"bias": (2, 4), "lora_kernel_a": (8, 2, 2), "lora_kernel_b": (2, 4)}
    trainable = {w.path.split("/", 2)[-1]: tuple(w.shape) for w in model.trainable_weights}
    assert trainable == {
        f"{layer}/{name}": shape for layer in ("query", "value") for name, shape in shapes.items()
    }
    frozen = {w.path: w.numpy() for w in model.non_trainable_weights}
    model.optimizer.learning_rate.assign(1e-2)
    model.fit(TEXT.splitlines() * 8, batch_size=8, epochs=1, verbose=0)
    for weight in model.non_trainable_weights:
        np.testing.assert_array_equal(weight.numpy(), frozen[weight.path])
    for weight in model.trainable_weights:  # B starts at zero: the update starts at zero
        if weight.path.endswith("lora_kernel_b"):
            assert np.abs(weight.numpy()).sum() > 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"sequence_length": 33}, r"Expected an integer <= 32.*Received: sequence_length=33"),
        ({"lora_rank": 0}, r"argument lora_rank.*Received: lora_rank=0"),
        ({"sampler": "nucleus"}, r"argument sampler. Expected one of .*Received: sampler=nucleus"),
    ],
)
def test_bad_arguments(preset, kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_pretrained_generator(preset, **kwargs)


def test_a_folder_that_is_no_preset(tmp_path):
    with pytest.raises(ValueError, match=r"keras-hub causal language model preset name such as"):
        build_pretrained_generator(str(tmp_path))


@pytest.fixture(scope="module")
def generator_run(preset, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("run")
    train, valid = tmp_path / "train.txt", tmp_path / "valid.txt"
    train.write_text(TEXT * 10)
    valid.write_text("a cat.\nthe end.\n" * 2)
    run, exports = tmp_path / "run", tmp_path / "exports"
    argv = ["train", "pretrained_generator", "--preset", preset, "--train-file", str(train)]
    argv += ["--valid-file", str(valid), "--sequence-length", "16", "--epochs", "2", "--no-xla"]
    argv += ["--batch-size", "4", "--output-dir", str(run), "--export-dir", str(exports)]
    # A high rate, so that the tiny model learns to continue before its end token.
    assert kzoo_main([*argv, "--learning-rate", "0.01"]) == 0
    return run, exports


def test_recipe_fine_tunes_on_local_text_and_serves_prompts(preset, generator_run):
    run, exports = generator_run

    config = json.loads((run / "config.json").read_text())
    assert config["task"] == "pretrained_language_model" and config["preset"] == preset
    assert not (run / "vocabulary.txt").exists()  # the preset's tokenizer, nothing adapted
    metrics = json.loads((run / "metrics.json").read_text())
    np.testing.assert_allclose(metrics["valid"]["perplexity"], np.exp(metrics["valid"]["loss"]))
    log = (run / "run.log").read_text()
    # Lines of 7 tokens ("a", "Ġ", "c", "a", "t", ".", "Ċ"; "the", "Ġ", "e", "n", "d", ".",
    # "Ċ") pack in twos: 14 tokens and the start and end tokens make 16.
    assert "data: valid: 32 characters, 28 tokens, 2 examples" in log

    # The SavedModel generates in the graph what keras-hub's generate does in Python.
    signature = tf.saved_model.load(str(exports / "pretrained_generator" / "1")).signatures[
        "serving_default"
    ]
    prompts = ["the cat", "a"]
    served = [text.decode() for text in signature(prompt=tf.constant(prompts))["text"].numpy()]
    model = keras.models.load_model(run / "model.keras")
    model.compile(sampler="greedy")
    assert served == model.generate(prompts, strip_prompt=True)
    assert any(served)  # the tiny model does not end every prompt at once


def test_kzoo_generate_and_a_preset_of_the_run(generator_run, tmp_path):
    run, _ = generator_run
    prompts = ["the cat", "a"]
    model = keras.models.load_model(run / "model.keras")
    model.compile(sampler="greedy")
    # 6 new tokens after the longest prompt: its 5 tokens and the start token.
    expected = model.generate(prompts, max_length=12, strip_prompt=True)
    assert kzoo.generate(str(run), prompts, max_new_tokens=6) == expected
    sampled = kzoo.generate(str(run), "the", 6, sampler="top_k", k=3, seed=4)
    assert sampled == kzoo.generate(str(run), "the", 6, sampler="top_k", k=3, seed=4)
    preset = kzoo.save_preset(run, tmp_path / "preset")
    ready = kzoo.from_preset(preset)
    assert isinstance(ready, keras_hub.models.CausalLM)
    assert kzoo.generate(ready, prompts, max_new_tokens=6) == expected
    assert kzoo.generate(str(preset), prompts, max_new_tokens=6) == expected
    # The run's sampler (greedy) comes back with the preset, which serves with it.
    assert isinstance(ready.sampler, keras_hub.samplers.GreedySampler)
    version = export_run(str(preset), export_dir=str(tmp_path / "exports"))
    served = tf.saved_model.load(version).signatures["serving_default"](prompt=tf.constant(prompts))
    assert [text.decode() for text in served["text"].numpy()] == model.generate(
        prompts, strip_prompt=True
    )
    with pytest.raises(ValueError, match=r"Expected at most 26: the model's context of 32"):
        kzoo.generate(ready, prompts, max_new_tokens=27)


def test_a_random_sampler_exports_and_draws_in_the_graph(generator_run, tmp_path):
    run, _ = generator_run
    bundle, _ = load_run(run)
    bundle = dataclasses.replace(bundle, sampler="top_k")
    # The check after export compares the SavedModel's first answer with the in-memory one.
    version = export_bundle(bundle, str(tmp_path), "generator")
    signature = tf.saved_model.load(version).signatures["serving_default"]
    answers = {signature(prompt=tf.constant(["the cat"]))["text"].numpy()[0] for _ in range(5)}
    assert len(answers) > 1  # each request draws anew


def test_kzoo_perplexity_of_the_run(generator_run):
    run, _ = generator_run
    texts = ["the cat sat.", "a bone."]
    model = keras.models.load_model(run / "model.keras")
    x, y, weights = model.preprocessor(tf.constant(texts))
    log_probabilities = tf.nn.log_softmax(model(x)).numpy()
    picked = np.take_along_axis(log_probabilities, y.numpy()[..., None], axis=-1)[..., 0]
    weights = weights.numpy().astype(bool)
    # Every token after the start token, the end token included: 10 + 1 and 7 + 1 tokens.
    assert weights.sum() == 19
    expected = np.exp(-picked[weights].mean())
    np.testing.assert_allclose(kzoo.perplexity(str(run), texts), expected, rtol=1e-5)
