"""The `mixed_precision` setting: true, false or `auto`, which trains in mixed bfloat16 without
XLA on a CPU with AMX or AVX512-BF16 and in float32 elsewhere (its speed: `python -m benchmarks
precision`)."""

import json

import pytest
import tensorflow as tf

from kzoo.distribute import cpu, placement
from kzoo.training import parse_settings
from kzoo_cli import main as kzoo_main

DEMO = {"recipe": "demo", "model": "lstm_classifier", "task": "classification"}
AMX_WHY = "this CPU has AMX bfloat16 units"
AVX512_BF16_WHY = "this CPU has AVX512-BF16 instructions"
AMX = "processor\t: 0\nflags\t\t: fpu avx512f amx_tile amx_bf16 avx512_bf16\n"


def test_bfloat16_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(AMX + "\n" + AMX.replace(": 0", ": 1"), encoding="utf-8")
    assert cpu.bfloat16_flags(str(cpuinfo)) == ["amx_bf16", "avx512_bf16"]
    cpuinfo.write_text("flags\t\t: fpu avx2\n", encoding="utf-8")
    assert cpu.bfloat16_flags(str(cpuinfo)) == []
    assert cpu.bfloat16_flags(str(tmp_path / "missing")) == []


@pytest.mark.parametrize(
    "argv, expected",
    [
        ([], False),
        (["--mixed-precision"], True),
        (["--no-mixed-precision"], False),
        (["--set", "mixed_precision=auto"], "auto"),
        (["--set", "mixed_precision=AUTO"], "auto"),
        (["--set", "mixed_precision=on"], True),
    ],
)
def test_mixed_precision_is_true_false_or_auto(argv, expected):
    assert parse_settings(DEMO, argv)["mixed_precision"] == expected


def test_mixed_precision_auto_from_a_recipe_and_flags_over_it():
    recipe = {**DEMO, "mixed_precision": "auto"}
    assert parse_settings(recipe, [])["mixed_precision"] == "auto"
    assert parse_settings(recipe, ["--no-mixed-precision"])["mixed_precision"] is False


def test_mixed_precision_other_values_are_refused(capsys):
    with pytest.raises(SystemExit):
        parse_settings(DEMO, ["--set", "mixed_precision=sometimes"])
    assert (
        "Invalid value for setting mixed_precision. Expected true, false or auto. "
        "Received: mixed_precision=sometimes" in capsys.readouterr().err
    )


@pytest.mark.parametrize(
    "flags, mixed, expected",
    [
        (["amx_bf16", "avx512_bf16"], "auto", ("mixed_bfloat16", f"auto: {AMX_WHY}")),
        (["avx512_bf16"], "auto", ("mixed_bfloat16", f"auto: {AVX512_BF16_WHY}")),
        ([], "auto", ("float32", None)),
        ([], True, ("mixed_bfloat16", None)),
        (["amx_bf16"], False, ("float32", None)),
    ],
)
def test_auto_precision_on_tensorflow_cpus(monkeypatch, flags, mixed, expected):
    monkeypatch.setattr(placement, "bfloat16_flags", lambda: flags)
    on_cpu = placement.TensorFlowPlacement(tf.distribute.get_strategy())
    assert on_cpu.precision(mixed) == expected


# One bfloat16 instruction set stands for both: the runner treats them alike (each one's
# choice and reason: test_auto_precision_on_tensorflow_cpus).
@pytest.mark.parametrize("flags, why", [(["amx_bf16"], AMX_WHY), ([], None)])
def test_auto_precision_trains_and_exports(monkeypatch, tmp_path, capsys, flags, why):
    monkeypatch.setattr(placement, "bfloat16_flags", lambda: flags)
    run_dir, export_dir = tmp_path / "run", tmp_path / "exports"
    argv = ["--epochs", "1", "--steps-per-epoch", "4", "--set", "model_args.units=16"]
    argv += ["--set", "mixed_precision=auto", "--output-dir", str(run_dir)]
    argv += ["--export-dir", str(export_dir)]
    assert kzoo_main(["train", "rnn_generator", *argv]) == 0
    out = capsys.readouterr().out
    if why:
        assert f"precision mixed_bfloat16 (auto: {why})" in out
        assert "XLA off for rnn_generator: mixed bfloat16 (auto)" in out
    else:
        assert "precision float32;" in out and "XLA off" not in out
    # The run's settings keep "auto": a resumed or repeated run decides again on its machine.
    assert json.loads((run_dir / "config.json").read_text())["mixed_precision"] == "auto"
    signature = tf.saved_model.load(str(export_dir / "rnn_generator" / "1")).signatures[
        "serving_default"
    ]
    ((key, spec),) = signature.structured_input_signature[1].items()
    outputs = signature(**{key: tf.constant(["To be", "or"], dtype=spec.dtype)})
    assert all(int(value.shape[0]) == 2 for value in outputs.values())
