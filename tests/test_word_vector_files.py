"""Pre-trained word vectors: word2vec text and binary files and GloVe files read and written
(round trips with gensim's KeyedVectors), laid out for a vocabulary, and the classifiers'
embeddings started from them."""

import gzip

import keras
import numpy as np
import pytest
from gensim.models import KeyedVectors

from kzoo import build_kim_cnn, build_lstm_classifier
from kzoo.data.word_vector_files import read_word_vectors, write_word_vectors
from kzoo.embeddings import WordVectors
from kzoo.models.heads import embedding_matrix

WORDS = ["the", "film", "café", "naïve", "good", "bad"]
VECTORS = np.random.default_rng(0).normal(size=(6, 5)).astype("float32")


@pytest.fixture
def vectors():
    return WordVectors(WORDS, VECTORS)


@pytest.mark.parametrize("format, binary", [("word2vec", False), ("word2vec_binary", True)])
def test_kzoo_writes_what_gensim_reads_and_back(vectors, tmp_path, format, binary):
    path = str(tmp_path / "vectors")
    vectors.save(path, format=format)
    gensim = KeyedVectors.load_word2vec_format(path, binary=binary)
    assert gensim.index_to_key == WORDS
    np.testing.assert_array_equal(gensim.vectors, VECTORS)  # exact: float32 both ways

    gensim.save_word2vec_format(str(tmp_path / "gensim"), binary=binary)
    back = WordVectors.load(str(tmp_path / "gensim"))  # the format is told apart
    assert back.vocabulary == WORDS
    np.testing.assert_array_equal(back.vectors, VECTORS)
    np.testing.assert_array_equal(WordVectors.load(path, format=format).vectors, VECTORS)


def test_glove_files_have_no_header(vectors, tmp_path):
    path = str(tmp_path / "glove.txt")
    vectors.save(path, format="glove")
    assert open(path, encoding="utf-8").readline().split()[0] == "the"
    gensim = KeyedVectors.load_word2vec_format(path, binary=False, no_header=True)
    np.testing.assert_array_equal(gensim.vectors, VECTORS)
    back = WordVectors.load(path)
    assert back.vocabulary == WORDS
    np.testing.assert_array_equal(back.vectors, VECTORS)


def test_the_word2vec_tools_binary_layout_with_newlines_and_gzip(tmp_path):
    # As word2vec.c writes it: a newline after each vector; then gzip'd, as Google ships it.
    rows = b"".join(
        w.encode() + b" " + v.astype("<f4").tobytes() + b"\n" for w, v in zip(WORDS, VECTORS)
    )
    path = tmp_path / "vectors.bin.gz"
    path.write_bytes(gzip.compress(b"6 5\n" + rows))
    words, matrix = read_word_vectors(str(path))
    assert words == WORDS
    np.testing.assert_array_equal(matrix, VECTORS)


def test_words_and_limit_keep_part_of_the_file(vectors, tmp_path):
    path = str(tmp_path / "vectors.bin")
    vectors.save(path, format="word2vec_binary")
    kept = WordVectors.load(path, words={"bad", "film", "plot"})
    assert kept.vocabulary == ["film", "bad"]  # file order
    np.testing.assert_array_equal(kept.vectors, VECTORS[[1, 5]])
    assert WordVectors.load(path, limit=2).vocabulary == ["the", "film"]


def test_glove_words_with_spaces_and_repeated_words(tmp_path):
    path = tmp_path / "glove.txt"
    # Common Crawl GloVe has such words; the first line sets the width.
    path.write_text("film 3 4\n. . . 1 2\nfilm 5 6\n", encoding="utf-8")
    words, matrix = read_word_vectors(str(path))
    assert words == ["film", ". . ."] and matrix.tolist() == [[3, 4], [1, 2]]


def test_a_finished_word2vec_run_is_read_as_vectors(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(name="word2vec")  # only its target_embedding layer is read
    model.add(keras.Input(shape=(), dtype="int32"))
    model.add(keras.layers.Embedding(4, 3, name="target_embedding"))
    model.save(tmp_path / "model.keras")
    (tmp_path / "vocabulary.txt").write_text("\n[UNK]\nfilm\ngood\n", encoding="utf-8")
    loaded = WordVectors.load(str(tmp_path))
    assert loaded.vocabulary == ["film", "good"]
    np.testing.assert_array_equal(
        loaded.vectors, model.get_layer("target_embedding").get_weights()[0][2:]
    )


# === Errors name the file and the line ===


def _write(tmp_path, text, name="vectors.txt"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return str(path)


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match=r"Cannot read .*nothing\.txt: no such file"):
        read_word_vectors(str(tmp_path / "nothing.txt"))


def test_a_line_with_too_few_numbers(tmp_path):
    path = _write(tmp_path, "2 3\ncat 1 2 3\ndog 1 2\n")
    with pytest.raises(
        ValueError, match=r"vectors\.txt line 3: expected a word and 3 numbers, found 3 fields"
    ):
        read_word_vectors(path)


def test_a_line_with_a_word_where_a_number_is(tmp_path):
    path = _write(tmp_path, "cat 1 2\ndog 1 two\n")
    with pytest.raises(
        ValueError, match=r"vectors\.txt line 2: expected a word and 2 numbers, found 'dog 1 two'"
    ):
        read_word_vectors(path)


def test_a_header_announcing_more_vectors_than_the_file_holds(tmp_path):
    path = _write(tmp_path, "3 2\ncat 1 2\ndog 3 4\n")
    with pytest.raises(ValueError, match=r"its header announces 3 vectors, but it holds 2"):
        read_word_vectors(path)


def test_a_truncated_binary_file(vectors, tmp_path):
    path = str(tmp_path / "vectors.bin")
    vectors.save(path, format="word2vec_binary")
    data = open(path, "rb").read()
    open(path, "wb").write(data[:-10])  # into the last vector
    with pytest.raises(
        ValueError, match=r"vectors\.bin line 7: the file ends inside vector 6 of the 6"
    ):
        read_word_vectors(path)


def test_a_glove_file_read_as_word2vec(tmp_path):
    path = _write(tmp_path, "cat 1 2\n")
    with pytest.raises(ValueError, match=r"line 1: expected the word2vec header '<count> <dim>'"):
        read_word_vectors(path, format="word2vec")


def test_an_empty_file(tmp_path):
    with pytest.raises(ValueError, match=r"vectors\.txt: it holds no word vectors"):
        read_word_vectors(_write(tmp_path, "\n"))


def test_a_first_line_without_numbers(tmp_path):
    with pytest.raises(ValueError, match=r"line 1: expected a word and its numbers, found 'cat'"):
        read_word_vectors(_write(tmp_path, "cat\n"))


def test_words_that_are_not_utf8(tmp_path):
    path = _write(tmp_path, "cat 1 2\ncaf\xe9 3 4\n".encode("latin-1"))
    with pytest.raises(
        ValueError, match=r"Cannot decode .*vectors\.txt line 2 as utf-8: byte 0xe9"
    ):
        read_word_vectors(path)
    assert read_word_vectors(path, encoding="latin-1")[0] == ["cat", "café"]


def test_an_unknown_format(tmp_path):
    with pytest.raises(ValueError, match=r"Invalid value for argument format. Expected one of"):
        read_word_vectors(_write(tmp_path, "cat 1\n"), format="fasttext")


def test_none_of_the_words_in_the_file(vectors, tmp_path):
    path = str(tmp_path / "vectors.txt")
    vectors.save(path)
    with pytest.raises(ValueError, match=r"Received: 2 words, none of them in the file"):
        WordVectors.load(path, words=["plot", "actor"])


def test_words_with_whitespace_cannot_be_written(tmp_path):
    with pytest.raises(
        ValueError, match=r"Expected non-empty words without whitespace.*'new york'"
    ):
        write_word_vectors(str(tmp_path / "v.txt"), ["new york"], [[1.0]])


def test_vectors_must_have_one_row_per_word(tmp_path):
    with pytest.raises(ValueError, match=r"Expected a matrix with one row per word, \(2, dim\)"):
        write_word_vectors(str(tmp_path / "v.txt"), ["a", "b"], [[1.0]])


# === Laid out for a vocabulary ===


def test_aligned_to_keeps_known_vectors_and_draws_kims_uniform_for_the_rest(vectors):
    vocabulary = ["", "[UNK]", "film", "plot", "bad", "good"]
    aligned = vectors.aligned_to(vocabulary, seed=3)
    assert aligned.vocabulary == vocabulary
    np.testing.assert_array_equal(aligned.vectors[0], np.zeros(5))  # padding
    np.testing.assert_array_equal(aligned.vectors[[2, 4, 5]], VECTORS[[1, 5, 4]])
    missing = aligned.vectors[[1, 3]]  # [UNK] and "plot"
    assert np.abs(missing).max() <= 0.25 and np.abs(missing).min() > 0
    np.testing.assert_array_equal(vectors.aligned_to(vocabulary, seed=3).vectors, aligned.vectors)
    many = WordVectors(["x"], np.ones((1, 400))).aligned_to(["", "[UNK]"], scale=0.5)
    assert -0.5 <= many.vectors[1].min() < -0.4 and 0.4 < many.vectors[1].max() <= 0.5


def test_aligned_to_scale_must_be_positive(vectors):
    with pytest.raises(ValueError, match=r"Invalid value for argument scale"):
        vectors.aligned_to(["", "[UNK]"], scale=0)


# === The classifiers' embeddings ===


def test_kim_cnn_static_keeps_the_vectors_and_non_static_tunes_them(vectors):
    vocabulary = ["", "[UNK]", "the", "film", "good", "bad"]
    aligned = vectors.aligned_to(vocabulary)
    ids = np.array([[2, 3, 4, 0], [2, 3, 5, 1]])
    moved = {}
    for trainable in (False, True):
        keras.utils.set_random_seed(0)
        model = build_kim_cnn(
            embeddings=aligned, trainable_embeddings=trainable, filters=2, kernel_sizes=(2,)
        )
        assert model.get_layer("embedding").input_dim == 6
        assert model.get_layer("embedding").output_dim == 5  # the vectors' width
        model.compile(optimizer=keras.optimizers.SGD(1.0), loss="binary_crossentropy")
        model.train_on_batch(ids, np.array([1, 0]))
        after = model.get_layer("embedding").get_weights()[0]
        moved[trainable] = np.abs(after - aligned.vectors).max()
    assert moved[False] == 0.0 and moved[True] > 0.0


def test_other_classifiers_take_a_matrix():
    matrix = np.arange(12, dtype="float32").reshape(4, 3)
    model = build_lstm_classifier(embeddings=matrix, units=2)
    np.testing.assert_array_equal(model.get_layer("embedding").get_weights()[0], matrix)


def test_word_vectors_must_be_laid_out_for_the_vocabulary(vectors):
    with pytest.raises(
        ValueError, match=r"aligned_to\(vocabulary\).*first words are \['the', 'film', 'café'\]"
    ):
        build_kim_cnn(embeddings=vectors)


def test_embeddings_must_be_a_matrix():
    with pytest.raises(ValueError, match=r"Expected a WordVectors or a matrix.*shape=\(3,\)"):
        embedding_matrix([1.0, 2.0, 3.0])


def test_sizes_must_agree_with_the_embeddings():
    with pytest.raises(
        ValueError,
        match=r"argument embedding_dim. Expected 3, as the embeddings have shape \(4, 3\)",
    ):
        build_kim_cnn(embeddings=np.zeros((4, 3)), embedding_dim=300)
