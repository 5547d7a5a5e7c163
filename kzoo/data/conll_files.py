"""Reading tagged sentences: CoNLL-U treebanks and CoNLL/IOB2 column files, one token a line.

Both formats put one token on a line and a blank line between sentences:

- **CoNLL-U** (Universal Dependencies, files named `*.conllu`): ten tab-separated columns; the
  word is column 2 (FORM) and its universal part-of-speech tag column 4 (UPOS). Lines starting
  with `#` are comments; multi-word tokens (ids such as `1-2`, "don't" over "do" and "n't") and
  empty nodes (ids such as `8.1`) are skipped, so that the words are the syntactic words the
  tags belong to.
- **CoNLL column files** (CoNLL-2003, Universal NER's `*.iob2`): columns separated by tabs, or
  by spaces when a line has no tab; the word is column 1 and the tag the last column unless
  told otherwise (Universal NER: word column 2, tag column 3). Comment lines before a
  sentence (`# text = ...`) and CoNLL-2003's `-DOCSTART-` lines are skipped.

Tags are read as a plain tag set (parts of speech) or as IOB2 entity tags (`B-PER`, `I-PER`,
`O`), where an entity starts with `B-`. A malformed line raises `DataFileError` naming the file
and line: a wrong number of columns, an `I-` tag that follows nothing of its type, or an
unknown tag. `.gz` files are read directly (`kzoo.data.text_files`).
"""

import collections
import re

from kzoo import validation
from kzoo.data.text_files import DataFileError, _path, _strip_gz, read_lines

# The 17 universal part-of-speech tags of Universal Dependencies v2.
UPOS_TAGS = (
    "ADJ",
    "ADP",
    "ADV",
    "AUX",
    "CCONJ",
    "DET",
    "INTJ",
    "NOUN",
    "NUM",
    "PART",
    "PRON",
    "PROPN",
    "PUNCT",
    "SCONJ",
    "SYM",
    "VERB",
    "X",
)
SCHEMES = ("auto", "iob2", "tags")
_CONLLU_COLUMNS = 10
_IOB2 = re.compile(r"O|[BI]-\S+")


class TaggedSentences(collections.namedtuple("TaggedSentences", ["words", "tags", "scheme"])):
    """Sentences of a tagged file: `words` and `tags` are lists of equally long lists of str,
    and `scheme` is `"iob2"` (entity tags) or `"tags"` (a plain tag set, such as UPOS)."""


def is_iob2(tags):
    """Whether every tag of `tags` (an iterable of str) reads as IOB2: `O`, `B-<type>` or
    `I-<type>`.

    Example:

    >>> is_iob2(["O", "B-PER", "I-PER"]), is_iob2(["NOUN", "VERB"])
    (True, False)
    """
    return all(_IOB2.fullmatch(tag) for tag in tags)


def _conllu_lines(path, lines, tag_column):
    """(line number, word, tag) of each syntactic word, None at each sentence end."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            yield None
            continue
        if line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != _CONLLU_COLUMNS:
            raise DataFileError(
                f"{path} line {number} has {len(fields)} tab-separated columns. Expected "
                f"{_CONLLU_COLUMNS}, as CoNLL-U has (ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL "
                "DEPS MISC)."
            )
        if "-" in fields[0] or "." in fields[0]:
            continue  # a multi-word token or an empty node: its words carry the tags
        yield number, fields[1], fields[tag_column - 1]


def _column_lines(path, lines, word_column, tag_column):
    """(line number, word, tag) of each token of a CoNLL column file, None at sentence ends."""
    expected = tabs = None  # the column count and separator of the file's first token line
    needed = max(word_column, tag_column or 1)
    in_sentence = False
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            in_sentence = False
            yield None
            continue
        if line.startswith("-DOCSTART-"):
            continue
        fields = line.split("\t") if "\t" in line else line.split()
        # A comment comes before its sentence; a token "#" has the file's columns.
        if line.startswith("#") and not in_sentence:
            looks_like_token = fields[0] == "#" and len(fields) == expected
            if not (looks_like_token and ("\t" in line) == tabs):
                continue
        if expected is None:
            expected, tabs = len(fields), "\t" in line
        if len(fields) < needed:
            raise DataFileError(
                f"{path} line {number} has {len(fields)} columns. Expected at least {needed}: "
                f"the words are column {word_column} and the tags column "
                f"{tag_column or 'last'}, one token a line."
            )
        if len(fields) != expected:
            raise DataFileError(
                f"{path} line {number} has {len(fields)} columns. Expected {expected}, as the "
                "file's first token line has: one token a line, its columns separated by tabs "
                "(or spaces)."
            )
        tag = fields[-1] if tag_column is None else fields[tag_column - 1]
        in_sentence = True
        yield number, fields[word_column - 1], tag


def _check_iob2(path, sentence, types):
    previous = "O"
    for number, _, tag in sentence:
        if not _IOB2.fullmatch(tag):
            raise DataFileError(
                f"{path} line {number} has the unknown tag {tag!r}. Expected IOB2 tags: O, "
                "B-<type> or I-<type>."
            )
        if types is not None and tag != "O" and tag[2:] not in types:
            raise DataFileError(
                f"{path} line {number} has the unknown tag {tag!r}. Expected O or the entity "
                f"types {sorted(types)} after B- or I-."
            )
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            raise DataFileError(
                f"{path} line {number} has the tag {tag} after {previous}: it follows nothing "
                f"of its type. In IOB2 an entity starts with B- (B-{tag[2:]}); convert IOB1 "
                "files to IOB2."
            )
        previous = tag


def _check_tags(path, sentence, tags):
    for number, _, tag in sentence:
        if tag not in tags:
            shown = sorted(tags) if len(tags) <= 40 else f"{len(tags)} tags"
            raise DataFileError(
                f"{path} line {number} has the unknown tag {tag!r}. Expected one of {shown}."
            )


def read_tagged_file(
    path, encoding="utf-8", *, word_column=None, tag_column=None, scheme="auto", tags=None
):
    """Reads a CoNLL-U file or a CoNLL/IOB2 column file into sentences of words and tags.

    A file whose name ends in `.conllu` (or `.conllu.gz`) is read as CoNLL-U; any other as a
    column file. See the module docstring for both.

    Args:
        path: str or path-like. The file (`.gz` ok).
        encoding: str. Its text encoding. Defaults to `"utf-8"`.
        word_column: int. The 1-based column of the words. Defaults to `None`: 2 in CoNLL-U
            (FORM), 1 in column files.
        tag_column: int. The 1-based column of the tags. Defaults to `None`: 4 in CoNLL-U
            (UPOS; 5 is XPOS), the last column in column files.
        scheme: str. `"iob2"` (entity tags: `O`, `B-<type>`, `I-<type>`, every entity starting
            with `B-`), `"tags"` (a plain tag set) or `"auto"`: `"tags"` for CoNLL-U, else
            `"iob2"` when every tag reads as IOB2. Defaults to `"auto"`.
        tags: collection of str. The tags allowed (`"tags"`), or the entity types allowed
            (`"iob2"`); any other is an error. Defaults to `None`: the 17 UPOS tags when the
            CoNLL-U UPOS column is read, else any tag.

    Returns:
        `TaggedSentences(words, tags, scheme)`: lists of equally long lists of str, one per
        sentence, and the scheme read.

    Raises:
        DataFileError: the file cannot be read, or a line is malformed (wrong number of
            columns, an `I-` tag that follows nothing of its type, an unknown tag); the message
            names the file and line.

    Example:

    >>> import gzip, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "ner.iob2.gz")
    >>> with gzip.open(path, "wt") as file:
    ...     _ = file.write("Anna\\tB-PER\\nlives\\tO\\nin\\tO\\nNew\\tB-LOC\\nYork\\tI-LOC\\n\\n")
    >>> read_tagged_file(path)
    TaggedSentences(words=[['Anna', 'lives', 'in', 'New', 'York']], \
tags=[['B-PER', 'O', 'O', 'B-LOC', 'I-LOC']], scheme='iob2')
    """
    validation.one_of("scheme", scheme, SCHEMES)
    name = _path(path)
    conllu = _strip_gz(name).endswith(".conllu")
    if word_column is not None:
        validation.positive_int("word_column", word_column)
    if tag_column is not None:
        validation.positive_int("tag_column", tag_column)
    lines = read_lines(name, encoding)
    if conllu:
        if word_column not in (None, 2):
            raise ValueError(
                "Invalid value for argument word_column. Expected 2 (FORM) for a CoNLL-U file. "
                f"Received: word_column={word_column}"
            )
        tag_column = tag_column or 4
        if not 1 <= tag_column <= _CONLLU_COLUMNS:
            raise ValueError(
                "Invalid value for argument tag_column. Expected a column of CoNLL-U, 1 to 10 "
                f"(4: UPOS, 5: XPOS). Received: tag_column={tag_column}"
            )
        if tags is None and tag_column == 4 and scheme != "iob2":
            tags = UPOS_TAGS
        tokens = _conllu_lines(name, lines, tag_column)
    else:
        tokens = _column_lines(name, lines, word_column or 1, tag_column)
    sentences, current = [], []
    for token in [*tokens, None]:
        if token is not None:
            current.append(token)
        elif current:
            sentences.append(current)
            current = []
    if scheme == "auto":
        every = (tag for sentence in sentences for _, _, tag in sentence)
        scheme = "tags" if conllu or not is_iob2(every) else "iob2"
    allowed = None if tags is None else set(tags)
    for sentence in sentences:
        if scheme == "iob2":
            _check_iob2(name, sentence, allowed)
        elif allowed is not None:
            _check_tags(name, sentence, allowed)
    return TaggedSentences(
        [[word for _, word, _ in sentence] for sentence in sentences],
        [[tag for _, _, tag in sentence] for sentence in sentences],
        scheme,
    )


__all__ = ["SCHEMES", "UPOS_TAGS", "TaggedSentences", "is_iob2", "read_tagged_file"]
