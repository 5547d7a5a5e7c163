"""Querying trained word vectors: neighbours, analogies, unknown words, projector export.

`WordVectors` pairs a vocabulary with its vectors (from a `kzoo.build_word2vec` model, a
finished word2vec run folder or any matrix) and answers the questions word2vec is trained
for:

- `most_similar(word, k)`: the `k` words of highest cosine similarity, the word itself left
  out.
- `analogy(a, b, c, k)`: "`a` is to `b` as `c` is to ?", the words nearest to
  `b - a + c` (3CosAdd, Mikolov et al., 2013, https://arxiv.org/abs/1301.3781, on unit
  vectors), the three query words left out.
- `vector(word)`, also for words outside the vocabulary, built from character n-grams (below).
- `export_projector(directory)`: `vectors.tsv` and `metadata.tsv` for TensorBoard's embedding
  projector (or https://projector.tensorflow.org).
- `load(path)` and `save(path, format)`: word2vec text and binary files and GloVe text files
  (`kzoo.data.word_vector_files`), so vectors move to and from gensim, the word2vec tool and
  GloVe; `aligned_to(vocabulary)` lays pre-trained vectors out for a model's token ids, the
  words they lack drawn uniformly from [-0.25, 0.25] as Kim (2014) did.

**Unknown words.** word2vec has no vector for a word it never saw. fastText (Bojanowski et al.,
2017, https://arxiv.org/abs/1607.04606) represents a word by the character n-grams of
`"<word>"` and so can build one; word2vec trains no n-gram vectors, so here they are derived
after training from the vocabulary: the vector of an n-gram is the mean of the unit vectors
(centered, see `WordVectors`) of the known words that contain it, and an unknown word's vector
is the mean of the vectors of its n-grams that occur in the vocabulary (n-grams seen nowhere
are skipped). On kzoo's embedded word2vec recipe the unknown "parsers" thus lands next to
"parser". The n-grams are kept exactly in a dictionary rather than hashed into buckets as
fastText does: they come from a finite vocabulary, so exact keys cost little memory and never
collide. A word sharing no n-gram with the vocabulary, or any unknown word with
`ngram_range=None`, raises `ValueError`. Known words always keep their trained vector.
"""

import json
import os

import keras
import numpy as np
import tensorflow as tf
from tensorboard.plugins import projector

# Imported for their Keras registrations, so that a run's `model.keras` loads.
import kzoo.models  # noqa: F401
from kzoo import validation
from kzoo.data import vectorization, word_vector_files

SPECIAL_TOKENS = ("", "[UNK]")  # padding and the unknown-word token of kzoo's vectorizers


def _metadata_line(token):
    return (token or "[PAD]").replace("\t", " ").replace("\n", " ").replace("\r", " ")


def write_projector(directory, words, vectors, tensor_format="tsv"):
    """Writes word vectors and their words for TensorBoard's embedding projector.

    Writes `metadata.tsv` (one word a line, no header), the vectors and a
    `projector_config.pbtxt`, so `tensorboard --logdir <directory's parent>` shows them under
    "Projector". The vectors go to `vectors.tsv` (tab-separated, one row a line, also what
    https://projector.tensorflow.org loads) or, with `tensor_format="checkpoint"`, to a
    TensorFlow checkpoint `embedding.ckpt-1`, smaller and faster for large vocabularies.

    Args:
        directory: str. Folder to write into; created if missing.
        words: list of str. One label per row of `vectors`; tabs and line breaks become spaces
            and an empty word is written `[PAD]`.
        vectors: float array `(len(words), dim)`.
        tensor_format: str. `"tsv"` or `"checkpoint"`. Defaults to `"tsv"`.

    Returns:
        The paths written: the vectors (`vectors.tsv`, or the checkpoint's prefix), then
        `metadata.tsv` and `projector_config.pbtxt`.

    Example:

    >>> import os, tempfile
    >>> directory = tempfile.mkdtemp()
    >>> paths = write_projector(directory, ["cat", "dog"], [[1.0, 0.5], [0.0, 2.0]])
    >>> [os.path.basename(p) for p in paths]
    ['vectors.tsv', 'metadata.tsv', 'projector_config.pbtxt']
    >>> print(open(paths[0]).read(), end="")
    1	0.5
    0	2
    """
    validation.one_of("tensor_format", tensor_format, ("tsv", "checkpoint"))
    vectors = np.asarray(vectors, dtype="float32")
    if vectors.ndim != 2 or len(vectors) != len(words):
        raise ValueError(
            "Invalid value for argument vectors. Expected a matrix with one row per word, "
            f"({len(words)}, dim). Received: vectors.shape={vectors.shape}"
        )
    os.makedirs(directory, exist_ok=True)
    config = projector.ProjectorConfig()
    entry = config.embeddings.add()
    entry.metadata_path = "metadata.tsv"
    if tensor_format == "tsv":
        vectors_path = os.path.join(directory, "vectors.tsv")
        np.savetxt(vectors_path, vectors, fmt="%.7g", delimiter="\t")
        entry.tensor_path = "vectors.tsv"
    else:
        embedding = tf.Variable(vectors, name="embedding")
        vectors_path = tf.train.Checkpoint(embedding=embedding).save(
            os.path.join(directory, "embedding.ckpt")
        )
        entry.tensor_name = "embedding/.ATTRIBUTES/VARIABLE_VALUE"
    metadata_path = os.path.join(directory, "metadata.tsv")
    with open(metadata_path, "w", encoding="utf-8") as f:
        f.writelines(_metadata_line(word) + "\n" for word in words)
    projector.visualize_embeddings(directory, config)
    return [vectors_path, metadata_path, os.path.join(directory, "projector_config.pbtxt")]


def _ngrams(word, ngram_range):
    low, high = ngram_range
    marked = f"<{word}>"
    return [marked[i : i + n] for n in range(low, high + 1) for i in range(len(marked) - n + 1)]


class WordVectors:
    """A vocabulary and its word vectors: neighbours, analogies and subword vectors.

    Rows of `vectors` follow `vocabulary` (row `i` is the vector of `vocabulary[i]`), as a
    kzoo vectorizer's token ids do. The special tokens (padding `""` and `[UNK]`) keep their
    rows but are never returned as neighbours nor used for n-grams.

    Similarities are cosines of the vectors after subtracting the words' mean vector
    (`center=True`, the first step of Mu and Viswanath, 2018, "All-but-the-Top",
    https://arxiv.org/abs/1702.01417). word2vec vectors share a large common direction, more
    so on small corpora: without centering a few "hub" words near that direction are
    everyone's neighbours, and the n-gram vector of an unknown word, an average of many word
    vectors, points at the hubs. On kzoo's embedded word2vec recipe, centering turns the
    neighbours of the unknown "valuess" from "iterators, accepted, starts" into "values,
    elements, keys". `center=False` gives the plain cosines of the vectors as trained.

    Args:
        vocabulary: list of str. The words, one per row of `vectors`.
        vectors: float array `(len(vocabulary), dim)`.
        ngram_range: tuple `(min_n, max_n)` of character n-gram lengths used to build vectors
            for unknown words (see the module docstring), or `None` to reject unknown words.
            Defaults to `(3, 5)`.
        lowercase: bool. Lower-case every query first, for vocabularies built by a lower-casing
            vectorizer. Defaults to `False`.
        center: bool. Subtract the mean word vector before taking cosines (see above).
            Defaults to `True`.

    Example:

    >>> import numpy as np
    >>> vocabulary = ["", "[UNK]", "king", "queen", "man", "woman"]
    >>> vectors = np.array([[0, 0, 0], [0, 0, 0], [1, 1, 0], [1, 0, 1], [0, 1, 0], [0, 0, 1]])
    >>> wv = WordVectors(vocabulary, vectors, center=False)  # plain cosines
    >>> [(w, round(s, 3)) for w, s in wv.most_similar("king", k=2)]
    [('man', 0.707), ('queen', 0.5)]
    >>> wv.analogy("man", "king", "woman", k=1)[0][0]
    'queen'
    >>> "kings" in wv  # unknown: its vector comes from "<ki", "kin", "ing", "<kin", ...
    False
    >>> [round(float(x), 3) for x in wv.vector("kings")]
    [0.707, 0.707, 0.0]
    """

    def __init__(self, vocabulary, vectors, ngram_range=(3, 5), lowercase=False, center=True):
        vectors = np.asarray(vectors, dtype="float32")
        vocabulary = [str(word) for word in vocabulary]
        if vectors.ndim != 2 or len(vectors) != len(vocabulary) or not len(vocabulary):
            raise ValueError(
                "Invalid value for argument vectors. Expected a matrix with one row per word of "
                f"the vocabulary, ({len(vocabulary)}, dim). Received: vectors.shape="
                f"{vectors.shape}"
            )
        if ngram_range is not None:
            ngram_range = validation.positive_ints("ngram_range", ngram_range)
            if len(ngram_range) != 2 or ngram_range[0] > ngram_range[1]:
                raise ValueError(
                    "Invalid value for argument ngram_range. Expected (min_n, max_n) with "
                    f"min_n <= max_n. Received: ngram_range={ngram_range}"
                )
        self.vocabulary = vocabulary
        self.vectors = vectors
        self.ngram_range = ngram_range
        self.lowercase = bool(lowercase)
        self.center = bool(center)
        self._ids = {}
        for i, word in enumerate(vocabulary):
            self._ids.setdefault(word, i)
        self._candidate = np.array([word not in SPECIAL_TOKENS for word in vocabulary])
        # The space similarities are taken in: centered on the real words' mean, or as given.
        self._space = vectors
        if self.center and self._candidate.any():
            self._space = vectors - vectors[self._candidate].mean(axis=0)
        norms = np.linalg.norm(self._space, axis=1, keepdims=True)
        self._unit = self._space / np.maximum(norms, 1e-12)
        self._ngram_index = None

    # === Constructors ===
    @classmethod
    def from_model(cls, model, vocabulary, layer_name="target_embedding", **kwargs):
        """Builds `WordVectors` from a model's embedding layer and its vocabulary.

        Args:
            model: a `keras.Model`, e.g. from `kzoo.build_word2vec`.
            vocabulary: list of str, indexed by token id (`kzoo.data.vectorization.vocabulary`).
            layer_name: str. The embedding layer whose weights are the vectors. Defaults to
                `"target_embedding"`, word2vec's; `"embedding"` for a word2vec classifier.
            **kwargs: passed to `WordVectors`.

        Returns:
            A `WordVectors`.
        """
        try:
            layer = model.get_layer(layer_name)
        except ValueError:
            raise ValueError(
                f"Invalid value for argument layer_name. Expected an embedding layer of model "
                f"{model.name}. Received: layer_name={layer_name}"
            ) from None
        return cls(vocabulary, keras.ops.convert_to_numpy(layer.embeddings), **kwargs)

    @classmethod
    def from_run(cls, run_dir, layer_name="target_embedding", **kwargs):
        """Builds `WordVectors` from a finished word2vec run folder (`runs/word2vec`).

        Reads `model.keras` and `vocabulary.txt`; when the run's vectorizer lower-cased its
        text (`config.json`), queries are lower-cased too unless `lowercase` is given.

        Args:
            run_dir: str. The run's `--output-dir`.
            layer_name: str. As in `from_model`. Defaults to `"target_embedding"`.
            **kwargs: passed to `WordVectors`.

        Returns:
            A `WordVectors`.
        """
        paths = {name: os.path.join(run_dir, name) for name in ("model.keras", "vocabulary.txt")}
        if not all(os.path.exists(path) for path in paths.values()):
            raise ValueError(
                "Invalid value for argument run_dir. Expected a finished kzoo run folder with "
                f"model.keras and vocabulary.txt. Received: run_dir={run_dir}"
            )
        config_path = os.path.join(run_dir, "config.json")
        if "lowercase" not in kwargs and os.path.exists(config_path):
            with open(config_path, encoding="utf-8") as f:
                kwargs["lowercase"] = "lower" in json.load(f).get("standardize", "")
        model = keras.models.load_model(paths["model.keras"], compile=False)
        return cls.from_model(
            model, vectorization.load_vocabulary(paths["vocabulary.txt"]), layer_name, **kwargs
        )

    @classmethod
    def load(cls, path, format=None, words=None, limit=None, encoding="utf-8", **kwargs):
        """Reads pre-trained vectors: a word2vec text or binary file, a GloVe text file, or the
        folder of a finished kzoo word2vec run.

        Args:
            path: str. The file (`.gz` is read as it streams) or run folder.
            format: str or `None`. `"word2vec"`, `"word2vec_binary"` or `"glove"`; `None` tells
                them apart (`kzoo.data.word_vector_files`). Defaults to `None`.
            words: collection of str or `None`. Keep only these words (a vocabulary), so that
                Google's three million News vectors take a model's few thousand rows of memory.
                Defaults to `None`, every word.
            limit: int or `None`. Read only the first `limit` vectors. Defaults to `None`.
            encoding: str. The words' encoding. Defaults to `"utf-8"`.
            **kwargs: passed to `WordVectors` (`lowercase`, `center`, `ngram_range`).

        Returns:
            A `WordVectors` of the file's words, in file order.

        Example:

        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "glove.txt")
        >>> _ = open(path, "w").write("the 0.1 0.2\\nfilm 0.3 -0.4\\n")
        >>> WordVectors.load(path).vocabulary
        ['the', 'film']
        """
        if os.path.isdir(path):
            vectors = cls.from_run(path, **kwargs)
            keep = [
                i
                for i, word in enumerate(vectors.vocabulary)
                if word not in SPECIAL_TOKENS and (words is None or word in words)
            ][:limit]
            return cls([vectors.vocabulary[i] for i in keep], vectors.vectors[keep], **kwargs)
        vocabulary, matrix = word_vector_files.read_word_vectors(
            path, format=format, words=words, limit=limit, encoding=encoding
        )
        if not vocabulary:
            raise ValueError(
                f"Invalid value for argument words. Expected words of which {path} has vectors. "
                f"Received: {len(words)} words, none of them in the file"
            )
        return cls(vocabulary, matrix, **kwargs)

    def save(self, path, format="word2vec"):
        """Writes the words (special tokens excluded) and their vectors, as trained (not
        centered), as a word2vec text or binary file or a GloVe text file.

        gensim reads them with `KeyedVectors.load_word2vec_format(path, binary=...)` (GloVe:
        `no_header=True`).

        Args:
            path: str. The file to write (whole or not at all).
            format: str. `"word2vec"`, `"word2vec_binary"` or `"glove"`. Defaults to
                `"word2vec"`.

        Returns:
            `path`.
        """
        return word_vector_files.write_word_vectors(
            path, self.words, self.vectors[self._candidate], format=format
        )

    def aligned_to(self, vocabulary, scale=0.25, seed=0):
        """The vectors laid out for a model's token ids: row `i` is `vocabulary[i]`'s.

        A word of `vocabulary` with a vector keeps it; the others (padding `""` excepted,
        which gets zeros) are drawn uniformly from `[-scale, scale]`: Kim (2014) initialised
        the words missing from the word2vec vectors so, with 0.25 giving about the variance
        of Google's News vectors. Words are matched as `in` matches them (`lowercase`).

        Args:
            vocabulary: list of str. A model's vocabulary, indexed by token id
                (`kzoo.data.vectorization.vocabulary(vectorizer)`).
            scale: float. Half-width of the uniform range of missing words. Defaults to
                `0.25`.
            seed: int. Seed of the draws. Defaults to `0`.

        Returns:
            A `WordVectors` over `vocabulary`, for `build_kim_cnn(embeddings=...)` and the
            other classifiers' `embeddings`.

        Example:

        >>> import numpy as np
        >>> wv = WordVectors(["good", "film"], np.ones((2, 3)))
        >>> aligned = wv.aligned_to(["", "[UNK]", "film", "plot"])
        >>> aligned.vectors[2].tolist(), bool(np.abs(aligned.vectors[3]).max() <= 0.25)
        ([1.0, 1.0, 1.0], True)
        """
        validation.positive_float("scale", scale)
        vocabulary = [str(word) for word in vocabulary]
        rng = np.random.default_rng(seed)
        matrix = rng.uniform(-scale, scale, size=(len(vocabulary), self.vectors.shape[1]))
        matrix = matrix.astype("float32")
        for i, word in enumerate(vocabulary):
            known = self._known_id(word) if word not in SPECIAL_TOKENS else None
            if known is not None:
                matrix[i] = self.vectors[known]
            elif word == vectorization.PADDING:
                matrix[i] = 0.0
        return WordVectors(
            vocabulary,
            matrix,
            ngram_range=self.ngram_range,
            lowercase=self.lowercase,
            center=self.center,
        )

    # === Lookups ===
    def _key(self, word):
        if not isinstance(word, str):
            raise ValueError(f"Invalid value for argument word. Expected a str. Received: {word=}")
        return word.lower() if self.lowercase else word

    def _known_id(self, word):
        i = self._ids.get(self._key(word))
        return i if i is not None and self._candidate[i] else None

    def __contains__(self, word):
        """Whether `word` has a trained vector (special tokens excluded)."""
        return isinstance(word, str) and self._known_id(word) is not None

    def __len__(self):
        return int(self._candidate.sum())

    @property
    def words(self):
        """The words that have vectors, special tokens excluded, in vocabulary order."""
        return [word for word, keep in zip(self.vocabulary, self._candidate) if keep]

    def _build_ngram_index(self):
        index = {}
        for i, word in enumerate(self.vocabulary):
            if self._candidate[i]:
                for gram in set(_ngrams(word, self.ngram_range)):
                    index.setdefault(gram, []).append(i)
        self._ngram_index = {gram: np.array(ids) for gram, ids in index.items()}

    def _subword_vector(self, word):
        if self.ngram_range is not None:
            if self._ngram_index is None:
                self._build_ngram_index()
            grams = [
                g for g in dict.fromkeys(_ngrams(word, self.ngram_range)) if g in self._ngram_index
            ]
            if grams:
                return np.mean([self._unit[self._ngram_index[g]].mean(0) for g in grams], axis=0)
        how = (
            "n-grams were turned off (ngram_range=None)"
            if self.ngram_range is None
            else (
                f"no character {self.ngram_range[0]}-{self.ngram_range[1]}-gram of it occurs in "
                "the vocabulary"
            )
        )
        raise ValueError(
            "Invalid value for argument word. Expected a word in the vocabulary or one sharing "
            f"character n-grams with it; {how}. Received: word={word}"
        )

    def vector(self, word):
        """Returns the vector of `word`, shape `(dim,)`.

        The vector similarities are computed from: a known word's trained vector (minus the
        mean word vector with `center=True`); for an unknown word the mean of its character
        n-grams' vectors (see the module docstring), whose direction, not length, matters; or
        `ValueError` if no n-gram of it is known.
        """
        i = self._known_id(word)
        if i is not None:
            return self._space[i].copy()
        return self._subword_vector(self._key(word)).astype("float32")

    def _nearest(self, query, k, exclude):
        validation.positive_int("k", k)
        norm = np.linalg.norm(query)
        scores = self._unit @ (query / max(norm, 1e-12))
        allowed = self._candidate.copy()
        allowed[list(exclude)] = False
        order = np.argsort(-np.where(allowed, scores, -np.inf), kind="stable")
        order = order[: min(k, int(allowed.sum()))]
        return [(self.vocabulary[i], float(scores[i])) for i in order]

    def most_similar(self, word, k=10):
        """Returns the `k` words most similar to `word` by cosine, the word itself excluded.

        Args:
            word: str. A known word, or an unknown one (n-gram vector, see `vector`).
            k: int. Number of neighbours. Defaults to `10`.

        Returns:
            A list of `(word, cosine similarity)` pairs, most similar first.
        """
        known = self._known_id(word)
        return self._nearest(self.vector(word), k, [] if known is None else [known])

    def analogy(self, a, b, c, k=10):
        """Answers "`a` is to `b` as `c` is to ?" with the words nearest to `b - a + c`.

        The three vectors are normalised first (3CosAdd), and `a`, `b` and `c` are never
        answers. `analogy("man", "king", "woman")` asks for a female king.

        Args:
            a, b, c: str. Known words, or unknown ones (n-gram vectors).
            k: int. Number of answers. Defaults to `10`.

        Returns:
            A list of `(word, cosine similarity to b - a + c)` pairs, best first.
        """

        def unit(word):
            v = self.vector(word)
            return v / max(np.linalg.norm(v), 1e-12)

        query = unit(b) - unit(a) + unit(c)
        exclude = [i for i in map(self._known_id, (a, b, c)) if i is not None]
        return self._nearest(query, k, exclude)

    def export_projector(self, directory, tensor_format="tsv"):
        """Writes the words (special tokens excluded) and their vectors for TensorBoard's
        embedding projector; see `write_projector`. Returns the files written."""
        return write_projector(directory, self.words, self.vectors[self._candidate], tensor_format)

    def __repr__(self):
        return f"<WordVectors: {len(self)} words, dim {self.vectors.shape[1]}>"


__all__ = ["SPECIAL_TOKENS", "WordVectors", "write_projector"]
