"""Readers for local data files: text lines, labeled sentences, CSV/TSV, parallel text, images.

Every reader takes a path (gzip'd files, `.gz`, are decompressed transparently) and an
`encoding`, and raises `DataFileError`, a `ValueError`, for input it cannot read. The message
names the file and, where it applies, the 1-based line number, and says what to do:

    Cannot decode rt-polarity.pos line 12 as utf-8: byte 0xe9 at column 30. Pass the file's
    encoding, for example --encoding latin-1 (encoding="latin-1" in Python).

No `UnicodeDecodeError`, `csv.Error` or TensorFlow error escapes from here.

Lines are split on `\\n` only, after `\\r\\n` and a lone `\\r` are read as `\\n`: Python's
`str.splitlines` would also split on characters such as U+0085, which is what a Windows-1252
ellipsis (byte 0x85) becomes when the file is read as latin-1.
"""

import codecs
import csv
import gzip
import io
import os
import pathlib
import warnings
import zlib

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp")
NPZ_IMAGE_KEYS = ("images", "x", "x_train")
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


# === Plain text ===


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
    kzoo.data.readers.DataFileError: Cannot decode ... line 3 as utf-8: byte 0xe9 at column 12. ...
    """
    text = read_text(path, encoding)
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


# === Classification ===


def read_labeled_lines(path, encoding="utf-8"):
    """Reads `<label> <text>` lines, as in SST-2 (`1 a fine film`) and TREC (`DESC:manner How ...`).

    The label is the first whitespace-separated token and the text is the rest of the line,
    stripped. Blank lines are skipped.

    Args:
        path: str or path-like. The file to read (`.gz` ok).
        encoding: str. The file's text encoding. Defaults to `"utf-8"`.

    Returns:
        A tuple `(texts, labels)` of two lists of `str`.

    Raises:
        DataFileError: the file cannot be read, or a line has a label but no text (the message
            names the line).

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "sst.txt")
    >>> with open(path, "w") as file:
    ...     _ = file.write("1 a fine film\\n\\n0  dull and  overlong \\n")
    >>> read_labeled_lines(path)
    (['a fine film', 'dull and  overlong'], ['1', '0'])
    """
    path = _path(path)
    texts, labels = [], []
    for number, label, text, problem in _labeled_line_records(path, encoding):
        if problem:
            raise DataFileError(
                f"{path} line {number} has {problem}. Expected '<label> <text>' on every "
                "non-blank line."
            )
        labels.append(label)
        texts.append(text)
    return texts, labels


def _labeled_line_records(path, encoding):
    """Yields `(line number, label, text, problem)` for each non-blank `<label> <text>` line;
    `problem` says what is wrong with the line, or is None."""
    for number, line in enumerate(read_lines(path, encoding), start=1):
        fields = line.split(None, 1)
        if not fields:
            continue
        text = fields[1].strip() if len(fields) > 1 else ""
        yield number, fields[0], text, None if text else f"a label ({fields[0]!r}) but no text"


def _default_labels(paths):
    suffixes = [pathlib.PurePath(_strip_gz(p)).suffix[1:] for p in paths]
    stems = [pathlib.PurePath(_strip_gz(p)).stem for p in paths]
    labels = [suffix or stem for suffix, stem in zip(suffixes, stems)]
    if len(set(labels)) == len(labels):
        return labels
    if len(set(stems)) == len(stems):
        return stems
    raise ValueError(
        "Invalid value for argument labels. Expected one label per file when the file names do "
        f"not tell the classes apart. Received: labels=None with paths={list(paths)}"
    )


def read_label_files(paths, labels=None, encoding="utf-8"):
    """Reads one file per class, one example a line, as in MR (`rt-polarity.pos`/`.neg`).

    Without `labels`, a file's label is its last suffix (`rt-polarity.pos` → `"pos"`, a `.gz`
    suffix aside) or, for a file without one, its name. When suffixes do not tell the files
    apart (`pos.txt`, `neg.txt`), the names without the suffix do (`"pos"`, `"neg"`). Blank
    lines are skipped and texts are stripped.

    Args:
        paths: list of str or path-like. One file per class.
        labels: list of str. The class of each file, in the order of `paths`. Defaults to
            `None` (from the file names, as above).
        encoding: str. The files' text encoding. Defaults to `"utf-8"`.

    Returns:
        A tuple `(texts, labels)` of two lists of `str`, the files' examples in order.

    Raises:
        DataFileError: a file cannot be read.

    Example:

    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> for name, text in [("mr.pos", "a joy\\n"), ("mr.neg", "a chore\\nso long\\n")]:
    ...     with open(os.path.join(folder, name), "w") as file:
    ...         _ = file.write(text)
    >>> read_label_files([os.path.join(folder, "mr.pos"), os.path.join(folder, "mr.neg")])
    (['a joy', 'a chore', 'so long'], ['pos', 'neg', 'neg'])
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [_path(p) for p in paths]
    if not paths:
        raise ValueError(
            "Invalid value for argument paths. Expected a non-empty list of file paths. "
            f"Received: paths={paths}"
        )
    if labels is None:
        labels = _default_labels(paths)
    elif isinstance(labels, str) or len(labels) != len(paths):
        raise ValueError(
            f"Invalid value for argument labels. Expected a list of {len(paths)} labels, one per "
            f"file in paths. Received: labels={labels!r}"
        )
    texts, example_labels = [], []
    for path, label in zip(paths, labels):
        for line in read_lines(path, encoding):
            if line.strip():
                texts.append(line.strip())
                example_labels.append(str(label))
    return texts, example_labels


# === Delimited files ===


def read_delimited(path, columns, delimiter=None, encoding="utf-8"):
    """Reads named columns from a CSV or TSV file with a header row.

    CSV files follow Python's `csv` quoting rules (fields may be quoted and contain the
    delimiter or newlines). TSV files are read without quoting, as tab-separated datasets
    such as GLUE's are written: a `"` inside a sentence is just a character. Blank lines are
    skipped.

    Args:
        path: str or path-like. The file to read (`.gz` ok).
        columns: str or list of str. The column names to return.
        delimiter: str. One-character field separator. Defaults to `None`: a tab for `.tsv` and
            `.tab` files (a `.gz` suffix aside), else a comma.
        encoding: str. The file's text encoding. Defaults to `"utf-8"`.

    Returns:
        A tuple with one list of `str` per requested column, in the order of `columns`.

    Raises:
        DataFileError: the file cannot be read, has no header, lacks a requested column
            (the message lists the columns found), or a row has the wrong number of fields.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "reviews.csv")
    >>> with open(path, "w") as file:
    ...     _ = file.write('id,text,label\\n1,"great, really",pos\\n2,meh,neg\\n')
    >>> read_delimited(path, ["text", "label"])
    (['great, really', 'meh'], ['pos', 'neg'])
    """
    path = _path(path)
    if isinstance(columns, str):
        columns = [columns]
    values = tuple([] for _ in columns)
    for number, fields, problem in _delimited_records(path, columns, delimiter, encoding):
        if problem:
            raise DataFileError(f"{path} line {number} has {problem}.")
        for column, field in zip(values, fields):
            column.append(field)
    return values


def _delimited_records(path, columns, delimiter, encoding):
    """Yields `(line number, fields, problem)` for each non-blank row of a CSV/TSV file.

    `fields` are the row's values of `columns`; `problem` says what is wrong with a row whose
    number of fields differs from the header's (its `fields` are then None), or is None. The
    line number is the row's first line (a quoted field may span several).
    """
    if not columns:
        raise ValueError(
            "Invalid value for argument columns. Expected a non-empty list of column names. "
            f"Received: columns={columns!r}"
        )
    if delimiter is None:
        delimiter = "\t" if pathlib.PurePath(_strip_gz(path)).suffix in (".tsv", ".tab") else ","
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise ValueError(
            "Invalid value for argument delimiter. Expected a one-character string. "
            f"Received: delimiter={delimiter!r}"
        )
    _check_encoding(encoding)
    text = _decode(_read_bytes(path), path, encoding)
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting)
    try:
        header = next((row for row in reader if row), None)
        if header is None:
            raise DataFileError(f"{path} is empty. Expected a header row naming the columns.")
        header = [name.strip() for name in header]
        missing = [name for name in columns if name not in header]
        if missing:
            raise DataFileError(
                f"{path} has no column {missing[0]!r}. Columns found: {header}. Check the "
                f"column names or the delimiter ({delimiter!r})."
            )
        indices = [header.index(name) for name in columns]
        last_line = reader.line_num
        for row in reader:
            number, last_line = last_line + 1, reader.line_num
            if not row:
                continue
            if len(row) != len(header):
                problem = f"{len(row)} fields, but the header has {len(header)}: {header}"
                yield number, None, problem
            else:
                yield number, [row[index] for index in indices], None
    except csv.Error as error:
        raise DataFileError(f"Cannot parse {path} line {reader.line_num}: {error}.") from None


# === Parallel text ===


def _drop_trailing_blank_lines(lines):
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def read_parallel(source_path, target_path, encoding="utf-8"):
    """Reads line-aligned parallel files: line `i` of the target translates line `i` of the source.

    Blank lines at the very end of either file are ignored; every other line counts, so a
    missing line anywhere shows up as different line counts. Sentences are stripped.

    Args:
        source_path: str or path-like. Source-language file (`.gz` ok).
        target_path: str or path-like. Target-language file (`.gz` ok).
        encoding: str. Both files' text encoding. Defaults to `"utf-8"`.

    Returns:
        A tuple `(sources, targets)` of two equally long lists of `str`.

    Raises:
        DataFileError: a file cannot be read, or the files have different numbers of lines
            (the message names both files and counts).

    Example:

    >>> import gzip, os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with gzip.open(os.path.join(folder, "train.de.gz"), "wt") as file:
    ...     _ = file.write("Ein Hund.\\nZwei Katzen.\\n")
    >>> with gzip.open(os.path.join(folder, "train.en.gz"), "wt") as file:
    ...     _ = file.write("A dog.\\nTwo cats.\\n")
    >>> read_parallel(os.path.join(folder, "train.de.gz"), os.path.join(folder, "train.en.gz"))
    (['Ein Hund.', 'Zwei Katzen.'], ['A dog.', 'Two cats.'])
    """
    sources = _drop_trailing_blank_lines(read_lines(source_path, encoding))
    targets = _drop_trailing_blank_lines(read_lines(target_path, encoding))
    if len(sources) != len(targets):
        raise DataFileError(
            f"Parallel files must have one line per sentence pair, but {_path(source_path)} has "
            f"{len(sources)} lines and {_path(target_path)} has {len(targets)}."
        )
    return [s.strip() for s in sources], [t.strip() for t in targets]


def read_parallel_tsv(path, encoding="utf-8"):
    """Reads sentence pairs from a TSV file without header: `<source>\\t<target>` a line.

    Columns after the second, such as the attribution column of the manythings.org / Anki
    files (`fra.txt`, `spa.txt`), are ignored. Blank lines are skipped.

    Args:
        path: str or path-like. The file to read (`.gz` ok).
        encoding: str. The file's text encoding. Defaults to `"utf-8"`.

    Returns:
        A tuple `(sources, targets)` of two equally long lists of `str`.

    Raises:
        DataFileError: the file cannot be read, or a non-blank line has no tab (the message
            names the line).

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "fra.txt")
    >>> with open(path, "w") as file:
    ...     _ = file.write("Go.\\tVa !\\tCC-BY 2.0\\nHi.\\tSalut !\\n")
    >>> read_parallel_tsv(path)
    (['Go.', 'Hi.'], ['Va !', 'Salut !'])
    """
    path = _path(path)
    sources, targets = [], []
    for number, line in enumerate(read_lines(path, encoding), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2:
            raise DataFileError(
                f"{path} line {number} has no tab. Expected '<source>\\t<target>' on every "
                "non-blank line."
            )
        sources.append(fields[0].strip())
        targets.append(fields[1].strip())
    return sources, targets


# === Images ===


def _scale_images(array, where):
    if array.ndim == 3:
        array = array[..., np.newaxis]
    if array.ndim != 4:
        raise DataFileError(
            f"{where} has shape {array.shape}. Expected images of shape (N, H, W) or (N, H, W, C)."
        )
    if array.size == 0:
        raise DataFileError(f"{where} holds no images (shape {array.shape}).")
    if np.issubdtype(array.dtype, np.integer) or array.dtype == bool:
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > 255:
            raise DataFileError(
                f"{where} holds integers in [{low}, {high}]. Expected pixel values in [0, 255]."
            )
        return array.astype("float32") / 255.0
    if np.issubdtype(array.dtype, np.floating):
        low, high = float(array.min()), float(array.max())
        if not (np.isfinite(low) and np.isfinite(high)) or low < 0.0 or high > 1.0:
            raise DataFileError(
                f"{where} holds floats in [{low}, {high}]. Expected float pixel values in "
                "[0, 1] or uint8 values in [0, 255]."
            )
        return array.astype("float32")
    raise DataFileError(f"{where} has dtype {array.dtype}. Expected uint8 or float images.")


def _read_npz_images(path):
    try:
        loaded = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataFileError(f"Cannot read {path}: no such file.") from None
    except (OSError, ValueError, EOFError) as error:
        raise DataFileError(f"Cannot read {path} as a NumPy .npz/.npy file: {error}") from None
    if isinstance(loaded, np.ndarray):  # a .npy file holds one array
        return _scale_images(loaded, path)
    with loaded as arrays:
        names = list(arrays.keys())
        key = next((k for k in NPZ_IMAGE_KEYS if k in names), None)
        if key is None and len(names) == 1:
            key = names[0]
        if key is None:
            raise DataFileError(
                f"{path} has no array named {' or '.join(map(repr, NPZ_IMAGE_KEYS))} and "
                f"{len(names)} arrays: {names}. Save the images under the name 'images'."
            )
        try:
            array = arrays[key]
        except (OSError, ValueError, EOFError) as error:
            raise DataFileError(f"Cannot read array {key!r} of {path}: {error}") from None
        return _scale_images(array, f"Array {key!r} of {path}")


def _read_image_folder(path):
    import tensorflow as tf

    files = sorted(
        entry.name
        for entry in os.scandir(path)
        if entry.is_file() and entry.name.lower().endswith(IMAGE_SUFFIXES)
    )
    if not files:
        raise DataFileError(
            f"{path} contains no image files. Expected PNG, JPEG, GIF or BMP files "
            f"({', '.join(IMAGE_SUFFIXES)})."
        )
    images, first = [], None
    for name in files:
        file_path = os.path.join(path, name)
        data = _read_bytes(file_path)
        try:
            image = tf.io.decode_image(data, expand_animations=False).numpy()
        except (tf.errors.OpError, ValueError) as error:
            reason = getattr(error, "message", str(error)).splitlines()[0]
            raise DataFileError(f"Cannot decode image {file_path}: {reason}") from None
        if first is None:
            first = (name, image.shape)
        elif image.shape != first[1]:
            raise DataFileError(
                f"Image {file_path} has shape {image.shape}, but {first[0]} (the first image) has "
                f"shape {first[1]}. All images in a folder must have the same height, width "
                "and channels."
            )
        images.append(image)
    return _scale_images(np.stack(images), path)


def read_images(path):
    """Reads images into a float32 array `(N, H, W, C)` scaled to [0, 1].

    From an `.npz` file, the array named `images`, else `x`, else `x_train`, else the only
    array is used (an `.npy` file holds just one). Integer pixels in [0, 255] are divided by
    255; float pixels must already lie in [0, 1]. Arrays of shape `(N, H, W)` get a channel
    axis.

    From a folder, every PNG, JPEG, GIF or BMP file in it (not in subfolders) is decoded with
    `tf.io.decode_image`, in file-name order. All must share a shape; grayscale files give one
    channel, colour files three.

    Args:
        path: str or path-like. An `.npz`/`.npy` file or a folder of images.

    Returns:
        A float32 `numpy.ndarray` of shape `(N, H, W, C)` with values in [0, 1].

    Raises:
        DataFileError: the file or folder cannot be read, no array or image is found, values
            are out of range, or an image's shape differs from the first one's (the message
            names the odd file).

    Example:

    >>> import os, tempfile
    >>> import numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "digits.npz")
    >>> np.savez(path, x_train=np.full((2, 3, 3), 255, dtype="uint8"), y_train=np.array([0, 1]))
    >>> images = read_images(path)
    >>> images.shape, images.dtype, float(images.max())
    ((2, 3, 3, 1), dtype('float32'), 1.0)
    """
    path = _path(path)
    if os.path.isdir(path):
        return _read_image_folder(path)
    return _read_npz_images(path)


# === Front door for classification files ===

ON_BAD_LINES = ("error", "warn", "skip")

# A label seen at most _RARE_COUNT times, on less than _RARE_SHARE of a training file's lines,
# is refused as a likely missing label (see `load_classification_files`).
_RARE_COUNT = 2
_RARE_SHARE = 0.005
_SHOWN = 5  # line numbers or labels quoted in one message


class BadLinesWarning(UserWarning):
    """Bad lines of a classification file were left out (`on_bad_lines="warn"`)."""


class LabeledTexts(tuple):
    """`(texts, labels)`, with the number of bad lines left out as `lines_left_out`.

    A pair, so `texts, labels = load_classification_files(...)` reads as any reader's result;
    like `os.stat_result`, it carries one more figure as an attribute.
    """

    def __new__(cls, texts, labels, lines_left_out=0):
        pair = super().__new__(cls, (texts, labels))
        pair.lines_left_out = lines_left_out
        return pair


def _some(items):
    shown = ", ".join(str(item) for item in items[:_SHOWN])
    return shown + (f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")


def _check_labels_argument(labels):
    if labels is None:
        return None
    if (
        isinstance(labels, str)
        or len(labels) < 2
        or not all(isinstance(label, str) and label.strip() for label in labels)
        or len(set(labels)) != len(labels)
    ):
        raise ValueError(
            "Invalid value for argument labels. Expected a list of at least two distinct class "
            f"names. Received: labels={labels!r}"
        )
    return list(labels)


def _keep_good_lines(path, records, declared, on_bad_lines, nothing):
    """Takes one file's `(line number, label, text, problem)` records; leaves bad lines out as
    `on_bad_lines` says. Returns (texts, labels, line numbers, number of lines left out).

    `nothing` says what an empty file holds, for the message.
    """
    texts, labels, numbers, bad = [], [], [], []
    for number, label, text, problem in records:
        if problem is None and declared is not None and label not in declared:
            problem = f"the label {label!r}, not one of the declared labels {declared}"
        if problem:
            bad.append((number, problem))
        else:
            texts.append(text)
            labels.append(label)
            numbers.append(number)
    if bad:
        number, problem = bad[0]
        if on_bad_lines == "error":
            more = f" ({len(bad)} bad lines in all)" if len(bad) > 1 else ""
            raise DataFileError(
                f"{path} line {number} has {problem}{more}. To leave such lines out, pass "
                "--on-bad-lines warn or --on-bad-lines skip (on_bad_lines= in Python)."
            )
        if on_bad_lines == "warn":
            if len(bad) == 1:
                message = f"{path}: left out 1 bad line: line {number} has {problem}."
            else:
                message = (
                    f"{path}: left out {len(bad)} bad lines, on lines "
                    f"{_some([n for n, _ in bad])}; the first has {problem}."
                )
            warnings.warn(message, BadLinesWarning, stacklevel=3)
    if not texts:
        if bad:
            nothing = f"all {len(bad)} of its lines are bad lines, left out"
        raise DataFileError(f"{path} has 0 examples: {nothing}.")
    return texts, labels, numbers, len(bad)


def _check_rare_labels(path, labels, numbers, missing_label):
    """Refuses labels seen at most `_RARE_COUNT` times and on less than `_RARE_SHARE` of the
    lines: most likely lines whose label is missing (`missing_label` says how that reads)."""
    counts = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    rare = {
        label
        for label, count in counts.items()
        if count <= _RARE_COUNT and count < _RARE_SHARE * len(labels)
    }
    if not rare:
        return
    lines = {}
    for number, label in zip(numbers, labels):
        if label in rare:
            lines.setdefault(label, []).append(number)
    (label, first), *others = lines.items()  # in the order of their first lines
    where = f"line {first[0]}" if len(first) == 1 else f"lines {first[0]} and {first[1]}"
    message = (
        f"{path} has the label {label!r} only on {where} of its {len(labels)} lines: it looks like "
        f"{missing_label}. Fix the line, or declare the classes with --labels (labels= in "
        f"Python) if {label!r} is a real one."
    )
    if others:
        listed = [
            f"{other!r} ({'line' if len(at) == 1 else 'lines'} {_some(at)})" for other, at in others
        ]
        message += f" Other labels as rare: {_some(listed)}."
    if sum(len(at) for at in lines.values()) >= 0.1 * len(labels):
        message += (
            " So many rare labels suggest a file without labels: for one file per label, "
            "give one --train-file per label."
        )
    raise DataFileError(message)


def load_classification_files(
    paths,
    encoding="utf-8",
    text_column="text",
    label_column="label",
    labels=None,
    on_bad_lines="error",
    check_rare_labels=False,
):
    """Reads a text-classification dataset from local files, whatever their layout.

    - Several paths: one file per class, one example a line (`read_label_files`; labels from
      the file names).
    - One `.csv` or `.tsv` file (`.gz` ok): the `text_column` and `label_column` columns
      (`read_delimited`).
    - Any other single file: `<label> <text>` lines (`read_labeled_lines`).

    Blank lines are skipped. A bad line is one of these:

    - a `<label> <text>` line with a label and no text;
    - a CSV/TSV row whose number of fields differs from the header's, or whose text or label
      field is empty (blank);
    - with `labels`, a line or row whose label is not one of them.

    `on_bad_lines` says what to do with them, as in pandas' `read_csv`: `"error"` raises
    naming the file and the first one's line, `"warn"` leaves them out with one
    `BadLinesWarning` per file (the count and the first line numbers), `"skip"` leaves them
    out silently. A file with no example left is an error. With one file per class, every
    line is an example, and a file whose class (from its name) is not in `labels` is an error.

    A line whose label is missing reads its first word as a label (`"if"`, `"jonathan"`), a
    class of its own. With `check_rare_labels` (for training files) and no `labels`, a label
    found at most twice, and on less than 0.5 % of a file's lines, is refused as such a line:
    a real class needs more examples than that to be learned, while the first words of
    unlabeled lines are scattered over many words, each seen once or twice. The share spares
    small files (under 200 lines one example, under 400 two may be a whole class); real rare
    classes are declared with `labels`.

    Args:
        paths: str, path-like or list of them.
        encoding: str. The files' text encoding. Defaults to `"utf-8"`.
        text_column: str. Text column of a CSV/TSV file. Defaults to `"text"`.
        label_column: str. Label column of a CSV/TSV file. Defaults to `"label"`.
        labels: list of str. The class names, declared: a label not among them is a bad line.
            Defaults to `None` (any label is a class).
        on_bad_lines: str. `"error"`, `"warn"` or `"skip"`. Defaults to `"error"`.
        check_rare_labels: bool. Refuse labels seen once or twice, as above. Defaults to
            `False`.

    Returns:
        A pair `(texts, labels)` of two lists of `str` (a `LabeledTexts`, whose
        `lines_left_out` counts the bad lines left out).

    Raises:
        DataFileError: a file cannot be read, does not have the expected layout, has a bad
            line (with `on_bad_lines="error"`) or a rare label, or has no example.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "trec.txt")
    >>> with open(path, "w") as file:
    ...     _ = file.write("NUM:count How many legs has a spider ?\\nHUM:ind Who wrote Hamlet ?\\n")
    >>> load_classification_files(path)
    (['How many legs has a spider ?', 'Who wrote Hamlet ?'], ['NUM:count', 'HUM:ind'])
    >>> with open(path, "a") as file:
    ...     _ = file.write("DESC:def\\n")
    >>> texts, labels = load_classification_files(path)
    Traceback (most recent call last):
    ...
    kzoo.data.readers.DataFileError: ... line 3 has a label ('DESC:def') but no text. ...
    >>> result = load_classification_files(path, on_bad_lines="skip")
    >>> result.lines_left_out, result[1]
    (1, ['NUM:count', 'HUM:ind'])
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = list(paths)
    if not paths:
        raise ValueError(
            "Invalid value for argument paths. Expected a file path or a non-empty list of "
            f"file paths. Received: paths={paths}"
        )
    if on_bad_lines not in ON_BAD_LINES:
        raise ValueError(
            "Invalid value for argument on_bad_lines. Expected one of "
            f"{{{', '.join(map(repr, ON_BAD_LINES))}}}. Received: on_bad_lines={on_bad_lines!r}"
        )
    declared = _check_labels_argument(labels)
    if len(paths) > 1:
        return _load_label_files(paths, encoding, declared)
    path = _path(paths[0])
    if pathlib.PurePath(_strip_gz(path)).suffix in (".csv", ".tsv"):
        records = _labeled_rows(path, text_column, label_column, encoding)
        nothing, missing_label = "no row below its header", "a row with a mistyped label"
    else:
        records = _labeled_line_records(path, encoding)
        nothing = "no non-blank line"
        missing_label = "a line whose label is missing, its first word read as the label"
    texts, labels, numbers, left_out = _keep_good_lines(
        path, records, declared, on_bad_lines, nothing
    )
    if check_rare_labels and declared is None:
        _check_rare_labels(path, labels, numbers, missing_label)
    return LabeledTexts(texts, labels, left_out)


def _labeled_rows(path, text_column, label_column, encoding):
    """`_delimited_records` as `(line number, label, text, problem)`, with an empty text or
    label field a problem."""
    columns = [text_column, label_column]
    for number, fields, problem in _delimited_records(path, columns, None, encoding):
        text, label = fields or ("", "")
        if problem is None and not text.strip():
            problem = f"an empty {text_column!r} field (no text)"
        if problem is None and not label.strip():
            problem = f"an empty {label_column!r} field (no label)"
        yield number, label, text, problem


def _load_label_files(paths, encoding, declared):
    """One file per class; each file's class must be declared and the file must not be empty."""
    texts, labels = [], []
    for path, label in zip(paths, _default_labels(paths)):
        if declared is not None and label not in declared:
            raise DataFileError(
                f"{path} holds the class {label!r} (from its name), not one of the declared "
                f"labels {declared}."
            )
        file_texts, file_labels = read_label_files([path], [label], encoding)
        if not file_texts:
            raise DataFileError(f"{_path(path)} has 0 examples: no non-blank line.")
        texts += file_texts
        labels += file_labels
    return LabeledTexts(texts, labels)


__all__ = [
    "BadLinesWarning",
    "DataFileError",
    "LabeledTexts",
    "load_classification_files",
    "read_delimited",
    "read_images",
    "read_label_files",
    "read_labeled_lines",
    "read_lines",
    "read_parallel",
    "read_parallel_tsv",
    "read_text",
]
