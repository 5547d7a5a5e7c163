"""Recipes train on local files of every supported format, and on TFDS datasets (offline,
through `tfds.testing.mock_data`)."""

import json
import re

import numpy as np
import pytest

from kzoo_cli import main as kzoo_main

SMALL = {
    "cnn_sentiment": ["--set", "model_args.filters=4", "--set", "model_args.embedding_dim=8"],
    "lstm_classifier": ["--set", "model_args.units=4"],
    "rnn_generator": ["--set", "model_args.units=8", "--sequence-length", "16"],
    "seq2seq": ["--set", "model_args.latent_dim=8", "--set", "model_args.embedding_dim=4"],
    "gan": ["--set", "model_args.latent_dim=8", "--batch-size", "4"],
    "word2vec": ["--set", "model_args.embedding_dim=8", "--batch-size", "64"],
}
WORDS = "good bad fine dull great poor lovely awful film movie plot actors".split()


def _train(name, tmp_path, *arguments):
    run = tmp_path / "run"
    argv = ["train", name, "--epochs", "1", "--no-xla", "--no-export", "--output-dir", str(run)]
    assert kzoo_main([*argv, *SMALL[name], *arguments]) == 0
    return run, json.loads((run / "metrics.json").read_text())


def _sentences(rng, count):
    return [" ".join(rng.choice(WORDS, size=rng.integers(3, 9))) for _ in range(count)]


def test_classification_from_label_text_lines(tmp_path, rng):
    for split, count in (("train", 60), ("valid", 10), ("test", 10)):
        lines = [f"{rng.choice(['pos', 'neg'])} {s}" for s in _sentences(rng, count)]
        (tmp_path / f"{split}.txt").write_text("\n".join(lines) + "\n")
    run, metrics = _train(
        "cnn_sentiment",
        tmp_path,
        *("--train-file", str(tmp_path / "train.txt")),
        *("--valid-file", str(tmp_path / "valid.txt")),
        *("--test-file", str(tmp_path / "test.txt")),
    )
    assert (run / "class_names.txt").read_text().split() == ["neg", "pos"]
    assert set(metrics) >= {"valid", "test"}


def test_classification_from_csv_columns(tmp_path, rng):
    rows = [f'"{s}",{rng.choice(["LOC", "HUM", "NUM"])}' for s in _sentences(rng, 60)]
    (tmp_path / "train.csv").write_text("review,kind\n" + "\n".join(rows) + "\n")
    run, _ = _train(
        "lstm_classifier",
        tmp_path,
        *("--train-file", str(tmp_path / "train.csv")),
        *("--text-column", "review", "--label-column", "kind"),
    )
    assert (run / "class_names.txt").read_text().split() == ["HUM", "LOC", "NUM"]


def test_classification_one_latin1_file_per_label(tmp_path, rng):
    for label in ("pos", "neg"):
        text = "\n".join(s + " café" for s in _sentences(rng, 30)) + "\n"
        (tmp_path / f"reviews.{label}").write_bytes(text.encode("latin-1"))
    files = [str(tmp_path / "reviews.pos"), str(tmp_path / "reviews.neg")]
    run, _ = _train(
        "cnn_sentiment",
        tmp_path,
        "--train-file",
        files[0],
        "--train-file",
        files[1],
        "--encoding",
        "latin-1",
    )
    assert "café" in (run / "vocabulary.txt").read_text()


def test_mr_protocol_files_after_one_flag_and_a_seeded_test_split(tmp_path, rng, capsys):
    for label in ("pos", "neg"):
        (tmp_path / f"reviews.{label}").write_text("\n".join(_sentences(rng, 50)) + "\n")
    files = [str(tmp_path / "reviews.pos"), str(tmp_path / "reviews.neg")]
    run, metrics = _train(
        "cnn_sentiment", tmp_path, "--train-file", *files, "--test-fraction", "0.1"
    )
    # 100 sentences: 10 held out for test, then 9 of the remaining 90 for validation.
    log = capsys.readouterr().out
    assert "train: 81 examples" in log and "valid: 9 examples" in log
    assert "test: 10 examples" in log
    assert set(metrics) >= {"valid", "test"}
    assert json.loads((run / "config.json").read_text())["train_file"] == files


def test_language_model_from_a_text_file(tmp_path, rng):
    (tmp_path / "corpus.txt").write_text("\n".join(_sentences(rng, 120)) + "\n")
    _, metrics = _train("rnn_generator", tmp_path, "--train-file", str(tmp_path / "corpus.txt"))
    assert metrics["valid"]["loss"] > 0


@pytest.mark.parametrize("layout", ["two_files", "tsv"])
def test_translation_from_local_files(layout, tmp_path, rng):
    sources = _sentences(rng, 80)
    targets = [" ".join(reversed(s.split())) for s in sources]
    if layout == "two_files":
        (tmp_path / "train.src").write_text("\n".join(sources) + "\n")
        (tmp_path / "train.tgt").write_text("\n".join(targets) + "\n")
        files = [
            "--train-file",
            str(tmp_path / "train.src"),
            "--train-file",
            str(tmp_path / "train.tgt"),
        ]
    else:
        (tmp_path / "train.tsv").write_text(
            "".join(f"{s}\t{t}\n" for s, t in zip(sources, targets))
        )
        files = ["--train-file", str(tmp_path / "train.tsv")]
    _, metrics = _train(
        "seq2seq", tmp_path, *files, "--split", "whitespace", "--max-decode-length", "12"
    )
    assert 0.0 <= metrics["valid"]["exact_match"] <= 1.0


def test_gan_from_an_npz_of_images(tmp_path, rng):
    np.savez(tmp_path / "images.npz", images=rng.integers(0, 256, (16, 8, 8, 1), dtype="uint8"))
    run, _ = _train("gan", tmp_path, "--train-file", str(tmp_path / "images.npz"))
    assert json.loads((run / "config.json").read_text())["train_file"] == [
        str(tmp_path / "images.npz")
    ]


def test_word2vec_from_a_text_file(tmp_path, rng):
    (tmp_path / "corpus.txt").write_text("\n".join(_sentences(rng, 200)) + "\n")
    _, metrics = _train("word2vec", tmp_path, "--train-file", str(tmp_path / "corpus.txt"))
    assert metrics["valid"]["neighbours"]


@pytest.mark.parametrize(
    "name, extra",
    [
        ("lstm_classifier", ["--max-length", "20"]),  # imdb_reviews
        ("rnn_generator", ["--sequence-length", "4", "--batch-size", "2"]),  # tiny_shakespeare
        ("seq2seq", ["--split", "whitespace", "--max-decode-length", "8"]),  # ted_hrlr pt→en
        ("gan", []),  # mnist
    ],
)
def test_recipe_tfds_default_offline_with_mock_data(name, extra, tmp_path):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=24):
        _train(name, tmp_path, "--dataset", "tfds", *extra)


def test_dataset_tfds_without_a_tfds_default_is_an_error():
    from kzoo.tasks.base import tfds_name as _tfds_name

    assert _tfds_name({"dataset": "tfds", "tfds_name": "mnist"}) == "mnist"
    assert _tfds_name({"dataset": "glue/sst2", "tfds_name": "mnist"}) == "glue/sst2"
    with pytest.raises(ValueError, match="as this recipe names no TFDS default"):
        _tfds_name({"dataset": "tfds", "tfds_name": None})


def test_a_text_too_short_for_one_window_is_a_clear_error(tmp_path):
    (tmp_path / "tiny.txt").write_text("just a few words\n")
    with pytest.raises(ValueError, match="too few for one window of sequence_length=16"):
        # --debug: the command line raises the error instead of printing it in one line.
        _train("rnn_generator", tmp_path, "--debug", "--train-file", str(tmp_path / "tiny.txt"))


def test_a_test_label_missing_from_training_is_a_clear_error(tmp_path, rng):
    (tmp_path / "train.txt").write_text(_two_class_lines(rng, 20))
    (tmp_path / "test.txt").write_text("\n".join(f"neutral {s}" for s in _sentences(rng, 5)))
    with pytest.raises(ValueError, match=r"The test split has labels the training split lacks"):
        _train(
            "cnn_sentiment",
            tmp_path,
            "--debug",
            *("--train-file", str(tmp_path / "train.txt")),
            *("--test-file", str(tmp_path / "test.txt")),
        )


def test_test_folds_partition_the_data_for_cross_validation():
    from kzoo.tasks.base import local_splits as _local_splits

    items = (list(range(100)), [f"label {i}" for i in range(100)])
    config = {"train_file": ["f"], "valid_file": None, "test_file": None, "seed": 3}
    config["test_fraction"] = 0.1
    held_out = []
    for fold in range(10):
        splits = _local_splits({**config, "test_fold": fold}, lambda files, split: items)
        train, test = splits["train"], splits["test"]
        assert len(test[0]) == 10 and sorted(train[0] + test[0]) == items[0]
        assert all(label == f"label {i}" for i, label in zip(*test))  # columns stay aligned
        held_out += test[0]
    assert sorted(held_out) == items[0]  # every example is tested exactly once
    # Fold 0 is the split that --test-fraction alone gives.
    assert (
        _local_splits(config, lambda files, split: items)["test"]
        == _local_splits({**config, "test_fold": 0}, lambda files, split: items)["test"]
    )
    with pytest.raises(ValueError, match=r"Expected an integer in \[0, 10\) for test_fraction"):
        _local_splits({**config, "test_fold": 10}, lambda files, split: items)


# === Labels, bad lines, empty and one-class files ===


def _task(tmp_path, *arguments, task="classification"):
    """The task a classification recipe runs, on `arguments` (no training)."""
    from kzoo.tasks import get_task
    from kzoo.training.config import parse_settings

    recipe = {"recipe": "t", "model": "cnn_sentiment", "task": task}
    argv = ["--output-dir", str(tmp_path / "run"), *arguments]
    return get_task(task)(parse_settings(recipe, argv))


def _two_class_lines(rng, count, extra=()):
    """`count` `<label> <text>` lines of neg and pos, with `extra` {line number: line} in."""
    lines = [f"{('neg', 'pos')[i % 2]} {s}" for i, s in enumerate(_sentences(rng, count))]
    for number, line in sorted(dict(extra).items()):
        lines.insert(number - 1, line)
    return "\n".join(lines) + "\n"


def test_a_two_class_file_with_unlabeled_lines_is_refused(tmp_path, rng):
    # The bug: these two lines made a 4-class model of a 2-class file.
    unlabeled = {101: "if only it were shorter", 202: "jonathan pryce is superb"}
    (tmp_path / "train.txt").write_text(_two_class_lines(rng, 300, unlabeled))
    task = _task(tmp_path, "--train-file", str(tmp_path / "train.txt"))
    with pytest.raises(
        ValueError,
        match=r"train\.txt has the label 'if' only on line 101 of its 302 lines: it looks like a "
        r"line whose label is missing",
    ):
        task.load(32)


def test_bad_lines_skipped_are_counted_in_data_and_its_summary(tmp_path, rng):
    train = _two_class_lines(rng, 60, {5: "pos", 9: "neg  "})
    (tmp_path / "train.txt").write_text(train)
    (tmp_path / "test.txt").write_text(_two_class_lines(rng, 10, {3: "neg"}))
    files = ("--train-file", str(tmp_path / "train.txt"), "--test-file", str(tmp_path / "test.txt"))
    with pytest.raises(
        ValueError,
        match=r"train\.txt line 5 has a label \('pos'\) but no text \(2 bad lines in all\)\. "
        r"To leave such lines out, pass --on-bad-lines warn or --on-bad-lines skip",
    ):
        _task(tmp_path, *files).load(8)
    data = _task(tmp_path, *files, "--on-bad-lines", "skip").load(8)
    assert data.lines_left_out == {"train": 2, "test": 1}  # valid is held out of train
    assert data.summary[:3] == [
        "train: 54 examples, 2 bad lines left out of its files",
        "valid: 6 examples",
        "test: 10 examples, 1 bad line left out of its files",
    ]
    assert data.class_names == ["neg", "pos"]


def test_bad_lines_warned_go_to_the_run_log_and_metrics(tmp_path, rng):
    for split, count, bad in (
        ("train", 60, {5: "pos", 9: "neg"}),
        ("valid", 10, {}),
        ("test", 10, {2: "pos"}),
    ):
        (tmp_path / f"{split}.txt").write_text(_two_class_lines(rng, count, bad))
    run, metrics = _train(
        "cnn_sentiment",
        tmp_path,
        *("--train-file", str(tmp_path / "train.txt")),
        *("--valid-file", str(tmp_path / "valid.txt")),
        *("--test-file", str(tmp_path / "test.txt")),
        *("--on-bad-lines", "warn"),
    )
    log = (run / "run.log").read_text()
    assert "data: train: 60 examples, 2 bad lines left out of its files" in log
    assert "data: valid: 10 examples, 0 bad lines left out of its files" in log
    assert (
        f"data: {tmp_path / 'train.txt'}: left out 2 bad lines, on lines 5, 9; the first has a "
        "label ('pos') but no text." in log
    )
    assert f"data: {tmp_path / 'test.txt'}: left out 1 bad line: line 2 has a label" in log
    assert metrics["train"] == {"lines_left_out": 2}
    assert metrics["valid"]["lines_left_out"] == 0 and metrics["test"]["lines_left_out"] == 1
    assert "accuracy" in metrics["test"]


def test_labels_fix_the_class_ids_and_admit_rare_classes(tmp_path, rng):
    # 'neutral' on one line of 301 would be refused as a missing label, unless declared.
    (tmp_path / "train.txt").write_text(_two_class_lines(rng, 300, {7: "neutral so so"}))
    train = ("--train-file", str(tmp_path / "train.txt"))
    for labels in (["--labels", "pos,neutral,neg"], ["--labels", "pos", "--labels", "neutral,neg"]):
        splits, class_names, label_ids = _task(tmp_path, *train, *labels)._labeled_splits()
        assert class_names == ["pos", "neutral", "neg"]
        assert label_ids == {"pos": 0, "neutral": 1, "neg": 2}
    assert _task(tmp_path, *train, "--labels", "pos,neutral,neg").load(8).class_names == [
        "pos",
        "neutral",
        "neg",
    ]


def test_labels_refuse_undeclared_labels(tmp_path, rng):
    (tmp_path / "train.txt").write_text(_two_class_lines(rng, 30, {4: "neutral so so"}))
    task = _task(tmp_path, "--train-file", str(tmp_path / "train.txt"), "--labels", "neg,pos")
    with pytest.raises(
        ValueError,
        match=r"train\.txt line 4 has the label 'neutral', not one of the declared labels "
        r"\['neg', 'pos'\]\. To leave such lines out, pass --on-bad-lines",
    ):
        task.load(8)


def test_a_declared_label_without_training_examples_is_an_error(tmp_path, rng):
    (tmp_path / "train.txt").write_text(_two_class_lines(rng, 30))
    task = _task(
        tmp_path, "--train-file", str(tmp_path / "train.txt"), "--labels", "neg,neutral,pos"
    )
    with pytest.raises(
        ValueError,
        match=rf"^{tmp_path / 'train.txt'} has no example of 'neutral', declared by --labels: a "
        r"class without training examples cannot be learned\.",
    ):
        task.load(8)


def test_labels_setting_is_checked(tmp_path, rng):
    (tmp_path / "train.txt").write_text(_two_class_lines(rng, 30))
    task = _task(tmp_path, "--train-file", str(tmp_path / "train.txt"), "--labels", "pos,pos")
    with pytest.raises(
        ValueError,
        match=r"Invalid value for setting labels\. Expected at least two distinct class names, "
        r"e\.g\. --labels neg,pos\. Received: labels=pos,pos",
    ):
        task.load(8)


def test_labels_are_for_local_files(tmp_path):
    task = _task(tmp_path, "--labels", "neg,pos", "--num-examples", "50")
    with pytest.raises(
        ValueError,
        match=r"Invalid value for setting labels\. Expected no labels with dataset=embedded",
    ):
        task.load(8)


def test_an_empty_file_is_an_error_naming_it(tmp_path, rng):
    (tmp_path / "train.txt").write_text(_two_class_lines(rng, 30))
    (tmp_path / "valid.txt").write_text("\n \n")
    files = (
        "--train-file",
        str(tmp_path / "train.txt"),
        "--valid-file",
        str(tmp_path / "valid.txt"),
    )
    with pytest.raises(ValueError, match=r"valid\.txt has 0 examples: no non-blank line\.$"):
        _task(tmp_path, *files).load(8)


def test_a_single_class_is_refused_before_any_vocabulary_is_adapted(tmp_path, rng, monkeypatch):
    from kzoo.tasks import classification as tasks

    def no_vectorizer(*args, **kwargs):
        raise AssertionError("a vectorizer was adapted")

    monkeypatch.setattr(tasks.vectorization, "make_vectorizer", no_vectorizer)
    lines = [f"pos {s}" for s in _sentences(rng, 412)]
    (tmp_path / "train.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(
        ValueError,
        match=r"train\.txt has one class, 'pos', in 412 lines: a classifier needs at least two; "
        r"for one file per label, give one --train-file per label\.$",
    ):
        _task(tmp_path, "--train-file", str(tmp_path / "train.txt")).load(8)


def test_a_dataset_without_examples_is_named():
    from kzoo.tasks.classification import _check_training_classes

    with pytest.raises(ValueError, match=r"^TFDS dataset x \(train split\) has 0 examples\.$"):
        _check_training_classes([], "TFDS dataset x (train split)")


def test_the_pretrained_task_checks_labels_alike(tmp_path, rng):
    unlabeled = {101: "if only it were shorter"}
    (tmp_path / "train.txt").write_text(_two_class_lines(rng, 300, unlabeled))
    task = _task(
        tmp_path, "--train-file", str(tmp_path / "train.txt"), task="pretrained_classification"
    )
    with pytest.raises(ValueError, match=r"train\.txt has the label 'if' only on line 101"):
        task.load(8)
    task = _task(
        tmp_path,
        *("--train-file", str(tmp_path / "train.txt"), "--labels", "pos,neg"),
        *("--on-bad-lines", "skip"),
        task="pretrained_classification",
    )
    data = task.load(8)
    assert data.class_names == ["pos", "neg"] and data.lines_left_out == {"train": 1}
    assert data.summary[0].endswith("examples, 1 bad line left out of its files")


# === --valid-file and --test-file beside an embedded or TFDS corpus ===


def test_held_out_files_replace_an_embedded_corpus_splits(tmp_path, rng):
    # A classifier trained on the embedded sentences, validated and tested on local files
    # labelled with the corpus's classes.
    def lines(count):
        text = _two_class_lines(rng, count)
        return text.replace("neg ", "negative ").replace("pos ", "positive ")

    (tmp_path / "valid.txt").write_text(lines(30))
    (tmp_path / "test.txt").write_text(test_text := lines(50))
    task = _task(
        tmp_path,
        *("--num-examples", "200"),
        *("--valid-file", str(tmp_path / "valid.txt")),
        *("--test-file", str(tmp_path / "test.txt")),
    )
    data = task.load(32)
    assert "valid: 30 examples" in data.summary and "test: 50 examples" in data.summary
    assert data.raw["test"][0] == [line.split(" ", 1)[1] for line in test_text.splitlines()]


def test_a_language_model_validates_on_its_valid_file_whatever_it_trains_on(tmp_path):
    (tmp_path / "valid.txt").write_text("a held-out text\n")
    task = _task(tmp_path, "--valid-file", str(tmp_path / "valid.txt"), task="language_model")
    train, valid = task._text()
    assert valid == "a held-out text\n" and len(train) > 10_000  # the whole embedded prose


@pytest.mark.parametrize(
    "task, split, reads",
    [
        ("language_model", "test", "--valid-file"),
        ("gan", "valid", "no file"),
        ("word2vec", "test", "no file"),
    ],
)
def test_a_held_out_file_a_task_does_not_read_is_an_error(tmp_path, task, split, reads):
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"Invalid value for setting {split}_file. Expected no --{split}-file for a {task} "
            f"run, which reads {reads} besides its training data. Received: "
            f"{split}_file=held_out.txt"
        ),
    ):
        _task(tmp_path, f"--{split}-file", "held_out.txt", task=task)
