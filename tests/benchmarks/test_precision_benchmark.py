"""The precision benchmark's arithmetic (its runs are timed by `python -m benchmarks precision`)."""

import json

import pytest

from benchmarks import precision


def test_throughput_is_the_fastest_epoch_after_the_first_by_its_training_seconds(tmp_path):
    (tmp_path / "history.csv").write_text(
        "epoch,epoch_seconds,loss,train_seconds\n0,9.5,1.0,9.0\n1,4.0,0.9,2.5\n2,3.0,0.8,2.0\n",
        encoding="utf-8",
    )
    (tmp_path / "config.json").write_text(json.dumps({"batch_size": 50}), encoding="utf-8")
    # 100 steps of 50 examples in the 2.0 training seconds of epoch 2 (its validation left out).
    assert precision.steady_throughput(str(tmp_path), 100) == pytest.approx(2500.0)


def test_quality_is_the_validation_split_s(tmp_path):
    metrics = {"valid": {"accuracy": 0.75, "loss": 0.5}, "test": {"accuracy": 0.7, "loss": 0.6}}
    (tmp_path / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    assert precision.validation_quality(str(tmp_path)) == (0.75, 0.5)
    (tmp_path / "metrics.json").write_text(json.dumps({"valid": {"loss": 1.5}}), "utf-8")
    assert precision.validation_quality(str(tmp_path)) == (None, 1.5)


@pytest.mark.parametrize(
    "ratio, accuracy, loss, expected",
    [
        (1.3, (0.750, 0.746), (0.500, 0.5049), "meets the bar"),
        (1.0, (0.750, 0.750), (0.500, 0.500), "slower"),
        (1.3, (0.750, 0.744), (0.500, 0.500), "accuracy more than 0.5 points lower"),
        (1.3, (None, None), (1.500, 1.5151), "validation loss more than 1 % higher"),
        (
            0.5,
            (0.750, 0.700),
            (0.500, 0.600),
            "slower; accuracy more than 0.5 points lower; validation loss more than 1 % higher",
        ),
    ],
)
def test_verdict_names_every_part_of_the_bar_that_is_missed(ratio, accuracy, loss, expected):
    assert precision.verdict(ratio, accuracy, loss) == expected
