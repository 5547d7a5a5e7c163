"""Reading text-classification files: `<label> <text>` lines, one file per class, CSV/TSV.

`load_classification_files` reads any of these layouts and handles bad lines (a label without
text, a row with the wrong number of fields, an undeclared label and, for training files, a
label so rare it is most likely a line's first word) as `on_bad_lines` says: an error naming
the file and line, a `BadLinesWarning`, or silence. The reader of each single layout
(`read_labeled_lines`, `read_label_files`, `read_delimited`) is public too.
"""

import csv
import io
import os
import pathlib
import warnings

from kzoo.data.text_files import (
    DataFileError,
    _check_encoding,
    _decode,
    _path,
    _read_bytes,
    _strip_gz,
    read_lines,
)

# === `<label> <text>` lines and one file per class ===


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
    kzoo.data.text_files.DataFileError: ... line 3 has a label ('DESC:def') but no text. ...
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
    "LabeledTexts",
    "load_classification_files",
    "read_delimited",
    "read_label_files",
    "read_labeled_lines",
]
