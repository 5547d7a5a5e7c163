"""Text to token ids and back: standardizations, vectorizers, vocabularies, detokenizing.

Vectorizers are `keras.layers.TextVectorization` layers adapted on the training split only:
id 0 is padding, id 1 `[UNK]`, and reserved tokens such as `[start]`/`[end]` come next. kzoo's
own standardizations make punctuation marks tokens, so that translations of real text can be
joined back (`join_words`); Keras knows them as `kzoo>split_punctuation` and
`kzoo>lower_and_split_punctuation`, the names saved models refer to.

On TensorFlow's backend the vectorizers return ragged ids; Keras allows ragged outputs nowhere
else, so on JAX and PyTorch they return rows padded with 0 (padding's id), and `vectorize` reads
both alike: a run or preset saved on one backend vectorizes the same on the others.
"""

import unicodedata

import keras
import numpy as np
import tensorflow as tf

from kzoo import validation
from kzoo.files import write_text_atomically

PADDING, OOV = "", "[UNK]"
START, END = "[start]", "[end]"
SPLITS = ("whitespace", "character")


# === Punctuation as tokens ===

# `TextVectorization`'s "lower_and_strip_punctuation" drops punctuation and case, which real
# translations need back ("Two young, White males." cannot be rebuilt from "two young white
# males"). These standardizations instead put spaces around punctuation, so that a whitespace
# split makes each mark a token, and `join_words` puts the text back together.
#
# Three private-use characters (never in real text) carry the "keep it" decisions through the
# padding step, since RE2 has no lookaround:
# - a mark between two letters or digits stays inside its word ("t-shirt", "3.5", "U.S",
#   "10:30", "and/or"): it is prefixed with _KEEP before the padding and rejoined after it;
# - an apostrophe between letters starts a clitic token ("man's" → "man 's", "don't" →
#   "don 't"), so possessives share the noun's token: it is prefixed with _CLITIC.
_KEEP, _CLITIC = "\ue000", "\ue001"
_ALNUM = r"[\pL\pN]"
_MARK = r"[^\pL\pM\pN\s\x{e000}\x{e001}]"  # anything but letters, marks, digits, spaces
_CLITIC_AT = rf"({_ALNUM})(['’])(\pL)"
_INSIDE_WORD = rf"({_ALNUM})({_MARK})({_ALNUM})"


def _split_marks(texts):
    texts = tf.convert_to_tensor(texts, dtype=tf.string)
    for _ in range(2):  # a match consumes its right neighbour: "a-b-c" needs a second pass
        texts = tf.strings.regex_replace(texts, _CLITIC_AT, rf"\1 {_CLITIC}\2\3")
        texts = tf.strings.regex_replace(texts, _INSIDE_WORD, rf"\1{_KEEP}\2\3")
    texts = tf.strings.regex_replace(texts, f"({_MARK})", r" \1 ")
    # The protected marks were padded like the others: take that padding off again.
    texts = tf.strings.regex_replace(texts, f"{_KEEP} (.) ", r"\1")
    return tf.strings.regex_replace(texts, f"{_CLITIC} (.) ", r"\1")


@keras.saving.register_keras_serializable(package="kzoo")
def split_punctuation(texts):
    """Standardization that makes punctuation marks separate tokens, keeping case.

    For `TextVectorization(standardize=split_punctuation, split="whitespace")`: spaces go
    around every mark except one between two letters or digits ("t-shirt", "3.5", "U.S"), and
    an apostrophe between letters starts its own token ("man's" → "man 's"). `join_words`
    undoes it. Registered with Keras, so a vectorizer using it saves and reloads.

    Args:
        texts: string tensor of any shape.

    Returns:
        A string tensor of the same shape.

    Example:

    >>> split_punctuation(["Two young, White males (aged 20)."]).numpy()[0].decode().split()
    ['Two', 'young', ',', 'White', 'males', '(', 'aged', '20', ')', '.']
    """
    return _split_marks(texts)


@keras.saving.register_keras_serializable(package="kzoo")
def lower_and_split_punctuation(texts):
    """`split_punctuation` after lowercasing (all of Unicode, not ASCII only).

    Example:

    >>> lower_and_split_punctuation(["Über's T-shirt!"]).numpy()[0].decode().split()
    ['über', "'s", 't-shirt', '!']
    """
    return _split_marks(tf.strings.lower(texts, encoding="utf-8"))


# The `standardize` setting's names for the callables above.
_STANDARDIZERS = {
    "split_punctuation": split_punctuation,
    "lower_and_split_punctuation": lower_and_split_punctuation,
}
STANDARDIZATIONS = (
    "lower_and_strip_punctuation",
    "lower",
    "strip_punctuation",
    *_STANDARDIZERS,
    "none",
)


def standardizer(standardize):
    """Returns the `TextVectorization` `standardize` argument for a kzoo standardization name.

    Args:
        standardize: str, callable or `None`. One of `STANDARDIZATIONS` (`"none"` means no
            standardization), or what `TextVectorization` itself accepts.

    Returns:
        `None`, one of `TextVectorization`'s own names, or a registered callable.

    Example:

    >>> standardizer("split_punctuation") is split_punctuation, standardizer("none")
    (True, None)
    """
    if standardize is None or callable(standardize):
        return standardize
    validation.one_of("standardize", standardize, STANDARDIZATIONS)
    if standardize == "none":
        return None
    return _STANDARDIZERS.get(standardize, standardize)


def splits_punctuation(vectorizer):
    """Whether a vectorizer makes punctuation marks tokens, so `join_words` must join them."""
    return vectorizer.get_config()["standardize"] in tuple(_STANDARDIZERS.values())


# How a token sits against its neighbours when joined back into text. The TensorFlow version
# (`join_words_tensor`) uses these RE2 patterns; `join_words` tests the same classes with
# `unicodedata`, as Python's `re` has no `\pL`.
_CLOSING, _OPENING, _QUOTES = ".,!?;:%)]}»”’…", "([{¿¡„«“‘$#", "\"'`"
_APOSTROPHES = "'’"
_NO_SPACE_BEFORE = r"[.,!?;:%)\]}»”’…]|['’]\pL.*"  # closing marks, and clitics ("'s")
_NO_SPACE_AFTER = r"[(\[{¿¡„«“‘$#]"  # opening marks
_QUOTE = r"[\"'`]"  # opens the first time, closes the next
_SINGLE_MARK = r"[^\pL\pM\pN\s]"  # a mark repeated joins up again: "- -" → "--"


def _is_mark(token):
    return len(token) == 1 and not token.isspace() and unicodedata.category(token)[0] not in "LMN"


def _binds_left(token):
    if len(token) == 1:
        return token in _CLOSING
    return token[0] in _APOSTROPHES and unicodedata.category(token[1]).startswith("L")


def join_words(words):
    """Joins word and punctuation tokens into text, undoing `split_punctuation`.

    Closing marks and clitics attach to the token before them ("man ." → "man.",
    "man 's" → "man's"), opening marks to the token after them ("( a )" → "(a)"), straight
    quotes alternately open and close (and “ closes a German „), and a repeated mark joins
    up ("- -" → "--").
    `join_words_tensor` does the same inside a graph.

    Args:
        words: list of str. Tokens in order.

    Returns:
        str.

    Example:

    >>> print(join_words(["A", "man", "'s", "hat", "(", "red", ")", ",", '"', "new", '"', "."]))
    A man's hat (red), "new".
    """
    pieces, quotes, previous, attaches = [], 0, None, False
    low, high = 0, 0  # German quotes „…“ seen: a “ after an unclosed „ closes
    for word in words:
        before, after = _binds_left(word), word in _OPENING
        if word in _QUOTES and len(word) == 1:
            before, after = quotes % 2 == 1, quotes % 2 == 0
            quotes += 1
        if word == "“" and low > high:
            before, after = True, False
        low, high = low + (word == "„"), high + (word == "“")
        repeated = word == previous and _is_mark(word)
        if pieces and not (before or attaches or repeated):
            pieces.append(" ")
        pieces.append(word)
        attaches, previous = after, word
    return "".join(pieces)


def join_words_tensor(words):
    """`join_words` in TensorFlow ops, for serving signatures: one string per row.

    Args:
        words: `tf.RaggedTensor` of strings, `(batch_size, (tokens))`.

    Returns:
        A string tensor `(batch_size,)`.

    Example:

    >>> rows = tf.ragged.constant([["(", "a", ")", "."], [], ["man", "'s", "-", "-"]])
    >>> [t.decode() for t in join_words_tensor(rows).numpy()]
    ['(a).', '', "man's --"]
    """
    flat = words.flat_values
    row_ids = tf.cast(words.value_rowids(), tf.int64)
    row_starts = tf.cast(words.row_starts(), tf.int64)
    first = tf.range(tf.size(flat, out_type=tf.int64)) == tf.gather(row_starts, row_ids)
    before = tf.strings.regex_full_match(flat, _NO_SPACE_BEFORE)
    after = tf.strings.regex_full_match(flat, _NO_SPACE_AFTER)

    def count_before(flags):  # how many flagged tokens precede each token in its row
        flags = tf.cast(flags, tf.int64)
        seen = tf.cumsum(flags)
        seen_before_row = tf.gather(tf.concat([[0], seen], 0), row_starts)
        return seen - flags - tf.gather(seen_before_row, row_ids)

    # A quote opens when an even number of quotes precede it in its row.
    quote = tf.strings.regex_full_match(flat, _QUOTE)
    opens = tf.equal(count_before(quote) % 2, 0)
    before = tf.where(quote, ~opens, before)
    after = tf.where(quote, opens, after)
    high = tf.equal(flat, "“")
    closes = high & (count_before(tf.equal(flat, "„")) > count_before(high))
    before, after = before | closes, after & ~closes
    previous = tf.concat([[""], flat], 0)[:-1]
    repeated = tf.equal(flat, previous) & tf.strings.regex_full_match(flat, _SINGLE_MARK)
    attaches = tf.concat([[False], after], 0)[:-1]
    glued = first | before | attaches | repeated
    pieces = tf.where(glued, flat, tf.strings.join([" ", flat]))
    return tf.strings.reduce_join(words.with_flat_values(pieces), axis=1)


def make_vectorizer(
    texts,
    split="whitespace",
    max_tokens=None,
    standardize="lower_and_strip_punctuation",
    reserved_tokens=(),
    name="vectorizer",
):
    """Returns a `TextVectorization` layer adapted on `texts` (the training split only).

    The vocabulary is `["", "[UNK]", *reserved_tokens, *most frequent tokens]`: id 0 is padding,
    id 1 stands for unknown tokens, and reserved tokens such as `[start]`/`[end]` get the next
    ids whatever the data. Reserved tokens never come out of the split itself (brackets are
    stripped or split off or, at character level, a token is one character), so they mark sequence
    boundaries unambiguously.

    Args:
        texts: list of str. Training texts.
        split: str or `None`. `"whitespace"` for word tokens, `"character"` for characters, or
            `None` for texts that are tokens already (a tagger's words): one id per text.
        max_tokens: int. Vocabulary size cap, padding and `[UNK]` included. Defaults to `None`
            (every token seen).
        standardize: str, callable or `None`. As in `TextVectorization`, or one of kzoo's
            `"split_punctuation"` and `"lower_and_split_punctuation"`, which make punctuation
            marks tokens (for word-level translation of real text; `join_words` joins them
            back); `"none"` is `None`. Defaults to `"lower_and_strip_punctuation"`.
        reserved_tokens: list of str. Tokens placed right after `[UNK]`.
        name: str. Layer name.

    Returns:
        An adapted `keras.layers.TextVectorization` returning ragged int64 ids.

    Example:

    >>> v = make_vectorizer(["a b b", "b c"], reserved_tokens=[START, END])
    >>> vocabulary(v)
    ['', '[UNK]', '[start]', '[end]', 'b', 'c', 'a']
    """
    validation.one_of("split", split, (*SPLITS, None))
    standardize = standardizer(standardize)
    if max_tokens is not None:
        validation.int_at_least("max_tokens", max_tokens, 3 + len(reserved_tokens))
    layer_split = split
    adapted = keras.layers.TextVectorization(
        max_tokens=None if max_tokens is None else max_tokens - len(reserved_tokens),
        standardize=standardize,
        split=layer_split,
        ragged=_ragged(),
    )
    adapted.adapt(tf.data.Dataset.from_tensor_slices(list(texts)).batch(1024))
    learned = [token for token in adapted.get_vocabulary()[2:] if token not in reserved_tokens]
    return keras.layers.TextVectorization(
        standardize=standardize,
        split=layer_split,
        ragged=_ragged(),
        vocabulary=[*reserved_tokens, *learned],
        name=name,
    )


def vectorizer_settings(vectorizer):
    """How a vectorizer splits and standardizes, as `make_vectorizer` and
    `vectorizer_from_vocabulary` take them: what a run saves to rebuild it.

    Example:

    >>> vectorizer_settings(make_vectorizer(["a b"], split="character", standardize=None))
    {'split': 'character', 'standardize': 'none'}
    """
    config = vectorizer.get_config()
    standardize = config["standardize"]
    if standardize is None:
        standardize = "none"
    elif callable(standardize):
        names = {function: name for name, function in _STANDARDIZERS.items()}
        standardize = names[standardize]
    return {"split": config["split"], "standardize": standardize}


def vectorizer_from_vocabulary(tokens, split="whitespace", standardize="none", name="vectorizer"):
    """Rebuilds a vectorizer from its vocabulary (`load_vocabulary`) and its settings
    (`vectorizer_settings`).

    Example:

    >>> v = make_vectorizer(["a b b"])
    >>> vocabulary(vectorizer_from_vocabulary(vocabulary(v), **vectorizer_settings(v)))
    ['', '[UNK]', 'b', 'a']
    """
    validation.one_of("split", split, (*SPLITS, None))
    return keras.layers.TextVectorization(
        standardize=standardizer(standardize),
        split=split,
        ragged=_ragged(),
        vocabulary=list(tokens[2:]),  # "" and [UNK] are the layer's own first two entries
        name=name,
    )


def vocabulary(vectorizer):
    """Returns the vectorizer's vocabulary as a list of str; index = token id."""
    return [str(token) for token in vectorizer.get_vocabulary()]


_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r"}


def save_vocabulary(vectorizer, path):
    """Writes the vocabulary as UTF-8, one token per line (line number = token id, from 0).

    Line breaks and backslashes inside tokens (character vocabularies have a newline token)
    are written as `\\n`, `\\r` and `\\\\`, so every token stays on its line.
    """
    lines = [
        "".join(_ESCAPES.get(ch, ch) for ch in token) + "\n" for token in vocabulary(vectorizer)
    ]
    write_text_atomically(path, "".join(lines))


def load_vocabulary(path):
    """Reads a vocabulary written by `save_vocabulary`."""
    unescape = {value: key for key, value in _ESCAPES.items()}
    tokens = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line, token, i = line.rstrip("\n"), [], 0
            while i < len(line):
                pair = line[i : i + 2]
                if pair in unescape:
                    token.append(unescape[pair])
                    i += 2
                else:
                    token.append(line[i])
                    i += 1
            tokens.append("".join(token))
    return tokens


def token_id(vectorizer, token):
    """Returns the id of `token` in the vectorizer's vocabulary."""
    return vocabulary(vectorizer).index(token)


def _ragged():
    """Whether vectorizers return ragged ids: on TensorFlow's backend, the only one Keras
    allows them on."""
    return keras.backend.backend() == "tensorflow"


def _rows(ids):
    """The token ids of each text, as lists, from ragged ids or rows padded with 0."""
    if isinstance(ids, tf.RaggedTensor):
        return ids.to_list()
    padded = keras.ops.convert_to_numpy(ids)
    lengths = padded.shape[1] - np.argmax(padded[:, ::-1] != 0, axis=1)
    lengths[~padded.any(axis=1)] = 0  # 0 is padding only: no token of a text is 0
    return [row[:length].tolist() for row, length in zip(padded, lengths)]


def token_rows(vectorizer, texts):
    """The token ids of each text as a list of ints, as many as the text has (none for an
    empty text), on every backend."""
    return _rows(vectorizer(tf.constant(list(texts))))


def vectorize(vectorizer, texts, max_length=None, batch_size=4096):
    """Returns the token ids of each text as a list of int32 numpy arrays, truncated to
    `max_length` tokens when given. Texts with no known token keep one `[UNK]`, so every
    example has at least one step."""
    ids = []
    for start in range(0, len(texts), batch_size):
        rows = _rows(vectorizer(tf.constant(list(texts[start : start + batch_size]))))
        for row in rows:
            row = row[:max_length] if max_length else row
            ids.append(np.asarray(row or [1], dtype="int32"))
    return ids


def detokenize(tokens, ids, split, standardize=None):
    """Turns token ids back into text, stopping at `[end]` and skipping padding and `[start]`.

    Args:
        tokens: list of str. The vocabulary (`vocabulary(vectorizer)`).
        ids: ints. Token ids.
        split: str. `"character"` joins tokens as they are, `"whitespace"` with spaces.
        standardize: str. The vectorizer's standardization: with `"split_punctuation"` or
            `"lower_and_split_punctuation"`, words and marks are joined by `join_words`.
            Defaults to `None`.

    Returns:
        str.

    Example:

    >>> tokens = ["", "[UNK]", "[start]", "[end]", "a", "man", "."]
    >>> detokenize(tokens, [2, 4, 5, 6, 3, 0], "whitespace", "split_punctuation")
    'a man.'
    """
    pieces = []
    for i in ids:
        token = tokens[int(i)]
        if token == END:
            break
        if token not in (PADDING, START):
            pieces.append(token)
    if split == "character":
        return "".join(pieces)
    return join_words(pieces) if standardize in _STANDARDIZERS else " ".join(pieces)
