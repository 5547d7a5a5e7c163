"""Word vector files: word2vec's text and binary formats and GloVe's text format.

The three formats every word-vector tool reads and writes (gensim's `KeyedVectors`, the
original word2vec C tool, Stanford's GloVe):

- `"word2vec"`: a header line `<count> <dim>`, then one line per word: the word and its `dim`
  numbers, separated by spaces.
- `"word2vec_binary"`: the same header, then per word: the word's UTF-8 bytes, a space and
  `dim` little-endian float32 numbers (the C tool also writes a newline after each vector;
  gensim does not; both are read). Google's News vectors come in this format.
- `"glove"`: the text lines without a header.

`read_word_vectors` tells them apart by the first line (a `<count> <dim>` header or not) and,
after a header, by the bytes of the first vector; a `.gz` file (or gzip data) is read as it
streams, so a 1.6 GB download never sits in memory whole. `words=` keeps only the vectors of
the words a vocabulary needs, which reading Google's three million vectors for one corpus
needs. A file that cannot be read raises `DataFileError` naming the file and the line (for the
binary format, line `n` is the header's line 1 followed by one line per vector).
"""

import gzip
import io
import os

import numpy as np

from kzoo import validation
from kzoo.data.text_files import _GZIP_MAGIC, DataFileError, _check_encoding, _path
from kzoo.files import write_atomically

FORMATS = ("word2vec", "word2vec_binary", "glove")
# The bytes a number written as text is made of (nan, inf and exponents included).
_TEXT_NUMBER_BYTES = frozenset(b"0123456789+-.eEnaifNAIF \t\r\n")


def _open(path):
    """The file's bytes as a buffered stream, gunzipped when it is gzip data."""
    try:
        with open(path, "rb") as file:
            gzipped = file.read(2) == _GZIP_MAGIC
        raw = gzip.open(path, "rb") if gzipped else open(path, "rb")  # noqa: SIM115
    except FileNotFoundError:
        raise DataFileError(f"Cannot read {path}: no such file.") from None
    except IsADirectoryError:
        raise DataFileError(f"Cannot read {path}: it is a directory, expected a file.") from None
    except PermissionError:
        raise DataFileError(f"Cannot read {path}: permission denied.") from None
    return io.BufferedReader(raw, buffer_size=1 << 20)


def _header(line):
    """`(count, dim)` if `line` is a word2vec header, else `None`."""
    fields = line.split()
    if len(fields) == 2 and all(field.isdigit() for field in fields):
        count, dim = int(fields[0]), int(fields[1])
        return (count, dim) if dim > 0 else None
    return None


def _decode(data, path, line, encoding):
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise DataFileError(
            f"Cannot decode {path} line {line} as {encoding}: byte 0x{data[error.start]:02x} "
            f"at column {error.start + 1}. Pass the file's encoding, for example "
            'encoding="latin-1".'
        ) from None


def _text_row(text, dim, path, line):
    """`(word, vector)` of one text line: the word is what precedes the last `dim` fields
    (GloVe's Common Crawl vectors have words with spaces in them)."""
    fields = text.rsplit(None, dim)
    if len(fields) != dim + 1 or not fields[0]:
        raise DataFileError(
            f"Cannot read {path} line {line}: expected a word and {dim} numbers, found "
            f"{len(text.split())} fields."
        )
    try:
        return fields[0], np.array(fields[1:], dtype="float32")
    except ValueError:
        raise DataFileError(
            f"Cannot read {path} line {line}: expected a word and {dim} numbers, found "
            f"{text[:80]!r}."
        ) from None


def _looks_binary(stream, dim):
    """Whether the vectors after a word2vec header are binary: the rest of the first
    vector's line, after its word, is not `dim` numbers written as text."""
    head = stream.peek(1 << 16).lstrip(b"\n")
    space = head.find(b" ")
    rest = head[space + 1 :] if space >= 0 else b""
    line = rest.split(b"\n", 1)[0]
    separators = len(line.split()) - 1
    whole = len(line) == len(rest)  # a text line longer than what was peeked
    text = bool(line) and set(line) <= _TEXT_NUMBER_BYTES and (separators >= dim - 1 or whole)
    return not text


def _text_rows(stream, path, dim, first_line, encoding):
    for line, data in enumerate(stream, start=first_line):
        text = _decode(data, path, line, encoding).strip("\r\n")
        if text.strip():
            yield (*_text_row(text, dim, path, line), line)


def _binary_rows(stream, path, count, dim, encoding):
    """Rows of the binary format, read in large chunks: a word ends at its space, and its
    vector is the next `4 * dim` bytes."""
    size, buffer, position = 4 * dim, b"", 0
    for index in range(count):
        while True:
            space = buffer.find(b" ", position)
            if space >= 0 and len(buffer) - space - 1 >= size:
                break
            chunk = stream.read(1 << 20)
            if not chunk:
                raise DataFileError(
                    f"Cannot read {path} line {index + 2}: the file ends inside vector "
                    f"{index + 1} of the {count} its header announces (truncated)."
                )
            buffer, position = buffer[position:] + chunk, 0
        word = _decode(buffer[position:space].lstrip(b"\n"), path, index + 2, encoding)
        vector = np.frombuffer(buffer, dtype="<f4", count=dim, offset=space + 1)
        position = space + 1 + size
        yield word, vector, index + 2


def read_word_vectors(path, format=None, words=None, limit=None, encoding="utf-8"):
    """Reads a word2vec (text or binary) or GloVe file.

    Args:
        path: str or path-like. The file; `.gz` (or any gzip data) is read as it streams.
        format: str or `None`. `"word2vec"`, `"word2vec_binary"` or `"glove"`; `None` tells
            them apart (see the module docstring). Defaults to `None`.
        words: collection of str or `None`. Keep only these words' vectors (the file is
            still read through). Defaults to `None`, every word.
        limit: int or `None`. Read only the first `limit` vectors (files list frequent words
            first). Defaults to `None`.
        encoding: str. The words' encoding. Defaults to `"utf-8"`.

    Returns:
        `(words, vectors)`: a list of str and a float32 array `(len(words), dim)`, in file
        order. A word listed twice keeps its first vector.

    Raises:
        DataFileError: a missing, damaged or malformed file; the message names the line.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "vectors.txt")
    >>> _ = open(path, "w").write("2 3\\ncat 1 0 0.5\\ndog 0 1 -1\\n")
    >>> words, vectors = read_word_vectors(path)
    >>> words, vectors.tolist()
    (['cat', 'dog'], [[1.0, 0.0, 0.5], [0.0, 1.0, -1.0]])
    """
    path = _path(path)
    if format is not None:
        validation.one_of("format", format, FORMATS)
    if limit is not None:
        validation.positive_int("limit", limit)
    _check_encoding(encoding)
    wanted = None if words is None else set(words)
    with _open(path) as stream:
        first = stream.readline()
        if not first.strip():
            raise DataFileError(f"Cannot read {path}: it holds no word vectors.")
        header = _header(_decode(first, path, 1, encoding)) if format != "glove" else None
        if format in ("word2vec", "word2vec_binary") and header is None:
            raise DataFileError(
                f"Cannot read {path} line 1: expected the word2vec header '<count> <dim>' of "
                f"format={format}, found {first[:80]!r}. For GloVe files, format='glove'."
            )
        if header is None:  # GloVe: the first line is a vector, and sets the width
            text = _decode(first, path, 1, encoding).strip("\r\n")
            dim = len(text.split()) - 1
            if dim < 1:
                raise DataFileError(
                    f"Cannot read {path} line 1: expected a word and its numbers, found "
                    f"{text[:80]!r}."
                )
            count = None
            rows = _text_rows(stream, path, dim, 2, encoding)
            rows = _chain_first(_text_row(text, dim, path, 1), rows)
        else:
            count, dim = header
            binary = format == "word2vec_binary" or (format is None and _looks_binary(stream, dim))
            if binary:
                rows = _binary_rows(stream, path, count, dim, encoding)
            else:
                rows = _text_rows(stream, path, dim, 2, encoding)
        kept, vectors, seen, read = [], [], set(), 0
        for word, vector, _ in rows:
            read += 1
            if word not in seen and (wanted is None or word in wanted):
                seen.add(word)
                kept.append(word)
                vectors.append(np.array(vector, dtype="float32"))  # a copy, not a view
            if limit is not None and read >= limit:
                break
    if count is not None and limit is None and read != count:
        raise DataFileError(
            f"Cannot read {path}: its header announces {count} vectors, but it holds {read}."
        )
    matrix = np.array(vectors, dtype="float32").reshape(len(vectors), dim)
    return kept, matrix


def _chain_first(first, rest):
    yield (*first, 1)
    yield from rest


def write_word_vectors(path, words, vectors, format="word2vec"):
    """Writes word vectors as a word2vec (text or binary) or GloVe file, whole or not at all.

    Text numbers are written with 9 significant digits, which float32 reads back exactly.

    Args:
        path: str or path-like. The file to write.
        words: list of str. Words without whitespace (the formats separate fields with it).
        vectors: float array `(len(words), dim)`.
        format: str. `"word2vec"`, `"word2vec_binary"` or `"glove"`. Defaults to
            `"word2vec"`.

    Returns:
        `path`.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "vectors.txt")
    >>> _ = write_word_vectors(path, ["cat", "dog"], [[1.0, 0.0], [0.25, -1.5]])
    >>> print(open(path).read(), end="")
    2 2
    cat 1 0
    dog 0.25 -1.5
    """
    validation.one_of("format", format, FORMATS)
    words = [str(word) for word in words]
    vectors = np.asarray(vectors, dtype="float32")
    if vectors.ndim != 2 or len(vectors) != len(words) or not len(words):
        raise ValueError(
            "Invalid value for argument vectors. Expected a matrix with one row per word, "
            f"({len(words)}, dim). Received: vectors.shape={vectors.shape}"
        )
    for word in words:
        if not word or word != "".join(word.split()):
            raise ValueError(
                "Invalid value for argument words. Expected non-empty words without "
                f"whitespace, which word vector files separate fields with. Received: a word "
                f"{word!r}"
            )

    def write(temporary):
        with open(temporary, "wb") as file:
            if format != "glove":
                file.write(f"{len(words)} {vectors.shape[1]}\n".encode())
            for word, vector in zip(words, vectors):
                if format == "word2vec_binary":
                    file.write(word.encode() + b" " + vector.astype("<f4").tobytes() + b"\n")
                else:
                    numbers = " ".join(f"{value:.9g}" for value in vector.tolist())
                    file.write(f"{word} {numbers}\n".encode())

    return write_atomically(os.fspath(path), write)


__all__ = ["FORMATS", "read_word_vectors", "write_word_vectors"]
