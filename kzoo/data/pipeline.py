"""Text vectorization and `tf.data` pipelines for kzoo's recipes.

Vectorizers are `keras.layers.TextVectorization` layers adapted on the training split only.
Datasets are built from token ids computed once in memory, then cached, shuffled, batched by
sequence length and prefetched:

- **Length bucketing.** `bucket_by_sequence_length` groups sentences of similar length, so a
  batch of short sentences is not padded to the longest sentence of the corpus.
- **Padding to bucket boundaries.** Each bucket pads to its own boundary, so the model sees a
  small, fixed set of sequence lengths: an XLA-compiled step compiles once per bucket instead
  of once per batch.
"""

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
    import unicodedata

    return len(token) == 1 and not token.isspace() and unicodedata.category(token)[0] not in "LMN"


def _binds_left(token):
    import unicodedata

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
        split: str. `"whitespace"` for word tokens or `"character"` for characters.
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
    validation.one_of("split", split, SPLITS)
    standardize = standardizer(standardize)
    if max_tokens is not None:
        validation.int_at_least("max_tokens", max_tokens, 3 + len(reserved_tokens))
    layer_split = "character" if split == "character" else "whitespace"
    adapted = keras.layers.TextVectorization(
        max_tokens=None if max_tokens is None else max_tokens - len(reserved_tokens),
        standardize=standardize,
        split=layer_split,
        ragged=True,
    )
    adapted.adapt(tf.data.Dataset.from_tensor_slices(list(texts)).batch(1024))
    learned = [token for token in adapted.get_vocabulary()[2:] if token not in reserved_tokens]
    return keras.layers.TextVectorization(
        standardize=standardize,
        split=layer_split,
        ragged=True,
        vocabulary=[*reserved_tokens, *learned],
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


def vectorize(vectorizer, texts, max_length=None, batch_size=4096):
    """Returns the token ids of each text as a list of int32 numpy arrays, truncated to
    `max_length` tokens when given. Texts with no known token keep one `[UNK]`, so every
    example has at least one step."""
    ids = []
    for start in range(0, len(texts), batch_size):
        ragged = vectorizer(tf.constant(list(texts[start : start + batch_size])))
        for row in ragged.to_list():
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


def bucket_boundaries(lengths, num_buckets=6, multiple=8):
    """Returns sequence-length bucket boundaries from training lengths.

    Boundaries sit at evenly spaced quantiles of `lengths`, rounded up to a multiple of
    `multiple`, and the last one exceeds the longest length, as `bucket_by_sequence_length`
    with `pad_to_bucket_boundary=True` requires.

    Example:

    >>> bucket_boundaries([3, 5, 9, 12, 30, 31], num_buckets=3)
    [17, 25, 33]
    """
    lengths = np.asarray(lengths)
    quantiles = np.quantile(lengths, np.linspace(0, 1, num_buckets + 1)[1:-1])
    rounded = {int(np.ceil((q + 1) / multiple) * multiple) + 1 for q in quantiles}
    last = int(np.ceil((lengths.max() + 1) / multiple) * multiple) + 1
    return sorted(b for b in rounded if b < last) + [last]


def _sequences(*columns):
    """A dataset whose elements hold one 1-D int32 tensor per column of sequences."""
    ragged = [
        tf.ragged.constant([np.asarray(s).tolist() for s in column], dtype=tf.int32, ragged_rank=1)
        for column in columns
    ]
    # Slices of a ragged tensor are ragged specs, which padded_batch refuses; identity inside
    # `map` turns them into plain 1-D tensors.
    return tf.data.Dataset.from_tensor_slices(tuple(ragged)).map(_dense)


@tf.autograph.experimental.do_not_convert
def _dense(*sequences):
    dense = tuple(tf.identity(x) for x in sequences)
    return dense[0] if len(dense) == 1 else dense


@tf.autograph.experimental.do_not_convert
def _first_length(x, *rest):
    return tf.shape(x)[0]


@tf.autograph.experimental.do_not_convert
def _longest_of_pair(source, decoder_input, target):
    return tf.maximum(tf.shape(source)[0], tf.shape(decoder_input)[0])


@tf.autograph.experimental.do_not_convert
def _seq2seq_structure(source, decoder_input, target):
    return {"encoder_token_ids": source, "decoder_token_ids": decoder_input}, target


def batch_by_length(
    dataset,
    batch_size,
    boundaries=None,
    shuffle=False,
    seed=0,
    drop_remainder=False,
    length=None,
    lengths=None,
):
    """Caches, shuffles, batches and prefetches a dataset of variable-length sequences.

    With `boundaries` (from `bucket_boundaries`), elements are grouped by `length(*element)`
    and every batch is padded to its bucket's boundary minus one; without them, each batch is
    padded to its longest element. Padding is 0.

    Args:
        dataset: a `tf.data.Dataset` whose sequence components are 1-D int tensors.
        batch_size: int. Global batch size.
        boundaries: list of int. Bucket boundaries; the last must exceed every length.
        shuffle: bool. Reshuffle the examples each epoch.
        seed: int. Shuffle seed.
        drop_remainder: bool. Drop incomplete batches (each bucket's last one).
        length: callable. Maps an element to its length; defaults to the length of its first
            component.
        lengths: int array. Every element's length, computed as `length` does. Given with
            `boundaries`, it sets the number of batches, which bucketing leaves unknown, so
            Keras shows real progress and does not warn that the data ran out.
    """
    length = length or _first_length
    count = int(dataset.cardinality())
    dataset = dataset.cache()
    if shuffle:
        dataset = dataset.shuffle(max(count, 1), seed=seed, reshuffle_each_iteration=True)
    if boundaries:
        dataset = dataset.bucket_by_sequence_length(
            length,
            bucket_boundaries=list(boundaries),
            # One batch size per bucket, plus the unused bucket past the last boundary.
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
            pad_to_bucket_boundary=True,
            drop_remainder=drop_remainder,
        )
        if lengths is not None:
            # Bucket membership depends on length only, so the batch count is fixed.
            sizes = np.bincount(np.searchsorted(boundaries, lengths, side="right"))
            rounding = np.floor if drop_remainder else np.ceil
            batches = int(rounding(sizes / batch_size).sum())
            dataset = dataset.apply(tf.data.experimental.assert_cardinality(batches))
    else:
        dataset = dataset.padded_batch(batch_size, drop_remainder=drop_remainder)
    return dataset.prefetch(tf.data.AUTOTUNE)


def classification_dataset(ids, labels, batch_size, boundaries=None, shuffle=False, seed=0):
    """Returns a dataset of `(token_ids, label)` batches, bucketed by sentence length.

    Args:
        ids: list of int arrays, from `vectorize`.
        labels: ints, one per sequence.
        batch_size: int. Global batch size.
        boundaries: list of int. Bucket boundaries, from `bucket_boundaries`.
        shuffle: bool. Reshuffle each epoch (training). Defaults to `False`.
        seed: int. Shuffle seed.

    Example:

    >>> ds = classification_dataset([np.array([3, 4]), np.array([5])], [1, 0], batch_size=2)
    >>> [x.numpy().tolist() for x, y in ds]
    [[[3, 4], [5, 0]]]
    """
    labels = tf.data.Dataset.from_tensor_slices(np.asarray(labels, dtype="int32"))
    dataset = tf.data.Dataset.zip((_sequences(ids), labels))
    lengths = [len(x) for x in ids]
    return batch_by_length(dataset, batch_size, boundaries, shuffle, seed, lengths=lengths)


def translation_dataset(
    source_ids, target_ids, start_id, end_id, batch_size, boundaries=None, shuffle=False, seed=0
):
    """Returns a teacher-forcing dataset for seq2seq models.

    Each element is `({"encoder_token_ids": source, "decoder_token_ids": [start] + target},
    target + [end])`: the decoder reads the target shifted right and predicts the next token.
    Batches are bucketed by the longer of the two sequences.

    Example:

    >>> ds = translation_dataset([np.array([5, 6])], [np.array([7])], 2, 3, batch_size=1)
    >>> inputs, outputs = next(iter(ds))
    >>> inputs["decoder_token_ids"].numpy().tolist(), outputs.numpy().tolist()
    ([[2, 7]], [[7, 3]])
    """
    starts = [np.concatenate([[start_id], t]) for t in target_ids]
    ends = [np.concatenate([t, [end_id]]) for t in target_ids]
    dataset = _sequences(source_ids, starts, ends)
    lengths = [max(len(s), len(t)) for s, t in zip(source_ids, starts)]
    dataset = batch_by_length(
        dataset, batch_size, boundaries, shuffle, seed, length=_longest_of_pair, lengths=lengths
    )
    return dataset.map(_seq2seq_structure, num_parallel_calls=tf.data.AUTOTUNE)


def language_model_dataset(
    stream, sequence_length, batch_size, shuffle=False, seed=0, random_offsets=False
):
    """Returns `(inputs, next tokens)` windows cut from one long stream of token ids.

    The stream is cut into non-overlapping windows of `sequence_length + 1` tokens; inputs are
    the first `sequence_length`, targets the last `sequence_length`. When shuffling (training),
    incomplete batches are dropped so every batch has one shape; otherwise every window is kept.

    Args:
        stream: int array of token ids.
        sequence_length: int. Tokens per input window.
        batch_size: int. Global batch size.
        shuffle: bool. Reshuffle the windows each epoch (training). Defaults to `False`.
        seed: int. Seed of the shuffle and the offsets. Defaults to `0`.
        random_offsets: bool. With `shuffle`, cut each epoch's windows at a new random offset
            in `[0, sequence_length)`, so a token does not sit at the same place of its window
            every epoch (one window fewer then fits, so every epoch has as many). Defaults to
            `False`.

    Example:

    >>> ds = language_model_dataset(np.arange(1, 8), sequence_length=3, batch_size=2)
    >>> [(x.numpy().tolist(), y.numpy().tolist()) for x, y in ds]
    [([[1, 2, 3], [4, 5, 6]], [[2, 3, 4], [5, 6, 7]])]
    """
    validation.positive_int("sequence_length", sequence_length)
    stream = np.asarray(stream, dtype="int32")
    count = (len(stream) - 1) // sequence_length
    if count < 1:
        raise ValueError(
            f"Invalid value for argument sequence_length. Expected at most {len(stream) - 1}, "
            f"the length of the token stream minus one. Received: sequence_length={sequence_length}"
        )
    window = np.arange(sequence_length + 1)
    if shuffle and random_offsets and count > 1:
        count -= 1
        tokens = tf.constant(stream)

        def windows_at(draw):
            offset = tf.cast(draw % sequence_length, "int32")
            starts = offset + tf.range(count, dtype="int32") * sequence_length
            windows = tf.gather(tokens, starts[:, None] + window[None, :])
            return tf.data.Dataset.from_tensor_slices((windows[:, :-1], windows[:, 1:]))

        # A new draw each time the dataset is iterated, i.e. each epoch.
        draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)
        dataset = draws.flat_map(windows_at)
    else:
        windows = stream[np.arange(count)[:, None] * sequence_length + window]
        dataset = tf.data.Dataset.from_tensor_slices((windows[:, :-1], windows[:, 1:])).cache()
    if shuffle:
        dataset = dataset.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    drop = shuffle and count >= batch_size
    dataset = dataset.batch(batch_size, drop_remainder=drop)
    batches = count // batch_size if drop else -(-count // batch_size)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(batches))
    return dataset.prefetch(tf.data.AUTOTUNE)


def array_dataset(inputs, targets=None, batch_size=32, shuffle=False, seed=0, drop_remainder=False):
    """Returns a cached, shuffled, batched dataset from in-memory arrays (images, skip-grams)."""
    elements = inputs if targets is None else (inputs, targets)
    dataset = tf.data.Dataset.from_tensor_slices(elements).cache()
    if shuffle:
        count = len(keras.tree.flatten(inputs)[0])
        dataset = dataset.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
