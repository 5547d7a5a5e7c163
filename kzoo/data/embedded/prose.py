"""English prose with no download: CPython's language reference, as `pydoc_data` ships it.

The language models' default text, lightly cleaned so that a character vocabulary stays small.
It is the same on every run for a given Python version.
"""

import re
from pydoc_data import topics

_TYPOGRAPHY = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "—": "--", "–": "-"})


def prose_text():
    """English prose with no download: the Python Language Reference, as CPython ships it.

    CPython carries the text of its language reference and of the main library topics in
    `pydoc_data.topics` (what `help("assert")` prints): about 80 topics and 460,000
    characters of technical English prose, with some code examples and grammar rules. The
    topics are joined in alphabetical order of their names, and the text is lightly cleaned:
    heading underlines (`*****`, `=====`) and trailing spaces are dropped, typographic quotes
    and dashes become ASCII, footnote markers read "Footnotes:", and runs of blank lines are
    collapsed, so that a character vocabulary stays small (about 100 characters).

    The text is the same on every run for a given Python version; it changes a little between
    Python versions, as the documentation does. Language models learn its word and character
    statistics as they would Shakespeare's, with no file to fetch.

    Returns:
        The text, a `str`.

    Example:

    >>> text = prose_text()
    >>> len(text) > 300_000
    True
    >>> text[:25]
    'The "assert" statement\\n\\nA'
    """
    lines = []
    for name in sorted(topics.topics):
        for line in topics.topics[name].translate(_TYPOGRAPHY).replace("…", "...").split("\n"):
            line = line.rstrip()
            if re.fullmatch(r"([*=\-~^#+])\1{2,}", line):
                continue  # a heading's underline
            lines.append("Footnotes:" if line == "-[ Footnotes ]-" else line)
        lines.append("")
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"
