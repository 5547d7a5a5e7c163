"""The backends benchmark's arithmetic (its runs are timed by `python -m benchmarks backends`)."""

from benchmarks import backends


def test_steady_epoch_is_the_fastest_after_the_first_and_warm_up_the_first_one_s_excess(
    tmp_path,
):
    (tmp_path / "history.csv").write_text(
        "epoch,epoch_seconds,loss\n0,9.5,1.0\n1,2.5,0.9\n2,2.0,0.8\n", encoding="utf-8"
    )
    assert backends.epoch_figures(str(tmp_path)) == (2.0, 7.5)


def test_one_epoch_is_its_own_steady_epoch(tmp_path):
    (tmp_path / "history.csv").write_text("epoch,epoch_seconds\n0,4.0\n", encoding="utf-8")
    assert backends.epoch_figures(str(tmp_path)) == (4.0, 0.0)


def test_tensorflow_is_always_timed():
    assert backends.installed_backends()[0] == "tensorflow"
