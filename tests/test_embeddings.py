import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from kzoo.embeddings import WordVectors, write_projector
from kzoo.models.word2vec import build_word2vec, word2vec_vectors
from kzoo.tasks.word2vec import EmbeddingProjector
from kzoo_cli import main as kzoo_main

VOCABULARY = ["", "[UNK]", "cat", "cats", "dog", "puppy", "car"]
VECTORS = np.array(
    [
        [9.0, 9.0, 9.0],  # padding: never a neighbour
        [1.0, 0.0, 0.0],  # [UNK]: never a neighbour
        [1.0, 0.0, 0.0],
        [2.0, 1.0, 0.0],
        [0.0, 1.0, 0.0],
        [0.5, 3.0, 1.0],
        [-1.0, 0.0, -2.0],
    ],
    dtype="float32",
)


def unit(v):
    v = np.asarray(v, dtype="float64")
    return v / np.linalg.norm(v)


@pytest.fixture
def wv():
    return WordVectors(VOCABULARY, VECTORS, center=False)


def test_most_similar_ranks_by_cosine_and_leaves_out_the_word(wv):
    expected = sorted(
        (
            (w, float(unit(VECTORS[i]) @ unit(VECTORS[2])))
            for i, w in enumerate(VOCABULARY)
            if i >= 3
        ),
        key=lambda pair: -pair[1],
    )
    result = wv.most_similar("cat", k=10)
    assert [w for w, _ in result] == [w for w, _ in expected] == ["cats", "puppy", "dog", "car"]
    np.testing.assert_allclose([s for _, s in result], [s for _, s in expected], rtol=1e-6)
    np.testing.assert_allclose(result[0][1], 2 / np.sqrt(5), rtol=1e-6)  # cos(cat, cats)
    assert [w for w, _ in wv.most_similar("dog", k=2)] == ["puppy", "cats"]


def test_analogy_is_nearest_to_b_minus_a_plus_c_without_the_inputs(wv):
    # cat is to cats as dog is to ?  query = u(cats) - u(cat) + u(dog)
    query = unit(VECTORS[3]) - unit(VECTORS[2]) + unit(VECTORS[4])
    result = wv.analogy("cat", "cats", "dog", k=2)
    assert [w for w, _ in result] == ["puppy", "car"]
    np.testing.assert_allclose(
        [s for _, s in result],
        [unit(VECTORS[5]) @ unit(query), unit(VECTORS[6]) @ unit(query)],
        rtol=1e-5,
    )


def test_vector_of_known_words_and_lookups(wv):
    np.testing.assert_array_equal(wv.vector("puppy"), VECTORS[5])
    assert len(wv) == 5 and wv.words == VOCABULARY[2:]
    assert "cat" in wv and "[UNK]" not in wv and "" not in wv and "Cat" not in wv
    lower = WordVectors(VOCABULARY, VECTORS, lowercase=True, center=False)
    assert "Cat" in lower
    np.testing.assert_array_equal(lower.vector("DOG"), VECTORS[4])


def test_unknown_words_get_the_mean_of_their_character_ngram_vectors():
    wv = WordVectors(VOCABULARY, VECTORS, ngram_range=(3, 3), center=False)
    u = {w: unit(VECTORS[i]) for i, w in enumerate(VOCABULARY) if i >= 2}
    # "<catz>": "<ca" occurs in cat, cats and car, "cat" in cat and cats, "atz", "tz>" nowhere.
    expected = np.mean([(u["cat"] + u["cats"] + u["car"]) / 3, (u["cat"] + u["cats"]) / 2], 0)
    np.testing.assert_allclose(wv.vector("catz"), expected, rtol=1e-6)
    # "<dogcat>": "<do", "dog" (dog), "cat" (cat, cats), "at>" (cat); "ogc", "gca" nowhere.
    expected = np.mean([u["dog"], u["dog"], (u["cat"] + u["cats"]) / 2, u["cat"]], axis=0)
    np.testing.assert_allclose(wv.vector("dogcat"), expected, rtol=1e-6)
    # Neighbours of an unknown word are those of its n-gram vector; nothing is left out.
    scores = {w: float(v @ unit(expected)) for w, v in u.items()}
    ranked = sorted(scores, key=scores.get, reverse=True)
    assert [w for w, _ in wv.most_similar("dogcat", k=5)] == ranked


def test_centering_subtracts_the_mean_of_the_real_words_before_cosines():
    wv = WordVectors(VOCABULARY, VECTORS)  # center=True: padding and [UNK] rows don't count
    centered = VECTORS - VECTORS[2:].mean(0)
    np.testing.assert_allclose(wv.vector("dog"), centered[4], rtol=1e-6)
    result = dict(wv.most_similar("dog", k=4))
    for i in (2, 3, 5, 6):
        expected = unit(centered[i]) @ unit(centered[4])
        np.testing.assert_allclose(result[VOCABULARY[i]], expected, rtol=1e-5, atol=1e-7)
    # Unknown words average the centered unit vectors: "<catz>" as in the test above.
    u = {w: unit(centered[i]) for i, w in enumerate(VOCABULARY) if i >= 2}
    expected = np.mean([(u["cat"] + u["cats"] + u["car"]) / 3, (u["cat"] + u["cats"]) / 2], 0)
    sub = WordVectors(VOCABULARY, VECTORS, ngram_range=(3, 3))
    np.testing.assert_allclose(sub.vector("catz"), expected, rtol=1e-5, atol=1e-7)


def test_words_without_known_ngrams_are_rejected(wv):
    with pytest.raises(ValueError, match="no character 3-5-gram of it occurs"):
        wv.vector("xyz")
    with pytest.raises(ValueError, match=r"n-grams were turned off \(ngram_range=None\)"):
        WordVectors(VOCABULARY, VECTORS, ngram_range=None).most_similar("cats2")


def test_export_projector_writes_tsv_vectors_and_metadata(wv, tmp_path):
    paths = wv.export_projector(tmp_path / "projector")
    assert [os.path.basename(p) for p in paths] == [
        "vectors.tsv",
        "metadata.tsv",
        "projector_config.pbtxt",
    ]
    np.testing.assert_allclose(np.loadtxt(paths[0], delimiter="\t"), VECTORS[2:], rtol=1e-6)
    assert open(paths[1], encoding="utf-8").read().splitlines() == VOCABULARY[2:]
    config = open(paths[2]).read()
    assert 'tensor_path: "vectors.tsv"' in config and 'metadata_path: "metadata.tsv"' in config


def test_embedding_projector_callback_writes_a_checkpoint_without_padding(tmp_path):
    model = build_word2vec(vocabulary_size=4, embedding_dim=3)
    callback = EmbeddingProjector(str(tmp_path), ["", "[UNK]", "a\tb", "c"])
    callback.set_model(model)
    callback.on_train_end()
    directory = tmp_path / "projector"
    assert (directory / "metadata.tsv").read_text().splitlines() == ["[UNK]", "a b", "c"]
    reader = tf.train.load_checkpoint(str(directory / "embedding.ckpt-1"))
    stored = reader.get_tensor("embedding/.ATTRIBUTES/VARIABLE_VALUE")
    np.testing.assert_array_equal(stored, word2vec_vectors(model)[1:])
    config = (directory / "projector_config.pbtxt").read_text()
    assert 'tensor_name: "embedding/.ATTRIBUTES/VARIABLE_VALUE"' in config


def test_invalid_arguments(wv, tmp_path):
    with pytest.raises(ValueError, match=r"one row per word of the vocabulary, \(7, dim\)"):
        WordVectors(VOCABULARY, VECTORS[:3])
    with pytest.raises(ValueError, match=r"Expected \(min_n, max_n\) with min_n <= max_n"):
        WordVectors(VOCABULARY, VECTORS, ngram_range=(5, 3))
    with pytest.raises(ValueError, match="Invalid value for argument k. Expected a positive"):
        wv.most_similar("cat", k=0)
    with pytest.raises(ValueError, match="argument word. Expected a str. Received: word=3"):
        wv.vector(3)
    with pytest.raises(ValueError, match="Expected a finished kzoo run folder"):
        WordVectors.from_run(str(tmp_path))
    with pytest.raises(ValueError, match="Expected an embedding layer of model word2vec"):
        WordVectors.from_model(
            build_word2vec(vocabulary_size=7, embedding_dim=3), VOCABULARY, layer_name="nope"
        )
    with pytest.raises(ValueError, match=r"one row per word, \(2, dim\)"):
        write_projector(str(tmp_path), ["a", "b"], np.zeros((3, 2)))
    with pytest.raises(ValueError, match="argument tensor_format. Expected one of"):
        write_projector(str(tmp_path), ["a"], np.zeros((1, 2)), tensor_format="csv")


def test_from_run_of_a_tiny_word2vec_training(tmp_path, capsys):
    run_dir = tmp_path / "run"
    argv = ["train", "word2vec", "--epochs", "1", "--steps-per-epoch", "3", "--max-tokens", "300"]
    argv += ["--no-xla", "--no-export", "--output-dir", str(run_dir)]
    assert kzoo_main(argv) == 0
    wv = WordVectors.from_run(str(run_dir))
    model = keras.models.load_model(run_dir / "model.keras")
    vectors = word2vec_vectors(model)
    assert len(wv) == 298 and wv.lowercase  # 300 minus padding and [UNK]
    # Neighbours are the cosine ranking of the saved model's own vectors, centered.
    vectors = vectors - vectors[2:].mean(0)
    units = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    the = wv.vocabulary.index("the")
    scores = units[2:] @ units[the]
    scores[the - 2] = -np.inf
    expected = [wv.vocabulary[2 + i] for i in np.argsort(-scores)[:5]]
    assert [w for w, _ in wv.most_similar("The", k=5)] == expected
    answers = wv.analogy("is", "was", "are", k=3)
    assert len(answers) == 3 and not {"is", "was", "are"} & {w for w, _ in answers}
    assert len(wv.most_similar("pythonic", k=3)) == 3  # unknown, from its n-grams
