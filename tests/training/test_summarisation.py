"""The summarisation recipe: the attention seq2seq on (article, summary) pairs, with ROUGE and a
lead baseline, from the embedded news corpus, a TFDS summarisation dataset or local files."""

import json

import pytest
import tensorflow as tf

from kzoo.tasks import Data
from kzoo.tasks.translation import TranslationTask
from kzoo_cli import main as kzoo_main

TINY = [
    "--epochs",
    "1",
    "--no-xla",
    "--batch-size",
    "16",
    "--set",
    "model_args.latent_dim=8",
    "--set",
    "model_args.embedding_dim=4",
    "--max-decode-length",
    "6",
]


def test_summarisation_on_embedded_news_reports_rouge_and_exports(tmp_path):
    run, exports = tmp_path / "run", tmp_path / "exports"
    argv = ["--num-examples", "200", "--output-dir", str(run), "--export-dir", str(exports)]
    assert kzoo_main(["train", "summarisation", *TINY, *argv]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test"].keys() >= {"rouge1", "rouge2", "rougeL", "bleu", "exact_match"}
    (baseline_key,) = [k for k in metrics if k.startswith("lead_")]
    assert 0.0 < metrics[baseline_key]["rouge1"] < 100.0
    config = json.loads((run / "config.json").read_text())
    assert config["dataset"] == "embedded:news"
    assert config["standardize"] == "split_punctuation"
    serve = tf.saved_model.load(str(exports / "summarisation" / "1")).signatures["serving_default"]
    out = serve(text=tf.constant(["The Tigers beat the Sharks 3-1 on Friday in Lyon."]))
    assert out["translation"].shape == (1,)


def test_summarisation_from_a_tfds_dataset_by_feature_names(tmp_path):
    import tensorflow_datasets as tfds

    argv = ["--dataset", "tfds", "--no-export", "--output-dir", str(tmp_path / "run")]
    with tfds.testing.mock_data(num_examples=24):  # gigaword: document → summary
        assert kzoo_main(["train", "summarisation", *TINY, *argv]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert 0.0 <= metrics["test"]["rougeL"] <= 100.0


def test_lead_baseline_takes_the_mean_summary_length():
    from kzoo.recipes.summarisation import lead_baseline

    data = Data(
        train=None,
        raw={
            "train": (["x"] * 2, ["one two", "one two three four"]),  # mean length 3
            "test": (["a man rides a red bike today", "b"], ["a man rides", "b"]),
        },
    )
    length, scores = lead_baseline(data, "test")
    assert length == 3
    assert scores == TranslationTask.scores(["a man rides", "b"], ["a man rides", "b"])


def test_unknown_embedded_corpus_is_an_error():
    config = {"train_file": [], "dataset": "embedded:poems", "seed": 0, "num_examples": None}
    with pytest.raises(ValueError, match=r"Expected one of \['embedded:dates', 'embedded:news'\]"):
        TranslationTask(config)._raw_splits()


def test_a_split_punctuation_run_exports_again_from_its_folder(tmp_path):
    from kzoo.export import export_run

    run = tmp_path / "run"
    argv = ["--num-examples", "200", "--output-dir", str(run), "--no-export"]
    assert kzoo_main(["train", "summarisation", *TINY, *argv]) == 0
    path = export_run(str(run), export_dir=str(tmp_path / "exports"))
    serve = tf.saved_model.load(path).signatures["serving_default"]
    out = serve(text=tf.constant(["The Tigers beat the Sharks 3-1 on Friday in Lyon."]))
    assert out["translation"].shape == (1,)
