"""Raw sentences to word tokens with their character offsets, in TensorFlow ops (for taggers'
serving signatures).

Treebanks and NER corpora come tokenized; a client sends raw text. `split_words` cuts it the
way English treebanks do, closely enough for a tagger trained on them: at spaces; around each
punctuation mark or symbol ("(", ",", "$", "!"), a run of the same mark staying one token
("...", "--"); with clitics split off ("John's" → "John" "'s", "don't" → "do" "n't"). A mark
stays inside a word between two letters or digits ("U.S", "3.50", "O'Brien", "AT&T", "10:30"),
and a period after common abbreviations, initials and dotted acronyms ("Dr.", "Inc.", "J.",
"U.K.") stays with them. Hyphens split ("Al-Zaman" → "Al" "-" "Zaman"), as the English Web
Treebank does.

Offsets count Unicode characters (code points, as Python's `str` indexes do), so that
`text[start:end]` is the token.
"""

import tensorflow as tf

# Private-use characters (never in real text) carry the decisions of the regular expressions,
# which RE2 cannot make with lookaround: _KEEP before a mark keeps it inside its word, _BREAK is
# a token boundary that is no character of the text, and every space becomes _SPACE, one
# character for one, so that offsets can be counted back.
_KEEP, _BREAK, _SPACE = "\ue000", "\ue002", "\ue003"
_MARKERS = r"\x{e000}-\x{e003}"
_CLITIC_NT = r"(\pL)([nN])(['’])([tT])([^\pL]|$)"
_CLITIC = r"(\pL)(['’])((?:[sSmMdD]|ll|LL|re|RE|ve|VE)(?:[^\pL]|$))"
_ABBREVIATION = (
    r"((?:^|[^\pL\pN.])(?:Mr|Mrs|Ms|Dr|Prof|St|Jr|Sr|Inc|Ltd|Co|Corp|vs|etc|[\pL](?:\.[\pL])+"
    r"|\p{Lu}))(\.)"
)
_INSIDE_WORD = r"([\pL\pN])([.'’&@])([\pL\pN])"
_INSIDE_NUMBER = r"(\pN)([,:/])(\pN)"


def _marked(texts):
    """The texts with spaces as _SPACE and the regular expressions' _KEEP and _BREAK marks."""
    texts = tf.strings.regex_replace(texts, f"[{_MARKERS}]", _SPACE)  # one for one
    texts = tf.strings.regex_replace(texts, r"[\s\pZ]", _SPACE)
    texts = tf.strings.regex_replace(texts, _CLITIC_NT, rf"\1{_BREAK}\2{_KEEP}\3\4\5")
    texts = tf.strings.regex_replace(texts, _CLITIC, rf"\1{_BREAK}{_KEEP}\2\3")
    texts = tf.strings.regex_replace(texts, _ABBREVIATION, rf"\1{_KEEP}\2")
    for _ in range(2):  # a match consumes its right neighbour: "a.b.c" needs a second pass
        texts = tf.strings.regex_replace(texts, _INSIDE_WORD, rf"\1{_KEEP}\2\3")
        texts = tf.strings.regex_replace(texts, _INSIDE_NUMBER, rf"\1{_KEEP}\2\3")
    return texts


def _shifted(values, row_starts_mask, fill):
    """Each element's predecessor in its row (`fill` for a row's first)."""
    previous = tf.concat([tf.fill([1], fill), values[:-1]], axis=0)
    return tf.where(row_starts_mask, tf.fill(tf.shape(values), fill), previous)


def split_words(texts):
    """Splits raw sentences into word tokens, with each token's character offsets.

    Args:
        texts: string tensor `(batch_size,)` of UTF-8 sentences.

    Returns:
        `(tokens, starts, ends)`: `tf.RaggedTensor`s `(batch_size, (tokens))` of the tokens
        (str) and of their start and end offsets (int64), in characters: `text[start:end]` is
        the token.

    Example:

    >>> tokens, starts, ends = split_words(tf.constant(["Dr. Lee's U.K. startup ($1 bn)..."]))
    >>> [t.decode() for t in tokens[0].numpy()]
    ['Dr.', 'Lee', "'s", 'U.K.', 'startup', '(', '$', '1', 'bn', ')', '...']
    >>> starts[0].numpy().tolist()[:4], ends[0].numpy().tolist()[:4]
    ([0, 4, 7, 10], [3, 7, 9, 14])
    """
    texts = tf.convert_to_tensor(texts, dtype=tf.string)
    chars = tf.strings.unicode_split(_marked(texts), "UTF-8")
    flat, rows = chars.flat_values, tf.cast(chars.value_rowids(), tf.int64)
    first_in_row = tf.equal(
        tf.range(tf.size(flat, out_type=tf.int64)), tf.gather(chars.row_starts(), rows)
    )
    inserted = tf.equal(flat, _KEEP) | tf.equal(flat, _BREAK)
    # Where each character stands in the text as it was sent: inserted marks take no place.
    counted = tf.cumsum(tf.cast(~inserted, tf.int64))
    before_row = tf.gather(tf.concat([[0], counted], 0), chars.row_starts())
    offset = counted - 1 - tf.gather(before_row, rows)
    # A mark right after _KEEP stays in its word; the _KEEP marks themselves then go.
    kept = _shifted(tf.equal(flat, _KEEP), first_in_row, False)
    remaining = ~tf.equal(flat, _KEEP)
    flat, rows, offset, kept = (tf.boolean_mask(x, remaining) for x in (flat, rows, offset, kept))
    nrows = tf.shape(texts, out_type=tf.int64)[0]
    row_starts = tf.RaggedTensor.from_value_rowids(flat, rows, nrows=nrows).row_starts()
    first_in_row = tf.equal(tf.range(tf.size(flat, out_type=tf.int64)), tf.gather(row_starts, rows))
    separator = tf.equal(flat, _BREAK) | tf.equal(flat, _SPACE)
    word = tf.strings.regex_full_match(flat, r"[\pL\pM\pN]")
    mark = ~separator & ~word & ~kept  # a token of its own
    previous = _shifted(flat, first_in_row, "")
    previous_mark = _shifted(mark, first_in_row, False)
    previous_separator = _shifted(separator, first_in_row, True)
    same_mark = mark & previous_mark & tf.equal(flat, previous)  # "...", "--", "!!"
    starts_token = ~separator & (
        previous_separator | first_in_row | ((mark | previous_mark) & ~same_mark)
    )
    token_index = tf.cumsum(tf.cast(starts_token, tf.int64)) - 1
    in_token = ~separator
    count = tf.reduce_sum(tf.cast(starts_token, tf.int64))
    member = tf.boolean_mask(token_index, in_token)
    tokens = tf.strings.unsorted_segment_join(tf.boolean_mask(flat, in_token), member, count)
    token_offsets = tf.boolean_mask(offset, in_token)
    starts = tf.math.unsorted_segment_min(token_offsets, member, count)
    ends = tf.math.unsorted_segment_max(token_offsets, member, count) + 1
    token_rows = tf.boolean_mask(rows, starts_token)

    def ragged(values):
        return tf.RaggedTensor.from_value_rowids(values, token_rows, nrows=nrows)

    return ragged(tokens), ragged(starts), ragged(ends)


__all__ = ["split_words"]
