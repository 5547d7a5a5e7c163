"""Reading local data files: paths, bytes (gzip'd or not), decoding, text and lines.

The ground every reader of kzoo.data stands on. A `.gz` file (or gzip data under another name)
is decompressed transparently, and input that cannot be read raises `DataFileError`, a
`ValueError` whose message names the file and, where it applies, the 1-based line number, and
says what to do:

    Cannot decode rt-polarity.pos line 12 as utf-8: byte 0xe9 at column 30. Pass the file's
    encoding, for example --encoding latin-1 (encoding="latin-1" in Python).

No `UnicodeDecodeError`, `csv.Error` or TensorFlow error escapes from kzoo's readers.

Lines are split on `\\n` only, after `\\r\\n` and a lone `\\r` are read as `\\n`: Python's
`str.splitlines` would also split on characters such as U+0085, which is what a Windows-1252
ellipsis (byte 0x85) becomes when the file is read as latin-1.

The underscored helpers (`_path`, `_read_bytes`, `_decode`...) are shared with the other
readers: `classification_files`, `parallel_text` and `image_files`.
"""

import codecs
import gzip
import os
import pathlib
import zlib

_GZIP_MAGIC = b"\x1f\x8b"


class DataFileError(ValueError):
    """A data file is missing or cannot be read; the message names the file and line."""


# === Bytes and decoding ===


def _path(path):
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(
            f"Invalid value for argument path. Expected a file path (str or os.PathLike). "
            f"Received: path={path!r}"
        )
    return os.fspath(path)


def _check_encoding(encoding):
    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError):
        raise ValueError(
            "Invalid value for argument encoding. Expected a codec name known to Python, such "
            f"as 'utf-8' or 'latin-1'. Received: encoding={encoding!r}"
        ) from None
    return encoding


def _read_bytes(path):
    """Returns the file's bytes, gunzipped when the name ends in `.gz` or the data is gzip."""
    path = _path(path)
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        raise DataFileError(f"Cannot read {path}: no such file.") from None
    except IsADirectoryError:
        raise DataFileError(f"Cannot read {path}: it is a directory, expected a file.") from None
    except PermissionError:
        raise DataFileError(f"Cannot read {path}: permission denied.") from None
    except OSError as error:
        raise DataFileError(f"Cannot read {path}: {error.strerror or error}.") from None
    if path.endswith(".gz") or data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise DataFileError(
                f"Cannot decompress {path} as gzip: {error}. The file is damaged or, despite "
                "its name, not gzip'd."
            ) from None
    return data


def _ascii_compatible(encoding):
    # True for utf-8, latin-1, cp1252 and the like, where byte 0x0a is always a newline, so a
    # byte offset maps to a line number. False for utf-16/utf-32.
    return "\n".encode(encoding) == b"\n"


def _decode(data, path, encoding):
    """Decodes a whole file; a decoding error names the line and column it happened on."""
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        advice = (
            "Pass the file's encoding, for example --encoding latin-1 "
            '(encoding="latin-1" in Python).'
        )
        if not _ascii_compatible(encoding):
            raise DataFileError(
                f"Cannot decode {path} as {encoding}: {error.reason} at byte {error.start}. "
                + advice
            ) from None
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise DataFileError(
            f"Cannot decode {path} line {line} as {encoding}: byte 0x{data[error.start]:02x} "
            f"at column {column}. " + advice
        ) from None
    # A byte-order mark is an encoding artefact, not text (it would end up in the first label
    # or the first CSV column name).
    return text.removeprefix("\ufeff")


def _normalize_newlines(text):
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _strip_gz(path):
    name = pathlib.Path(path).name
    return name[: -len(".gz")] if name.endswith(".gz") else name


def read_text(path, encoding="utf-8"):
    """Reads a whole text file (`.gz` ok), with `\\r\\n` and `\\r` line ends read as `\\n`.

    Args:
        path: str or path-like. The file to read.
        encoding: str. The file's text encoding. Defaults to `"utf-8"`.

    Returns:
        The file's text as one `str`.

    Raises:
        DataFileError: the file is missing, damaged or not in `encoding`; the message names
            the path, the line and the column of the first undecodable byte.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "poem.txt")
    >>> with open(path, "wb") as file:
    ...     _ = file.write(b"To be,\\r\\nor not to be\\r\\n")
    >>> read_text(path)
    'To be,\\nor not to be\\n'
    """
    _check_encoding(encoding)
    path = _path(path)
    return _normalize_newlines(_decode(_read_bytes(path), path, encoding))


def read_lines(path, encoding="utf-8"):
    """Reads a text file (`.gz` ok) into a list of lines, line ends stripped.

    Every line counts, blank ones included, so that line `i` of one file still matches line
    `i` of another. A final line without a newline is kept; a final newline adds no empty line.

    Args:
        path: str or path-like. The file to read.
        encoding: str. The file's text encoding. Defaults to `"utf-8"`.

    Returns:
        A list of `str`, one per line, without the trailing `\\n` or `\\r\\n`.

    Raises:
        DataFileError: the file is missing, damaged or not in `encoding`; the message names
            the path, the line and the column of the first undecodable byte.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "reviews.txt")
    >>> with open(path, "w", encoding="latin-1") as file:
    ...     _ = file.write("a fine film\\n\\nun film raté\\n")
    >>> read_lines(path, encoding="latin-1")
    ['a fine film', '', 'un film raté']
    >>> read_lines(path)
    Traceback (most recent call last):
    ...
    kzoo.data.text_files.DataFileError: Cannot decode ... line 3 as utf-8: byte 0xe9 at column 12...
    """
    text = read_text(path, encoding)
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


__all__ = ["DataFileError", "read_lines", "read_text"]
