"""Reading parallel text for translation: two line-aligned files, or one two-column TSV file.

Line `i` of the target translates line `i` of the source; a missing line shows up as different
line counts, reported with both files' names.
"""

from kzoo.data.text_files import DataFileError, _path, read_lines


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


__all__ = ["read_parallel", "read_parallel_tsv"]
