"""The tagging benchmark: its cases read the files of the data folder's layout as the issue
asks, and its table is built from the runs' metrics."""

import argparse
import gzip
import importlib
import json

import pytest

from benchmarks import tagging
from kzoo.tasks.token_classification import TokenClassificationTask
from kzoo.training import parse_settings

SETTINGS = importlib.import_module("kzoo.recipes.bilstm_tagger").SETTINGS


def _write(path, lines):
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n\n")


def _stand_in_data(tmp_path):
    """Two-sentence files named and laid out as ../shared/data/tagging's."""
    folder = tmp_path / "data" / "tagging"
    folder.mkdir(parents=True)
    for split, word in (("train", "Dogs"), ("dev", "Cats"), ("test", "Birds")):
        _write(
            folder / f"en_ewt-ud-{split}.conllu.gz",
            ["# text = Dogs bark", f"1\t{word}\t-\tNOUN\tNNS\t_\t2\tnsubj\t_\t_"]
            + [
                "2\tbark\tbark\tVERB\tVBP\t_\t0\troot\t_\t_",
                "",
                f"1\t{word}\t-\tNOUN\t-\t_\t0\t_\t_\t_",
            ],
        )
    second = ["1\tAcme\tB-ORG\t-\t-", "2\tLtd\tI-ORG\t-\t-", "3\tsees\tO\t-\t-"]
    second.append("4\tOslo\tB-LOC\t-\t-")
    for split, word, tag in (("dev", "Anna", "B-PER"), ("test", "Oslo", "B-LOC")):
        first = ["# sent_id = 1", f"1\t{word}\t{tag}\t-\t-", "2\tsings\tO\t-\t-"]
        _write(folder / f"uner_en_ewt-{split}.iob2.gz", [*first, "", *second])
    return str(tmp_path / "data")


@pytest.mark.parametrize("name", ["upos", "ner", "ner_embedded"])
def test_each_case_reads_its_files(name, tmp_path):
    _, options = tagging.cases(_stand_in_data(tmp_path))[name]
    argv = [*options, "--num-examples", "30", "--output-dir", str(tmp_path / "run")]
    data = TokenClassificationTask(parse_settings(SETTINGS, argv)).load(4)
    words, tags = data.raw["test"]
    if name == "upos":
        assert words == [["Birds", "bark"], ["Birds"]] and tags == [["NOUN", "VERB"], ["NOUN"]]
        assert data.raw["valid"][0] == [["Cats", "bark"], ["Cats"]]
    else:  # Universal NER's test annotations, words in column 2 and tags in column 3
        assert words == [["Oslo", "sings"], ["Acme", "Ltd", "sees", "Oslo"]]
        assert tags == [["B-LOC", "O"], ["B-ORG", "I-ORG", "O", "B-LOC"]]


def _finished_run(run_dir, metrics):
    run_dir.mkdir(parents=True)
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    (run_dir / "config.json").write_text(json.dumps({"model_args": {"units": 100}}))
    (run_dir / "history.csv").write_text("epoch,epoch_seconds\n0,30.0\n1,50.0\n2,40.0\n")


def test_the_table_and_notes_come_from_the_runs_metrics(tmp_path):
    per_type = {
        kind: {"precision": 0.5, "recall": 0.5, "f1": f1, "support": 4}
        for kind, f1 in (("LOC", 0.5), ("ORG", 0.25), ("PER", 0.75))
    }
    entities = {"precision": 0.6, "recall": 0.4, "f1": 0.48, "per_type": per_type}
    runs = tmp_path / "runs"
    # Finished runs are reused, not run again: the benchmark reads them as it reads its own.
    upos = {"valid": {"accuracy": 0.95}, "test": {"accuracy": 0.9412, "words": 17}}
    _finished_run(runs / "upos", upos)
    ner = {"accuracy": 0.9, "words": 10, "entities": ["LOC: ...", "ORG: ..."], **entities}
    _finished_run(runs / "ner", {"valid": {"f1": 0.5}, "test": ner})
    args = argparse.Namespace(
        quick=False, data_dir="data", only=["upos", "ner"], runs_dir=str(runs)
    )
    report = tagging.run(args)
    assert all(len(row) == len(report.columns) for row in report.rows)
    upos, ner = report.rows
    assert upos[:9] == ["upos", upos[1], 0.95, 0.9412, "", "", "", "", ""]
    assert ner[2:9] == ["", 0.9, 0.5, 0.48, 0.75, 0.5, 0.25]  # PER, LOC, ORG
    assert upos[9:11] == [3, "40.0"]  # epochs, median seconds per epoch (one decimal)
    assert report.notes[0].startswith("UPOS on the English Web Treebank: 94.12 % test token")
    assert "(misses by 0.9 points), 3 epochs" in report.notes[0]
    assert (
        "overall precision 0.6000, recall 0.4000, F1 0.4800:\n\n- LOC: ...\n- ORG: ..."
        in (report.notes[1])
    )
    assert report.settings["model"] == 'the recipe\'s bilstm_tagger, model_args {"units": 100}'
