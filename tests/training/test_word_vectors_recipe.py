"""`--word-vectors PATH`: a classification run's embedding starts from pre-trained vectors,
laid out for the vocabulary it adapted (Kim's CNN-static and CNN-non-static)."""

import keras
import numpy as np
import pytest

from kzoo.data import vectorization
from kzoo.embeddings import WordVectors
from kzoo_cli import main as kzoo_main

WORDS = "good bad fine dull great poor lovely awful film movie plot actors".split()
KNOWN = WORDS[:8]  # the vector file has these; "film", "movie", "plot", "actors" it lacks


@pytest.fixture
def files(tmp_path, rng):
    lines = []
    for i in range(120):
        label = ("neg", "pos")[i % 2]
        lines.append(f"{label} " + " ".join(rng.choice(WORDS, size=rng.integers(3, 8))))
    (tmp_path / "train.txt").write_text("\n".join(lines) + "\n")
    vectors = WordVectors(KNOWN, rng.normal(size=(len(KNOWN), 6)))
    vectors.save(str(tmp_path / "vectors.bin"), format="word2vec_binary")
    return str(tmp_path / "train.txt"), str(tmp_path / "vectors.bin"), vectors


def _train(tmp_path, name, train_file, *arguments):
    run = tmp_path / "run"
    argv = ["train", name, "--train-file", train_file, "--epochs", "1", "--no-xla"]
    argv += ["--no-export", "--output-dir", str(run), "--restart", *arguments]
    status = kzoo_main(argv)
    return status, run


@pytest.mark.parametrize("trainable", [False, True])
def test_kim_cnn_starts_from_the_vectors_static_or_not(files, tmp_path, trainable):
    train_file, path, vectors = files
    options = ["--set", f"model_args.trainable_embeddings={str(trainable).lower()}"]
    status, run = _train(tmp_path, "kim_cnn", train_file, "--word-vectors", path, *options)
    assert status == 0
    log = (run / "run.log").read_text()
    assert (
        f"word vectors: 8 of the vocabulary's 12 words in {path} (6 dimensions); the other 4 "
        "start uniform in [-0.25, 0.25]" in log
    )
    tokens = vectorization.load_vocabulary(run / "vocabulary.txt")
    model = keras.models.load_model(run / "model.keras")
    embedding = model.get_layer("embedding").get_weights()[0]
    assert embedding.shape == (14, 6)
    rows = [tokens.index(word) for word in KNOWN]
    if trainable:  # CNN-non-static: fine-tuned away from where they started
        assert not np.allclose(embedding[rows], vectors.vectors)
    else:  # CNN-static: exactly the file's vectors after training
        np.testing.assert_array_equal(embedding[rows], vectors.vectors)
        missing = [tokens.index(word) for word in WORDS[8:]] + [1]
        assert np.abs(embedding[missing]).max() <= 0.25


def test_the_word2vec_classifier_takes_them_instead_of_pretraining(files, tmp_path):
    train_file, path, _ = files
    options = ["--set", "model_args.embedding_dim=6"]
    status, run = _train(
        tmp_path, "word2vec_classifier", train_file, "--word-vectors", path, *options
    )
    assert status == 0
    log = (run / "run.log").read_text()
    assert "word vectors: 8 of" in log and "word2vec pretraining" not in log


def test_a_model_without_embeddings_refuses_them(files, tmp_path, capsys):
    train_file, path, _ = files
    status, _ = _train(tmp_path, "mha_classifier", train_file, "--word-vectors", path)
    assert status == 2
    assert (
        "Invalid value for setting word_vectors. Expected no word vectors for model "
        "mha_classifier, which takes no embeddings." in capsys.readouterr().err
    )


def test_a_missing_vector_file_fails_before_any_data_is_read(files, tmp_path, capsys):
    train_file, _, _ = files
    missing = str(tmp_path / "GoogleNews-vectors-negative300.bin.gz")
    status, run = _train(tmp_path, "kim_cnn", train_file, "--word-vectors", missing)
    assert status == 2 and not (run / "vocabulary.txt").exists()
    assert "the path does not exist. Received: word_vectors=" in capsys.readouterr().err


def test_vectors_of_another_width_than_the_models(files, tmp_path, capsys):
    train_file, path, _ = files
    options = ["--word-vectors", path, "--set", "model_args.embedding_dim=300"]
    status, _ = _train(tmp_path, "kim_cnn", train_file, *options)
    assert status == 2
    assert (
        "Expected 300-dimensional vectors, as model_args.embedding_dim=300. Received: "
        "6-dimensional vectors in" in capsys.readouterr().err
    )
