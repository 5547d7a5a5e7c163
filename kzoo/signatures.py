"""What every exported SavedModel's signatures share: raw text in, readable results out.

A task kind (`kzoo.tasks`) writes its own endpoints from these pieces; `build_archive` puts the
model, its vectorizers (and their lookup tables, so clients send raw strings) and the endpoints
in one `keras.export.ExportArchive`.

Request values are checked inside the graph, before any work: a token id outside
`[0, vocabulary size)` in a `token_ids` endpoint, a `max_new_tokens` outside
`[1, max_new_tokens_limit]` or a GAN's `num_images` outside `[1, 1024]` fails the call with
`InvalidArgumentError` naming the input, what was expected and the value received (a server
answers 400 / INVALID_ARGUMENT), instead of a vector of zeros, a wrapped-around id, hours of
generation or terabytes of images.
"""

import dataclasses
from typing import Any

import keras
import tensorflow as tf

from kzoo.data import vectorization

# Most tokens a generator's `sample` and `token_ids` endpoints add per request, unless the export
# sets `max_new_tokens_limit` (a GPT's limit is its context).
DEFAULT_MAX_NEW_TOKENS_LIMIT = 2048


@dataclasses.dataclass
class ServingBundle:
    """What an export needs besides the model.

    Attributes:
        model: the trained Keras model.
        task: str. Its task kind (`kzoo.tasks.TASKS`).
        vectorizers: dict of adapted `TextVectorization` layers by role ("text", "source",
            "target").
        class_names: list of str, for classifiers.
        split: str. "whitespace" or "character": how generated tokens are joined.
        max_length: int or None. Longest input kept, in tokens.
        max_decode_length: int. Longest translation.
        max_new_tokens: int. Tokens a generator adds by default.
        max_new_tokens_limit: int or None. Most tokens a request to a generator's `sample` or
            `token_ids` endpoint may ask for; more fails in the graph with
            `InvalidArgumentError`. None: the GPT's context (it never generates past it), or
            `DEFAULT_MAX_NEW_TOKENS_LIMIT`.
        examples: a few raw inputs for warm-up requests and the post-export check.
        sampler: str or None. The keras-hub sampler, by name, a pre-trained generator serves
            with: its run's `model_args.sampler`, which its saved model forgets. None: the
            model's own.
    """

    model: Any
    task: str
    vectorizers: dict = dataclasses.field(default_factory=dict)
    class_names: list = None
    split: str = "whitespace"
    max_length: int = None
    max_decode_length: int = 64
    max_new_tokens: int = 100
    max_new_tokens_limit: int = None
    examples: list = dataclasses.field(default_factory=list)
    sampler: str = None


def serving_bundle(model, data, config):
    """The `ServingBundle` of a run: its model, its data's vectorizers and its settings."""
    return ServingBundle(
        model=model,
        task=config["task"],
        vectorizers=dict(data.vectorizers),
        class_names=data.class_names,
        split=config["split"],
        max_length=data.max_length,
        max_decode_length=config.get("max_decode_length", 64),
        examples=list(data.examples),
        sampler=config.get("model_args", {}).get("sampler"),
    )


def ids_from_text(vectorizer, texts, max_length=None, empty_as_unknown=True):
    """Token ids `[batch, steps]` (post-padded with 0, at least one step) of raw strings.

    As `kzoo.data.vectorization.vectorize` computes them, a text with no token becomes `[UNK]`;
    with `empty_as_unknown=False` it stays empty (a prompt: decoding starts it its own way).
    """
    ragged = vectorizer(texts)
    if max_length:
        ragged = ragged[:, :max_length]
    ids = tf.cast(ragged.to_tensor(0), tf.int32)
    ids = tf.pad(ids, [[0, 0], [0, tf.maximum(0, 1 - tf.shape(ids)[1])]])
    if not empty_as_unknown:
        return ids
    first = tf.where(ragged.row_lengths() == 0, 1, ids[:, 0])
    return tf.concat([first[:, None], ids[:, 1:]], axis=1)


def checked(value, condition, message):
    """`value`, computed only once `condition` holds; otherwise the call fails with
    `InvalidArgumentError: assertion failed: [message]`."""
    check = tf.debugging.Assert(condition, [message])
    with tf.control_dependencies([check]):
        return tf.identity(value)


def checked_token_ids(ids, vocabulary_size, name):
    """`ids`, once every id is in `[0, vocabulary_size)`; the message names the first bad
    kind of id (the lowest when one is negative, else the highest)."""
    flat = tf.reshape(ids, [-1])
    # An empty tensor gives the int32 extremes, which pass.
    low, high = tf.reduce_min(flat), tf.reduce_max(flat)
    message = tf.strings.format(
        f"Invalid value for input {name}. Expected token ids in [0, {vocabulary_size}): the "
        f"vocabulary has {vocabulary_size} tokens. Received: a token id of {{}}",
        [tf.where(low < 0, low, high)],
    )
    return checked(ids, (low >= 0) & (high < vocabulary_size), message)


def checked_count(value, name, limit):
    """`value`, once it is from 1 to `limit` (the limit set at export): a count a request asks
    for, of which each one costs work and memory."""
    message = tf.strings.format(
        f"Invalid value for input {name}. Expected an integer from 1 to {limit}, the limit this "
        f"model was exported with. Received: {name}={{}}",
        [value],
    )
    return checked(value, (value >= 1) & (value <= limit), message)


def checked_max_new_tokens(max_new_tokens, limit):
    """`max_new_tokens`, once it is from 1 to `limit` (the limit set at export)."""
    return checked_count(max_new_tokens, "max_new_tokens", limit)


class TextOf:
    """Turns generated ids `[batch, steps]` into text, in the graph.

    Padding is left out and a translation is cut at its `[end]`; tokens are joined as they are
    (characters), with spaces (words), or as text (words and punctuation marks of the
    `*split_punctuation` standardizations: "man ." → "man."), as `kzoo.generate` joins them.

    Args:
        vectorizer: the adapted `TextVectorization` the ids come from.
        split: str. `"character"` or `"whitespace"`.
        end_id: int or `None`. The id of `[end]`, for translations.
    """

    def __init__(self, vectorizer, split, end_id=None):
        self.tokens = tf.constant(vectorization.vocabulary(vectorizer))
        self.end_id = end_id
        self.joins_words = split != "character" and vectorization.splits_punctuation(vectorizer)
        self.separator = "" if split == "character" else " "

    def __call__(self, ids):
        keep = ids > 0
        if self.end_id is not None:
            keep &= tf.cumsum(tf.cast(tf.equal(ids, self.end_id), tf.int32), axis=1) == 0
        words = tf.ragged.boolean_mask(tf.gather(self.tokens, ids), keep)
        if self.joins_words:
            return vectorization.join_words_tensor(words)
        return tf.strings.reduce_join(words, axis=1, separator=self.separator)


def build_archive(bundle, functions):
    """Returns an `ExportArchive` holding the model, its vectorizers and `functions`, the
    endpoints by name."""
    archive = keras.export.ExportArchive()
    archive.track(bundle.model)
    for vectorizer in bundle.vectorizers.values():
        if not vectorizer.built:
            vectorizer(tf.constant([""]))  # a layer must be built to be tracked
        archive.track(vectorizer)
    for name, function in functions.items():
        archive.add_endpoint(name, function)
    return archive
