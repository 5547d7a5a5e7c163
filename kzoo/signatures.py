"""Serving signatures: raw text in, readable results out, for every kind of kzoo model.

`build_archive(bundle)` returns a `keras.export.ExportArchive` whose endpoints TF Serving
serves. The vectorizers (and their lookup tables) are tracked in the archive, so clients send
raw strings; a second, token-id endpoint serves clients that tokenize themselves.

- classification: `serving_default`: `text` [-1] string → `scores` [-1, classes],
  `label` [-1] string, `label_id` [-1]; `token_ids`.
- translation: `serving_default`: `text` [-1] string → `translation` [-1] string (and
  `attention` [-1, out, in] with attention); `token_ids`.
- language model: `serving_default`: `prompt` [-1] string → `text` [-1] string, greedy;
  `sample` (prompt, max_new_tokens, temperature, top_k, seed); `token_ids`. `max_new_tokens`
  must be from 1 to `ServingBundle.max_new_tokens_limit`, set at export.
- gan: `serving_default`: `seed` [-1] int64 → `images` [-1, h, w, c] in [0, 1], one image per
  seed; `sample` (num_images, seed); `noise`.
- word2vec: `serving_default`: `words` [-1] string → `vectors` [-1, dim], `in_vocabulary`
  [-1] bool; `token_ids`.
- pretrained classification (keras-hub): `serving_default`: `text` [-1] string → `scores`,
  `label`, `label_id` as for classifiers; the model's own preprocessor tokenizes.

Decoding runs inside the SavedModel: seq2seq decodes greedily in a `tf.while_loop`, batched,
until every sentence has produced `[end]` or `max_decode_length` tokens; generators carry the
RNN state or the GPT key/value cache from token to token.

Request values are checked inside the graph, before any work: a token id outside
`[0, vocabulary size)` in a `token_ids` endpoint, or a `max_new_tokens` outside
`[1, max_new_tokens_limit]`, fails the call with `InvalidArgumentError` naming the input, what
was expected and the value received (a server answers 400 / INVALID_ARGUMENT), instead of a
vector of zeros, a wrapped-around id or hours of generation.
"""

import dataclasses
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from kzoo import validation
from kzoo.data import vectorization

# Most tokens an RNN generator's `sample` and `token_ids` endpoints add per request, unless the
# export sets `max_new_tokens_limit` (a GPT's limit is its context).
DEFAULT_MAX_NEW_TOKENS_LIMIT = 2048


@dataclasses.dataclass
class ServingBundle:
    """What an export needs besides the model.

    Attributes:
        model: the trained Keras model.
        task: str. One of "classification", "translation", "language_model", "gan", "word2vec".
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
            `DEFAULT_MAX_NEW_TOKENS_LIMIT` for RNN generators.
        examples: a few raw inputs for warm-up requests and the post-export check.
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
    )


def _vocabulary_tensor(vectorizer):
    return tf.constant(vectorization.vocabulary(vectorizer))


def _ids_from_text(vectorizer, texts, max_length=None):
    """Token ids `[batch, steps]` (post-padded with 0, at least one step) of raw strings, as
    `kzoo.data.vectorization.vectorize` computes them: a text with no token becomes `[UNK]`."""
    ragged = vectorizer(texts)
    if max_length:
        ragged = ragged[:, :max_length]
    ids = tf.cast(ragged.to_tensor(0), tf.int32)
    ids = tf.pad(ids, [[0, 0], [0, tf.maximum(0, 1 - tf.shape(ids)[1])]])
    first = tf.where(ragged.row_lengths() == 0, 1, ids[:, 0])
    return tf.concat([first[:, None], ids[:, 1:]], axis=1)


def _checked(value, condition, message):
    """`value`, computed only once `condition` holds; otherwise the call fails with
    `InvalidArgumentError: assertion failed: [message]`."""
    check = tf.debugging.Assert(condition, [message])
    with tf.control_dependencies([check]):
        return tf.identity(value)


def _checked_token_ids(ids, vocabulary_size, name):
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
    return _checked(ids, (low >= 0) & (high < vocabulary_size), message)


def _join(tokens, keep, separator):
    """Joins the kept tokens of each row into one string."""
    return tf.strings.reduce_join(tf.ragged.boolean_mask(tokens, keep), axis=1, separator=separator)


def _separator(split):
    return "" if split == "character" else " "


# === Classification ===


def _classification_endpoints(bundle):
    model, vectorizer = bundle.model, bundle.vectorizers["text"]
    class_names = tf.constant(bundle.class_names)
    vocabulary_size = len(vectorization.vocabulary(vectorizer))
    max_length = bundle.max_length
    sequence_limit = getattr(_layer_or_none(model, "embedding"), "sequence_length", None)
    if sequence_limit:
        max_length = min(max_length or sequence_limit, sequence_limit)

    def classify(token_ids):
        probabilities = tf.cast(model(token_ids, training=False), tf.float32)
        if probabilities.shape[-1] == 1:  # one sigmoid unit: P(class 1)
            probabilities = tf.concat([1.0 - probabilities, probabilities], axis=-1)
        label_id = tf.argmax(probabilities, axis=-1)
        return {
            "scores": probabilities,
            "label": tf.gather(class_names, label_id),
            "label_id": label_id,
        }

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve_text(text):
        return classify(_ids_from_text(vectorizer, text, max_length))

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32, name="token_ids")])
    def serve_token_ids(token_ids):
        token_ids = _checked_token_ids(token_ids, vocabulary_size, "token_ids")
        if max_length:
            token_ids = token_ids[:, :max_length]
        return classify(token_ids)

    return {"serving_default": serve_text, "token_ids": serve_token_ids}


def _layer_or_none(model, name):
    return next((layer for layer in model.layers if layer.name == name), None)


# === Translation ===


def _translation_endpoints(bundle):
    from kzoo.models.seq2seq import seq2seq_inference_models

    encoder, decoder = seq2seq_inference_models(bundle.model)
    source, target = bundle.vectorizers["source"], bundle.vectorizers["target"]
    source_vocabulary_size = len(vectorization.vocabulary(source))
    start_id = vectorization.token_id(target, vectorization.START)
    end_id = vectorization.token_id(target, vectorization.END)
    tokens = _vocabulary_tensor(target)
    separator = _separator(bundle.split)
    # Punctuation marks as tokens: join them back as text ("man ." → "man.").
    join_marks = bundle.split != "character" and vectorization.splits_punctuation(target)
    has_attention = "attention" in decoder.output
    max_steps = bundle.max_decode_length
    # Padding, [UNK] and [start] are never the next token (as in `kzoo.generate`): padding
    # marks finished sentences, and [UNK] is no word of the translation.
    vocabulary = vectorization.vocabulary(target)
    never_next = tf.constant(
        [
            i == 0 or token in (vectorization.OOV, vectorization.START)
            for i, token in enumerate(vocabulary)
        ]
    )

    def decode(source_ids):
        state = encoder({"encoder_token_ids": source_ids}, training=False)
        batch = tf.shape(source_ids)[0]
        source_steps = tf.shape(source_ids)[1]
        outputs = tf.TensorArray(tf.int32, size=0, dynamic_size=True)
        weights = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
        current = tf.fill([batch, 1], start_id)
        done = tf.zeros([batch], tf.bool)
        step, h, c = tf.constant(0), state["state_h"], state["state_c"]
        while step < max_steps and not tf.reduce_all(done):
            out = decoder({**state, "state_h": h, "state_c": c, "decoder_token_ids": current})
            h, c = out["state_h"], out["state_c"]
            logits = tf.where(
                never_next[None, :], -np.inf, tf.cast(out["logits"][:, -1], tf.float32)
            )
            chosen = tf.argmax(logits, axis=-1, output_type=tf.int32)
            chosen = tf.where(done, 0, chosen)  # finished sentences emit padding
            outputs = outputs.write(step, chosen)
            if has_attention:
                weights = weights.write(step, tf.cast(out["attention"][:, -1], tf.float32))
            done = done | tf.equal(chosen, end_id)
            current = chosen[:, None]
            step += 1
        ids = tf.transpose(outputs.stack())  # [batch, steps]
        ids = tf.reshape(ids, [batch, -1])
        keep = (ids > 0) & (tf.cumsum(tf.cast(tf.equal(ids, end_id), tf.int32), axis=1) == 0)
        if join_marks:
            words = tf.ragged.boolean_mask(tf.gather(tokens, ids), keep)
            translation = vectorization.join_words_tensor(words)
        else:
            translation = _join(tf.gather(tokens, ids), keep, separator)
        result = {"translation": translation, "ids": ids}
        if has_attention:
            stacked = weights.stack()
            result["attention"] = tf.reshape(
                tf.transpose(stacked, [1, 0, 2]), [batch, -1, source_steps]
            )
        return result

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve_text(text):
        result = decode(_ids_from_text(source, text, bundle.max_length))
        return {k: v for k, v in result.items() if k != "ids"}

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32, name="token_ids")])
    def serve_token_ids(token_ids):
        result = decode(_checked_token_ids(token_ids, source_vocabulary_size, "token_ids"))
        outputs = {"translation_ids": result["ids"]}
        if has_attention:
            outputs["attention"] = result["attention"]
        return outputs

    return {"serving_default": serve_text, "token_ids": serve_token_ids}


# === Language models ===


def _next_token(logits, temperature, top_k, seed, step):
    """Greedy when `temperature <= 0`; else samples from `softmax(logits / temperature)`,
    restricted to the `top_k` most likely tokens when `top_k > 0`, with a stateless seed.
    Padding (id 0) and `[UNK]` (id 1) are never chosen: they are not text."""
    logits = tf.cast(logits, tf.float32)
    not_text = tf.range(tf.shape(logits)[-1]) < 2
    logits = tf.where(not_text[None, :], tf.constant(-np.inf), logits)
    greedy = tf.argmax(logits, axis=-1, output_type=tf.int32)
    scaled = logits / tf.maximum(temperature, 1e-6)
    k = tf.minimum(top_k, tf.shape(logits)[-1])
    kth = tf.math.top_k(scaled, k=tf.maximum(k, 1)).values[:, -1:]
    scaled = tf.where((k > 0) & (scaled < kth), -np.inf, scaled)
    sampled = tf.random.stateless_categorical(
        scaled, 1, seed=tf.stack([seed, tf.cast(step, tf.int64)]), dtype=tf.int32
    )[:, 0]
    return tf.where(temperature > 0, sampled, greedy)


def _language_model_endpoints(bundle):
    from kzoo.models.gpt import gpt_call_with_cache, gpt_initial_cache
    from kzoo.models.rnn_generator import rnn_generator_step_model

    model, vectorizer = bundle.model, bundle.vectorizers["text"]
    tokens = _vocabulary_tensor(vectorizer)
    vocabulary = vectorization.vocabulary(vectorizer)
    # An empty prompt starts from a newline when the vocabulary has one (character models).
    empty_prompt_id = vocabulary.index("\n") if "\n" in vocabulary else 1
    separator = _separator(bundle.split)
    is_gpt = _layer_or_none(model, "transformer_decoder_0") is not None
    if is_gpt:
        max_context = model.get_layer("embedding").sequence_length
    else:
        step_model = rnn_generator_step_model(model)
        state_sizes = [int(s.shape[-1]) for s in step_model.inputs[1:]]
    limit = bundle.max_new_tokens_limit
    if limit is None:
        limit = max_context if is_gpt else DEFAULT_MAX_NEW_TOKENS_LIMIT
    limit = validation.positive_int("max_new_tokens_limit", limit)

    def checked_max_new_tokens(max_new_tokens):
        message = tf.strings.format(
            "Invalid value for input max_new_tokens. Expected an integer from 1 to "
            f"{limit}, the limit this model was exported with. "
            "Received: max_new_tokens={}",
            [max_new_tokens],
        )
        return _checked(max_new_tokens, (max_new_tokens >= 1) & (max_new_tokens <= limit), message)

    def generate(prompt_ids, max_new_tokens, temperature, top_k, seed):
        """Continues each post-padded prompt by `max_new_tokens` tokens; returns them."""
        batch = tf.shape(prompt_ids)[0]
        lengths = tf.reduce_sum(tf.cast(prompt_ids > 0, tf.int32), axis=1)
        prompt_ids = tf.where(lengths[:, None] == 0, empty_prompt_id, prompt_ids)
        lengths = tf.maximum(lengths, 1)
        total = tf.shape(prompt_ids)[1] + max_new_tokens
        if is_gpt:
            # The GPT sees at most its context; longer requests generate fewer tokens.
            total = tf.minimum(total, max_context)
        padded = tf.pad(prompt_ids, [[0, 0], [0, tf.maximum(0, total - tf.shape(prompt_ids)[1])]])
        written = tf.TensorArray(tf.int32, size=total, clear_after_read=False)
        written = written.write(0, padded[:, 0])
        current = padded[:, 0]
        if is_gpt:
            carried = [gpt_initial_cache(model, batch, max_context)]
        else:
            carried = [tf.zeros([batch, size]) for size in state_sizes]
        for position in tf.range(total - 1):
            # One token in, the next token's logits out: never the whole prefix again.
            if is_gpt:
                logits, cache = gpt_call_with_cache(model, current[:, None], carried[0], position)
                carried = [cache]
            else:
                logits, *carried = step_model([current[:, None], *carried], training=False)
            chosen = _next_token(logits[:, -1], temperature, top_k, seed, position)
            # Inside its prompt a row reads the prompt; after it, what was generated.
            current = tf.where(position + 1 < lengths, padded[:, position + 1], chosen)
            written = written.write(position + 1, current)
        sequence = tf.reshape(tf.transpose(written.stack()), [batch, total])
        columns = lengths[:, None] + tf.range(max_new_tokens)[None, :]
        valid = columns < total
        return tf.where(valid, tf.gather(sequence, tf.minimum(columns, total - 1), batch_dims=1), 0)

    def as_text(ids):
        return _join(tf.gather(tokens, ids), ids > 0, separator)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="prompt")])
    def serve_prompt(prompt):
        ids = generate(
            _ids_from_text(vectorizer, prompt),
            tf.constant(bundle.max_new_tokens),
            tf.constant(0.0),
            tf.constant(0),
            tf.constant(0, tf.int64),
        )
        return {"text": as_text(ids)}

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.string, name="prompt"),
            tf.TensorSpec([], tf.int32, name="max_new_tokens"),
            tf.TensorSpec([], tf.float32, name="temperature"),
            tf.TensorSpec([], tf.int32, name="top_k"),
            tf.TensorSpec([], tf.int64, name="seed"),
        ]
    )
    def serve_sample(prompt, max_new_tokens, temperature, top_k, seed):
        max_new_tokens = checked_max_new_tokens(max_new_tokens)
        ids = generate(_ids_from_text(vectorizer, prompt), max_new_tokens, temperature, top_k, seed)
        return {"text": as_text(ids)}

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None], tf.int32, name="prompt_ids"),
            tf.TensorSpec([], tf.int32, name="max_new_tokens"),
        ]
    )
    def serve_token_ids(prompt_ids, max_new_tokens):
        prompt_ids = _checked_token_ids(prompt_ids, len(vocabulary), "prompt_ids")
        max_new_tokens = checked_max_new_tokens(max_new_tokens)
        ids = generate(
            prompt_ids, max_new_tokens, tf.constant(0.0), tf.constant(0), tf.constant(0, tf.int64)
        )
        return {"token_ids": ids}

    return {"serving_default": serve_prompt, "sample": serve_sample, "token_ids": serve_token_ids}


# === GAN ===


def _gan_endpoints(bundle):
    gan = bundle.model
    latent_dim = gan.latent_dim

    def images_from(noise):
        images = tf.cast(gan.inference_generator(noise, training=False), tf.float32)
        return {"images": (images + 1.0) / 2.0}  # tanh range [-1, 1] → pixel range [0, 1]

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int64, name="seed")])
    def serve_seeds(seed):
        noise = tf.map_fn(
            lambda s: tf.random.stateless_normal(
                [latent_dim], seed=tf.stack([s, tf.constant(0, tf.int64)])
            ),
            seed,
            fn_output_signature=tf.float32,
        )
        return images_from(tf.reshape(noise, [-1, latent_dim]))

    @tf.function(
        input_signature=[
            tf.TensorSpec([], tf.int32, name="num_images"),
            tf.TensorSpec([], tf.int64, name="seed"),
        ]
    )
    def serve_sample(num_images, seed):
        noise = tf.random.stateless_normal(
            tf.stack([num_images, latent_dim]), seed=tf.stack([seed, tf.constant(1, tf.int64)])
        )
        return images_from(noise)

    @tf.function(input_signature=[tf.TensorSpec([None, latent_dim], tf.float32, name="noise")])
    def serve_noise(noise):
        return images_from(noise)

    return {"serving_default": serve_seeds, "sample": serve_sample, "noise": serve_noise}


# === word2vec ===


def _word2vec_endpoints(bundle):
    embedding = bundle.model.get_layer("target_embedding")
    vectorizer = bundle.vectorizers["text"]
    vocabulary_size = len(vectorization.vocabulary(vectorizer))

    def vectors_of(ids):
        return tf.cast(tf.gather(embedding.embeddings, ids), tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="words")])
    def serve_words(words):
        ids = _ids_from_text(vectorizer, words)[:, 0]
        return {"vectors": vectors_of(ids), "in_vocabulary": ids > 1}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32, name="token_ids")])
    def serve_token_ids(token_ids):
        return {"vectors": vectors_of(_checked_token_ids(token_ids, vocabulary_size, "token_ids"))}

    return {"serving_default": serve_words, "token_ids": serve_token_ids}


# === Pre-trained classifiers ===


def _pretrained_classification_endpoints(bundle):
    # A keras-hub classifier tokenizes in its own preprocessor, tracked with the model.
    model = bundle.model
    class_names = tf.constant(bundle.class_names)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve_text(text):
        probabilities = tf.cast(model(model.preprocessor(text), training=False), tf.float32)
        label_id = tf.argmax(probabilities, axis=-1)
        return {
            "scores": probabilities,
            "label": tf.gather(class_names, label_id),
            "label_id": label_id,
        }

    return {"serving_default": serve_text}


ENDPOINTS = {
    "classification": _classification_endpoints,
    "translation": _translation_endpoints,
    "language_model": _language_model_endpoints,
    "gan": _gan_endpoints,
    "word2vec": _word2vec_endpoints,
    "pretrained_classification": _pretrained_classification_endpoints,
}


def serving_functions(bundle):
    """Returns the endpoint `tf.function`s of a bundle by name, `serving_default` first."""
    return ENDPOINTS[bundle.task](bundle)


def build_archive(bundle, functions=None):
    """Returns an `ExportArchive` holding the model, its vectorizers and its endpoints."""
    archive = keras.export.ExportArchive()
    archive.track(bundle.model)
    for vectorizer in bundle.vectorizers.values():
        if not vectorizer.built:
            vectorizer(tf.constant([""]))  # a layer must be built to be tracked
        archive.track(vectorizer)
    for name, function in (functions or serving_functions(bundle)).items():
        archive.add_endpoint(name, function)
    return archive
