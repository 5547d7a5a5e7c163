"""The token-classification task kind: local CoNLL files, entity scores as conlleval counts
them (checked by hand), entity spans in the graph, a run folder exported again."""

import gzip
import importlib
import json
import random

import keras
import numpy as np
import pytest
import tensorflow as tf
from seqeval.metrics.sequence_labeling import get_entities

from kzoo.data import DataFileError
from kzoo.export import export_run
from kzoo.runs import load_run
from kzoo.tasks.token_classification import (
    TokenClassificationTask,
    entity_scores,
    entity_spans,
    model_inputs,
    tag_names,
)
from kzoo.training import Run, parse_settings
from kzoo_cli import main as kzoo_main

SETTINGS = importlib.import_module("kzoo.recipes.bilstm_tagger").SETTINGS
TINY = importlib.import_module("kzoo.recipes.bilstm_tagger").TINY

TRAIN = [
    [("Anna", "B-PER"), ("Smith", "I-PER"), ("lives", "O"), ("in", "O"), ("Oslo", "B-LOC")],
    [("Acme", "B-ORG"), ("Corp", "I-ORG"), ("hired", "O"), ("Smith", "B-PER")],
    [("New", "B-LOC"), ("York", "I-LOC"), ("is", "O"), ("big", "O")],
] * 4
TEST = [
    [("Anna", "B-PER"), ("Smith", "I-PER"), ("visited", "O"), ("Oslo", "B-LOC")],
    [("Smith", "B-PER"), ("left", "O"), ("Acme", "B-ORG"), ("Corp", "I-ORG")],
    [("Oslo", "B-ORG"), ("fined", "O"), ("Anna", "B-PER")],
]


def _write_uner(path, sentences):
    """Universal NER's layout (id, word, tag, two more columns), gzip'd."""
    lines = []
    for number, sentence in enumerate(sentences):
        lines.append(f"# sent_id = {number}")
        lines += [f"{i}\t{word}\t{tag}\t-\t-" for i, (word, tag) in enumerate(sentence, 1)]
        lines.append("")
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return str(path)


def _config(tmp_path):
    train = _write_uner(tmp_path / "train.iob2.gz", TRAIN)
    test = _write_uner(tmp_path / "test.iob2.gz", TEST)
    argv = ["--train-file", train, "--test-file", test, "--word-column", "2", "--tag-column", "3"]
    return parse_settings(SETTINGS, [*argv, "--output-dir", str(tmp_path / "run")])


def test_tag_names_put_o_first_and_each_types_b_before_i():
    assert tag_names([["O", "I-PER"], ["B-LOC"]], "iob2") == ["O", "B-LOC", "I-LOC"] + [
        "B-PER",
        "I-PER",
    ]
    assert tag_names([["O"]], "iob2", declared=["PER"]) == ["O", "B-PER", "I-PER"]
    assert tag_names([["VERB", "NOUN"]], "tags") == ["NOUN", "VERB"]


def test_entity_scores_count_as_conlleval_does():
    true = [[t for _, t in s] for s in TEST]
    # What the lookup model of test_evaluation_by_hand predicts.
    predicted = [
        ["B-PER", "I-PER", "O", "B-LOC"],
        ["I-PER", "O", "B-ORG", "O"],
        ["B-LOC"]
        + [
            "O",
            "B-PER",
        ],
    ]
    scores = entity_scores(true, predicted)
    # 6 entities each way; right: Anna Smith, Oslo (LOC), Smith (its I-PER starts an entity, as
    # at CoNLL), Anna. Acme Corp is cut short, Oslo (ORG) has the wrong type.
    assert scores["precision"] == pytest.approx(4 / 6)
    assert scores["recall"] == pytest.approx(4 / 6)
    assert scores["f1"] == pytest.approx(4 / 6)
    assert scores["per_type"]["PER"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 3}
    assert scores["per_type"]["LOC"]["precision"] == 0.5
    assert scores["per_type"]["LOC"]["f1"] == pytest.approx(2 / 3)
    assert scores["per_type"]["ORG"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2}


def test_entity_spans_in_the_graph_match_seqeval():
    rng = random.Random(0)
    choices = ["O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    rows = [[rng.choice(choices) for _ in range(rng.randint(0, 9))] for _ in range(200)]
    starts = [[3 * i for i in range(len(row))] for row in rows]
    ends = [[3 * i + 2 for i in range(len(row))] for row in rows]
    kinds, first, last = entity_spans(
        tf.ragged.constant(rows, dtype=tf.string, ragged_rank=1),
        tf.ragged.constant(starts, dtype=tf.int64, ragged_rank=1),
        tf.ragged.constant(ends, dtype=tf.int64, ragged_rank=1),
    )
    for row, row_kinds, row_first, row_last in zip(
        rows, kinds.to_list(), first.to_list(), last.to_list()
    ):
        expected = get_entities(row)  # (type, first token, last token), conlleval's reading
        assert [k.decode() for k in row_kinds] == [kind for kind, _, _ in expected]
        assert row_first == [3 * begin for _, begin, _ in expected]
        assert row_last == [3 * end + 2 for _, _, end in expected]


def _lookup_model(data, tags_of_words):
    """A model that tags each word by a table: known predictions for hand-computed scores."""
    vocabulary = data.vectorizers["text"].get_vocabulary()
    ids = {name: i for i, name in enumerate(data.class_names, start=1)}
    table = np.zeros((len(vocabulary), len(ids) + 1), "float32")
    for row, word in enumerate(vocabulary):
        table[row, ids[tags_of_words.get(str(word), "O")]] = 1.0
    token_ids = keras.Input((None,), dtype="int32", name="token_ids")
    characters = keras.Input((None, None), dtype="int32", name="character_ids")
    embedding = keras.layers.Embedding(
        len(vocabulary), len(ids) + 1, embeddings_initializer=keras.initializers.Constant(table)
    )
    model = keras.Model({"token_ids": token_ids, "character_ids": characters}, embedding(token_ids))
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(ignore_class=0))
    return model


def test_evaluation_by_hand(tmp_path):
    data = TokenClassificationTask(_config(tmp_path)).load(4)
    assert data.class_names == ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    model = _lookup_model(
        data, {"anna": "B-PER", "smith": "I-PER", "oslo": "B-LOC", "acme": "B-ORG"}
    )
    results = TokenClassificationTask(_config(tmp_path)).evaluate(model, data)["test"]
    assert results["words"] == 11
    assert results["accuracy"] == pytest.approx(8 / 11)  # Smith, Corp and Oslo (ORG) wrong
    assert results["f1"] == pytest.approx(4 / 6)
    assert results["per_type"]["LOC"]["recall"] == 1.0
    assert results["entities"][0].startswith("LOC: precision 0.5000, recall 1.0000, F1 0.6667")


def test_a_test_file_tag_that_training_lacks_names_the_file_and_line(tmp_path):
    config = _config(tmp_path)
    _write_uner(tmp_path / "test.iob2.gz", [[("EU", "B-MISC"), ("says", "O")]])
    with pytest.raises(DataFileError, match=r"test\.iob2\.gz line 2 has the unknown tag 'B-MISC'"):
        TokenClassificationTask(config).load(4)


def test_a_test_file_replaces_the_embedded_test_split(tmp_path):
    test = _write_uner(tmp_path / "test.iob2.gz", TEST)
    argv = ["--num-examples", "40", "--test-file", test, "--word-column", "2", "--tag-column"]
    config = parse_settings(SETTINGS, [*argv, "3", "--output-dir", str(tmp_path / "run")])
    data = TokenClassificationTask(config).load(4)
    assert data.raw["test"] == (
        [[w for w, _ in s] for s in TEST],
        [[t for _, t in s] for s in TEST],
    )
    assert len(data.raw["train"][0]) + len(data.raw["valid"][0]) == 36  # 4 held out for test
    _write_uner(tmp_path / "test.iob2.gz", [[("EU", "B-MISC")]])
    with pytest.raises(DataFileError, match=r"test\.iob2\.gz line 2 has the unknown tag 'B-MISC'"):
        TokenClassificationTask(config).load(4)


def test_a_malformed_training_file_is_one_line_on_the_command_line(tmp_path, capsys):
    path = tmp_path / "train.iob2"
    path.write_text("Anna B-PER\nin O\nNew I-LOC\n")
    argv = ["--train-file", str(path), "--output-dir", str(tmp_path / "run")]
    status = kzoo_main(["train", "bilstm_tagger", *argv])
    error = capsys.readouterr().err
    assert status == 2 and error.count("\n") == 1
    assert "train.iob2 line 3 has the tag I-LOC after O: it follows nothing" in error


def test_tfds_conll2003_fails_at_once_offline(monkeypatch, tmp_path, capsys):
    import tensorflow_datasets as tfds

    def unreachable(*args, **kwargs):
        raise ConnectionError("Failed to establish a new connection: Network is unreachable")

    monkeypatch.setattr(tfds, "load", unreachable)
    argv = ["train", "bilstm_tagger", "--dataset", "tfds", "--output-dir", str(tmp_path)]
    assert kzoo_main(argv) == 2
    error = capsys.readouterr().err
    assert "'conll2003' (split 'train'). ConnectionError: Failed" in error
    assert "--train-file" in error


def test_a_run_folder_exports_and_serves_what_its_model_predicts(tmp_path):
    train = _write_uner(tmp_path / "train.iob2.gz", TRAIN)
    argv = ["train", "bilstm_tagger", "--train-file", train, "--word-column", "2"]
    argv += ["--tag-column", "3", "--epochs", "1", "--no-xla", "--no-export"]
    assert kzoo_main([*argv, "--output-dir", str(tmp_path / "run"), *TINY[2:]]) == 0
    described = json.loads((tmp_path / "run" / "vectorizers.json").read_text())
    assert described["characters"]["split"] == "character"
    assert described["text"] == {"vocabulary": "vocabulary.txt", "split": None} | {
        "standardize": "lower"
    }
    path = export_run(str(tmp_path / "run"), str(tmp_path / "exports"))
    served = tf.saved_model.load(path).signatures
    outputs = served["serving_default"](text=tf.constant(["Anna Smith lives in New York.", ""]))
    words = ["Anna", "Smith", "lives", "in", "New", "York", "."]
    assert [t.decode() for t in outputs["tokens"].numpy()[0]] == words
    assert [t.decode() for t in outputs["tokens"].numpy()[1]] == [""] * 7
    # The run's own model and vectorizers, as training fed them, tag the words alike.
    bundle, _ = load_run(str(tmp_path / "run"))
    vectorizers = bundle.vectorizers["text"], bundle.vectorizers["characters"]
    inputs = model_inputs(tf.constant([words]), *vectorizers)
    probabilities = bundle.model.predict(inputs, verbose=0)[0]
    expected = [bundle.class_names[i] for i in probabilities[:, 1:].argmax(-1)]
    assert [t.decode() for t in outputs["tags"].numpy()[0]] == expected
    ids = served["token_ids"](**{k: tf.constant(v) for k, v in inputs.items()})
    np.testing.assert_allclose(ids["scores"].numpy()[0], probabilities, atol=1e-5)
    kinds = [t.decode() for t in outputs["entity_types"].numpy()[0] if t]
    assert kinds == [kind for kind, _, _ in get_entities(expected)]


@pytest.mark.parametrize("extra, compiled", [([], False), (["--xla"], True)])
def test_the_recipe_trains_without_xla_unless_asked(tmp_path, extra, compiled):
    # The recipe's settings say why (a new character width nearly every batch).
    argv = [*TINY, "--output-dir", str(tmp_path), *extra]
    run = Run(parse_settings(SETTINGS, argv))
    model = run.build_model(run.load_data())
    assert model.jit_compile is compiled
