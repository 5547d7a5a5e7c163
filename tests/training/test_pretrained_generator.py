"""build_pretrained_generator: a keras-hub causal language model fine-tuned on raw text (every
weight, or LoRA); here on a tiny randomly initialised GPT-2 preset."""

import numpy as np
import pytest

from kzoo import build_pretrained_generator
from kzoo.testing import write_tiny_gpt2_preset

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
