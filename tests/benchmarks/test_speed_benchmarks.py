"""The arithmetic of the speed benchmarks: FLOP counting (flops) and time to target (speed)."""

import os
from concurrent.futures.process import BrokenProcessPool

import keras
import pytest

from benchmarks import flops, speed


def test_dense_flops_are_two_times_batch_in_out():
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
    assert flops.forward_flops(model, (4, 5), "float32") == 2 * 4 * 5 * 3
    assert flops.training_flops(model, (4, 5), "float32") == 3 * 2 * 4 * 5 * 3


def test_dense_on_sequences_counts_every_step():
    model = keras.Sequential(
        [keras.Input((7, 5)), keras.layers.Dense(3), keras.layers.Dense(2, use_bias=False)]
    )
    assert flops.forward_flops(model, (4, 7, 5), "float32") == 2 * 4 * 7 * (5 * 3 + 3 * 2)


def test_multi_head_attention_flops_match_the_hand_count():
    batch, steps, width, heads, key_dim = 2, 6, 8, 2, 4
    inputs = keras.Input((steps, width))
    outputs = keras.layers.MultiHeadAttention(heads, key_dim)(inputs, inputs)
    model = keras.Model(inputs, outputs)
    projections = 3 * 2 * batch * steps * width * heads * key_dim  # query, key, value
    output = 2 * batch * steps * heads * key_dim * width
    scores_and_mix = 2 * (2 * batch * heads * steps * steps * key_dim)
    expected = projections + output + scores_and_mix
    assert flops.forward_flops(model, (batch, steps, width), "float32") == expected


def test_flops_need_a_static_shape():
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="is not static"):
        flops.forward_flops(model, (None, 5), "float32")


def test_speed_figures_split_warmup_from_steady_state():
    result = {
        "seconds": [12.0, 3.0, 2.0, 4.0],
        "val_accuracy": [0.70, 0.755, 0.77, 0.78],
        "prepare": 1.5,
        "examples": 1000,
    }
    warmup, throughput, reached = speed._figures(result)
    assert warmup == pytest.approx(10.0)  # 12 s minus the fastest later epoch
    assert throughput == pytest.approx(500.0)
    assert reached == (3, pytest.approx(1.5 + 12.0 + 3.0 + 2.0))
    result.update(val_accuracy=[0.5, 0.6, 0.7, 0.75], prepare=0.0, examples=10)
    assert speed._figures(result)[2] is None


def test_a_way_runs_in_a_fresh_process_and_its_result_comes_back():
    assert speed._in_a_process(os.getpid) != os.getpid()
    assert speed._in_a_process(sorted, {3: "c", 1: "a"}) == [1, 3]


def test_a_way_whose_process_dies_raises_instead_of_waiting():
    with pytest.raises(BrokenProcessPool):
        speed._in_a_process(os._exit, 3)


def test_speed_ratios_are_the_median_and_range_over_rounds():
    assert speed._ratio_cell([1.234]) == "1.23x"
    assert speed._ratio_cell([2.5, 1.5, 2.0]) == "2.00x [1.50-2.50]"
