"""Text generation with kzoo's generators and translators: one batched API, keras-hub samplers.

`generate(model, prompts, ...)` continues prompts with an RNN generator or a GPT, and
translates sources with a seq2seq or attention seq2seq model. Decoding runs in one compiled
`tf.function`, batched, and carries what the model already computed from token to token (the
recurrent states, the GPT's key/value cache, the decoder states and the encoder outputs), so no
step re-reads the prefix. The choice of the next token is a keras-hub sampler: greedy,
temperature, top-k, top-p (nucleus) or beam search.

`perplexity(model, texts)` scores a language model on texts, per token, with keras-hub's
`Perplexity` metric.

`model` is a Keras model plus its vectorizer(s), or the folder of a finished kzoo run
(`runs/<recipe>`), whose model and vocabularies are loaded once and kept.
"""

import collections
import numbers
import os

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from kzoo import validation
from kzoo.data import vectorization

SAMPLERS = ("greedy", "temperature", "top_k", "top_p", "beam")

# Logit of the ids that are never generated (padding, [UNK], [start]): probability 0 at any
# temperature (a finite logit divided by a large temperature would come back).
_NEVER = -np.inf

# Compiled decoders of the last few models used: their step or inference models and one
# function per sampler. The functions hold their model, so the cache is bounded, not weak.
_COMPILED = collections.OrderedDict()
# Runs loaded from folders, by (path, modification time of model.keras).
_RUNS = collections.OrderedDict()
_CACHED_MODELS = 4


def generate(
    model,
    prompts,
    max_new_tokens=None,
    sampler="greedy",
    temperature=1.0,
    k=5,
    p=0.9,
    num_beams=5,
    seed=None,
    vectorizer=None,
    source_vectorizer=None,
    target_vectorizer=None,
):
    """Generates text from prompts with an RNN generator, a GPT or a seq2seq model, batched.

    Language models (`build_rnn_generator`, `build_gpt`) continue each prompt by
    `max_new_tokens` tokens and return the continuation alone. Seq2seq models (`build_seq2seq`,
    `build_attention_seq2seq`) translate each prompt, decoding from `[start]` until `[end]` or
    `max_new_tokens` tokens, and return the translation without the markers. Generated text
    never contains padding or `[UNK]` (nor `[start]`): those ids get probability 0.

    The next token is chosen by a keras-hub sampler:

    - `"greedy"`: the most likely token (`keras_hub.samplers.GreedySampler`).
    - `"temperature"`: a draw from `softmax(logits / temperature)` (`RandomSampler`).
    - `"top_k"`: a draw among the `k` most likely tokens (`TopKSampler`).
    - `"top_p"`: a draw among the most likely tokens whose probabilities add up to `p`
      (`TopPSampler`, nucleus sampling).
    - `"beam"`: beam search over `num_beams` sequences, returning the most likely
      (`BeamSampler`). A translation's likelihood is that of its tokens up to its `[end]`,
      included: a translation that ended keeps its score while the others go on.

    `temperature` scales the logits of the three random samplers; greedy and beam search ignore
    it. Random samplers are reproducible with `seed`: the same seed, prompts and model give the
    same text.

    Args:
        model: a Keras model from one of the four factories (fresh or loaded from `.keras`),
            or the path of a finished kzoo run folder (`runs/<recipe>`), which brings its own
            vocabularies.
        prompts: str or list of str. Prompts to continue, or sentences to translate.
        max_new_tokens: int. Tokens to generate per prompt (language models), or the longest
            translation. Defaults to `100` for language models and, for seq2seq, to the run's
            `max_decode_length` or `64`.
        sampler: str. One of `"greedy"`, `"temperature"`, `"top_k"`, `"top_p"`, `"beam"`.
            Defaults to `"greedy"`.
        temperature: float > 0. Softmax temperature of the random samplers. Defaults to `1.0`.
        k: int. Tokens `"top_k"` samples among, at most the vocabulary size. Defaults to `5`.
        p: float in (0, 1]. Probability mass `"top_p"` keeps. Defaults to `0.9`.
        num_beams: int. Beams of `"beam"`. Defaults to `5`.
        seed: int >= 0. Seed of the random samplers; `None` draws a new one each call.
        vectorizer: the adapted `TextVectorization` of a language model (not needed with a
            run folder).
        source_vectorizer: the source `TextVectorization` of a seq2seq model.
        target_vectorizer: the target `TextVectorization` of a seq2seq model (it must hold
            `[start]` and `[end]`).

    Returns:
        A list of str, one per prompt; a str when `prompts` is one str. Characters are joined
        as they are, words with spaces, and words and punctuation marks (the
        `split_punctuation` standardizations) by `kzoo.data.vectorization.join_words`.

    Example:

    >>> import kzoo
    >>> from kzoo.data import vectorization
    >>> vectorizer = vectorization.make_vectorizer(["hello world"], split="character",
    ...                                       standardize=None)
    >>> model = kzoo.build_gpt(vocabulary_size=vectorizer.vocabulary_size(),
    ...                        max_sequence_length=16, num_layers=1, hidden_dim=8, num_heads=2)
    >>> texts = kzoo.generate(model, ["hel", "wo"], max_new_tokens=5, vectorizer=vectorizer)
    >>> [len(text) for text in texts]
    [5, 5]
    >>> text = kzoo.generate(model, "hel", max_new_tokens=5, sampler="top_k", k=3, seed=1,
    ...                      vectorizer=vectorizer)
    >>> text == kzoo.generate(model, "hel", max_new_tokens=5, sampler="top_k", k=3, seed=1,
    ...                       vectorizer=vectorizer)
    True
    """
    run = _resolve(model, vectorizer, source_vectorizer, target_vectorizer)
    single = isinstance(prompts, str)
    prompts = _check_prompts(prompts)
    validation.one_of("sampler", sampler, SAMPLERS)
    temperature = validation.positive_float("temperature", temperature)
    validation.positive_int("k", k)
    _check_p(p)
    validation.positive_int("num_beams", num_beams)
    if seed is not None:
        validation.int_at_least("seed", seed, 0)
    if max_new_tokens is None:
        max_new_tokens = run["max_new_tokens"]
    validation.positive_int("max_new_tokens", max_new_tokens)
    vocabulary_size = len(run["tokens"])
    if sampler == "top_k" and k > vocabulary_size:
        raise ValueError(
            f"Invalid value for argument k. Expected an integer between 1 and the vocabulary "
            f"size, {vocabulary_size}. Received: k={k}"
        )

    # One compiled function per sampler and static setting (k and num_beams fix shapes);
    # temperature, p and the seed are variables set for each call, so changing them does not
    # recompile.
    key = (
        sampler,
        k if sampler == "top_k" else None,
        num_beams if sampler == "beam" else None,
    )
    compiled = _compiled(run)
    if key not in compiled["functions"]:
        built = _build_sampler(sampler, k, num_beams)
        # Traced here, once: a concrete function never retraces (nor warns that it does).
        decode = _DECODERS[run["kind"]](run, compiled, built)
        compiled["functions"][key] = (built, decode)
    built, decode = compiled["functions"][key]
    if isinstance(built.temperature, tf.Variable):
        # As the serving signatures do: a tinier temperature would overflow the logits.
        built.temperature.assign(max(temperature, 1e-6))
    if hasattr(built, "p"):
        built.p.assign(float(p))
    if hasattr(built, "seed_generator"):
        # Each call restarts the sampler's random stream from its seed.
        seed = int(np.random.randint(2**31)) if seed is None else seed
        state = built.seed_generator.state
        state.assign(tf.constant([seed, 0], dtype=state.dtype))

    if run["kind"] == "seq2seq":
        texts = _translate(run, decode, prompts, max_new_tokens)
    else:
        texts = _continue(run, decode, prompts, max_new_tokens, by_length=sampler == "beam")
    return texts[0] if single else texts


def perplexity(model, texts, vectorizer=None):
    """Returns a language model's per-token perplexity on texts.

    Every token of each text after its first is predicted from the tokens before it; the
    perplexity is `exp` of the mean negative log-likelihood over all those tokens, as
    `keras_hub.metrics.Perplexity` computes it (its log is the loss in nats per token). Texts
    are scored independently; a text longer than a GPT's context is cut into windows of the
    context's length, each read from its start.

    Args:
        model: a model from `build_rnn_generator` or `build_gpt`, or a finished run folder.
        texts: str or list of str.
        vectorizer: the model's adapted `TextVectorization` (not needed with a run folder).

    Returns:
        A float: the perplexity over every predicted token.

    Example:

    >>> import kzoo
    >>> from kzoo.data import vectorization
    >>> vectorizer = vectorization.make_vectorizer(["abcabc"], split="character")
    >>> model = kzoo.build_rnn_generator(vocabulary_size=vectorizer.vocabulary_size(), units=4)
    >>> 1.0 < kzoo.perplexity(model, ["abcab"], vectorizer=vectorizer) < 10.0
    True
    """
    run = _resolve(model, vectorizer, None, None)
    if run["kind"] == "seq2seq":
        _not_generative(run["model"], "a kzoo rnn_generator or gpt model")
    texts = _check_prompts(texts, name="texts")
    window = run["context"] + 1 if run["kind"] == "gpt" else None
    pieces = []
    for ids in vectorization.vectorize(run["vectorizer"], texts):
        if window is None or len(ids) <= window:
            pieces.append(ids)
        else:  # consecutive windows overlap by one token, so every token is predicted once
            pieces += [ids[start : start + window] for start in range(0, len(ids) - 1, window - 1)]
    pieces = [piece for piece in pieces if len(piece) > 1]
    if not pieces:
        raise ValueError(
            "Invalid value for argument texts. Expected at least one text of two or more "
            f"tokens. Received: texts={texts}"
        )
    metric = keras_hub.metrics.Perplexity(from_logits=True, mask_token_id=0)
    for start in range(0, len(pieces), 64):
        batch = _pad(pieces[start : start + 64])
        logits = run["model"](batch[:, :-1], training=False)
        metric.update_state(batch[:, 1:], logits)
    return float(metric.result())


# === Models, vocabularies and arguments ===


def _kind(model):
    """The kind of model: "rnn", "gpt", "seq2seq", or None for other models."""
    if not isinstance(model, keras.Model):
        return None
    names = {layer.name for layer in model.layers}
    if {"encoder_lstm", "decoder_lstm", "logits"} <= names:
        return "seq2seq"
    if {"embedding", "logits"} <= names:
        if any(isinstance(layer, keras_hub.layers.TransformerDecoder) for layer in model.layers):
            return "gpt"
        if any(isinstance(layer, keras.layers.RNN) for layer in model.layers):
            return "rnn"
    return None


def _not_generative(model, expected):
    shown = getattr(model, "name", model)
    raise ValueError(
        f"Invalid value for argument model. Expected {expected}, or the folder of a finished "
        f"kzoo run of one. Received: model={shown}"
    )


def _load_run(path):
    from kzoo.export import bundle_from_run

    weights = os.path.join(path, "model.keras")
    key = (os.path.abspath(path), os.path.getmtime(weights) if os.path.exists(weights) else 0)
    if key not in _RUNS:
        _RUNS[key] = bundle_from_run(path)[0]  # raises for folders without a model
        _trim(_RUNS)
    return _RUNS[key]


def _trim(cache):
    while len(cache) > _CACHED_MODELS:
        cache.popitem(last=False)


def _resolve(model, vectorizer, source_vectorizer, target_vectorizer):
    """Everything decoding needs about a model, as a dict."""
    from kzoo.signatures import ServingBundle

    defaults = {"max_length": None, "max_decode_length": 64, "max_new_tokens": 100}
    if isinstance(model, (str, os.PathLike)):
        model = _load_run(os.fspath(model))
    if isinstance(model, ServingBundle):
        bundle = model
        model = bundle.model
        vectorizer = vectorizer or bundle.vectorizers.get("text")
        source_vectorizer = source_vectorizer or bundle.vectorizers.get("source")
        target_vectorizer = target_vectorizer or bundle.vectorizers.get("target")
        defaults.update(
            max_length=bundle.max_length,
            max_decode_length=bundle.max_decode_length,
            max_new_tokens=bundle.max_new_tokens,
        )
    kind = _kind(model)
    if kind is None:
        _not_generative(model, "a kzoo rnn_generator, gpt, seq2seq or attention_seq2seq model")
    run = {"model": model, "kind": kind}
    if kind == "seq2seq":
        _check_vectorizer("source_vectorizer", source_vectorizer)
        _check_vectorizer("target_vectorizer", target_vectorizer)
        tokens = vectorization.vocabulary(target_vectorizer)
        if vectorization.START not in tokens or vectorization.END not in tokens:
            raise ValueError(
                "Invalid value for argument target_vectorizer. Expected a vocabulary with the "
                f"reserved tokens {vectorization.START} and {vectorization.END}. "
                f"Received: target_vectorizer={target_vectorizer.name}"
            )
        run.update(
            vectorizer=source_vectorizer,
            tokens=tokens,
            join=_joiner(target_vectorizer),
            max_length=defaults["max_length"],
            max_new_tokens=defaults["max_decode_length"],
            never=(0, 1, tokens.index(vectorization.START)),
            start_id=tokens.index(vectorization.START),
            end_id=tokens.index(vectorization.END),
        )
    else:
        _check_vectorizer("vectorizer", vectorizer)
        tokens = vectorization.vocabulary(vectorizer)
        run.update(
            vectorizer=vectorizer,
            tokens=tokens,
            join=_joiner(vectorizer),
            max_new_tokens=defaults["max_new_tokens"],
            never=(0, 1),
            # An empty prompt starts from a newline when there is one (character models).
            empty_prompt_id=tokens.index("\n") if "\n" in tokens else 1,
        )
        if kind == "gpt":
            run["context"] = model.get_layer("embedding").sequence_length
    if len(tokens) != model.get_layer("logits").units:
        raise ValueError(
            "Invalid value for argument vectorizer. Expected a vocabulary of "
            f"{model.get_layer('logits').units} tokens, the model's output size. "
            f"Received: a vocabulary of {len(tokens)} tokens"
        )
    return run


def _check_vectorizer(name, vectorizer):
    if not isinstance(vectorizer, keras.layers.TextVectorization):
        raise ValueError(
            f"Invalid value for argument {name}. Expected the adapted TextVectorization layer "
            f"the model's vocabulary comes from. Received: {name}={vectorizer}"
        )


def _joiner(vectorizer):
    """How the vectorizer's tokens join into text: as they are (characters), with
    `join_words` (words and punctuation marks as tokens) or with spaces (words)."""
    if vectorizer.get_config().get("split") == "character":
        return "".join
    if vectorization.splits_punctuation(vectorizer):
        return vectorization.join_words
    return " ".join


def _check_prompts(prompts, name="prompts"):
    if isinstance(prompts, str):
        return [prompts]
    if (
        not isinstance(prompts, (list, tuple))
        or not prompts
        or not all(isinstance(x, str) for x in prompts)
    ):
        raise ValueError(
            f"Invalid value for argument {name}. Expected a string or a non-empty list of "
            f"strings. Received: {name}={prompts!r}"
        )
    return list(prompts)


def _check_p(p):
    if not isinstance(p, numbers.Real) or isinstance(p, bool) or not 0.0 < float(p) <= 1.0:
        raise ValueError(
            f"Invalid value for argument p. Expected a float in (0, 1]. Received: p={p}"
        )


def _build_sampler(name, k, num_beams):
    samplers = keras_hub.samplers
    if name == "greedy":
        return samplers.GreedySampler()
    if name == "beam":
        return samplers.BeamSampler(num_beams=num_beams)
    temperature = tf.Variable(1.0, trainable=False, name="temperature")
    if name == "temperature":
        return samplers.RandomSampler(temperature=temperature, seed=0)
    if name == "top_k":
        return samplers.TopKSampler(k=k, temperature=temperature, seed=0)
    p = tf.Variable(0.9, trainable=False, name="p")
    return samplers.TopPSampler(p=p, temperature=temperature, seed=0)


def _pad(rows, length=None):
    length = length or max(len(row) for row in rows)
    padded = np.zeros((len(rows), length), dtype="int32")
    for i, row in enumerate(rows):
        padded[i, : len(row)] = row
    return padded


def _join(run, ids):
    """The text of generated ids, up to `[end]` for seq2seq (never padding or [UNK])."""
    pieces = []
    for i in ids:
        if run["kind"] == "seq2seq" and i == run["end_id"]:
            break
        pieces.append(run["tokens"][i])
    return run["join"](pieces)


# === Decoders: one compiled function per model and sampler ===


def _compiled(run):
    model = run["model"]
    entry = _COMPILED.get(id(model))
    if entry is None or entry["model"] is not model:
        entry = {"model": model, "functions": {}}
        if run["kind"] == "rnn":
            from kzoo.models.rnn_generator import rnn_generator_step_model

            entry["step"] = rnn_generator_step_model(model)
        elif run["kind"] == "seq2seq":
            from kzoo.models.seq2seq import seq2seq_inference_models

            entry["encoder"], entry["decoder"] = seq2seq_inference_models(model)
        _COMPILED[id(model)] = entry
        _trim(_COMPILED)
    _COMPILED.move_to_end(id(model))
    return entry


def _text_only(run, logits):
    """Next-token logits `(batch, vocabulary)` in float32, never choosing padding/[UNK]."""
    never = np.zeros(len(run["tokens"]), dtype=bool)
    never[list(run["never"])] = True
    return tf.where(tf.constant(never)[None, :], _NEVER, tf.cast(logits, tf.float32))


def _padding_after_end(run, generated, logits):
    """Logits `(batch, vocabulary)` with padding certain for rows whose `generated` ids hold
    `[end]`: a finished translation continues with padding at log-probability 0.

    Beam search adds the log-probability of every token it writes to its beam's score. Without
    this, a translation that ended early would go on paying for whatever the model predicts
    after `[end]` (it never learnt to read it), and beam search would compare translations by
    more than their own tokens, and differently in a batch that runs longer. With it, a
    finished beam keeps the score of its translation, `[end]` included, and holds one slot.
    """
    finished = tf.reduce_any(tf.equal(generated, run["end_id"]), axis=1)
    padding = tf.one_hot(0, tf.shape(logits)[-1], on_value=0.0, off_value=_NEVER)
    return tf.where(finished[:, None], padding[None, :], logits)


# The decoders have no Python control flow on tensors (tf.cond and the samplers' while loops
# are explicit), so they are traced without AutoGraph.
_PROMPT_SPECS = [
    tf.TensorSpec([None, None], tf.int32, name="prompt"),
    tf.TensorSpec([None, None], tf.bool, name="mask"),
    tf.TensorSpec([], tf.int32, name="index"),
]


def _rnn_decoder(run, compiled, sampler):
    step = compiled["step"]
    sizes = [int(state.shape[-1]) for state in step.inputs[1:]]

    @tf.function(input_signature=_PROMPT_SPECS, autograph=False)
    def decode(prompt, mask, index):
        batch = tf.shape(prompt)[0]
        zeros = [tf.zeros([batch, size]) for size in sizes]
        # The prompt tokens every row has, but the last, are read in one call; the sampler then
        # feeds one token per step from `index - 1` on, carrying the states. (Starting the
        # sampler at the first token instead would make beam search score the prompt.)
        states = tf.cond(
            index > 1,
            lambda: step([prompt[:, : index - 1], *zeros], training=False)[1:],
            lambda: zeros,
        )

        def next(prompt, states, index):
            logits, *states = step([prompt[:, index - 1 : index], *states], training=False)
            return _text_only(run, logits[:, -1]), None, states

        return sampler(next, prompt, cache=list(states), index=index, mask=mask, model=step)

    return decode.get_concrete_function()


def _gpt_decoder(run, compiled, sampler):
    from kzoo.models.gpt import gpt_call_with_cache

    model = run["model"]
    blocks = [
        layer for layer in model.layers if isinstance(layer, keras_hub.layers.TransformerDecoder)
    ]
    heads = blocks[0].num_heads
    head_dim = model.get_layer("embedding").embedding_dim // heads

    @tf.function(input_signature=_PROMPT_SPECS, autograph=False)
    def decode(prompt, mask, index):
        # The cache holds the buffer's length, not the whole context. The whole padded buffer
        # is read once, as keras-hub's CausalLM does: keys and values past a row's prompt are
        # overwritten before any query reaches them. Then one token per step from `index - 1`.
        shape = [tf.shape(prompt)[0], len(blocks), 2, tf.shape(prompt)[1], heads, head_dim]
        empty = tf.zeros(shape, dtype=model.get_layer("logits").compute_dtype)
        cache = gpt_call_with_cache(model, prompt, empty, 0)[1]

        def next(prompt, cache, index):
            logits, cache = gpt_call_with_cache(
                model, prompt[:, index - 1 : index], cache, index - 1
            )
            return _text_only(run, logits[:, -1]), None, cache

        return sampler(next, prompt, cache=cache, index=index, mask=mask, model=model)

    return decode.get_concrete_function()


def _seq2seq_decoder(run, compiled, sampler):
    encoder, decoder = compiled["encoder"], compiled["decoder"]

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None], tf.int32, name="source"),
            tf.TensorSpec([None, None], tf.int32, name="prompt"),
        ],
        autograph=False,
    )
    def decode(source, prompt):
        # The encoder outputs and padding mask ride in the cache with the decoder states, so
        # beam search repeats and reorders them with the beams.
        cache = dict(encoder({"encoder_token_ids": source}, training=False))
        mask = tf.concat(
            [tf.ones_like(prompt[:, :1], tf.bool), tf.zeros_like(prompt[:, 1:], tf.bool)], axis=1
        )

        def next(prompt, cache, index):
            out = decoder({**cache, "decoder_token_ids": prompt[:, index - 1 : index]})
            cache = {**cache, "state_h": out["state_h"], "state_c": out["state_c"]}
            logits = _text_only(run, out["logits"][:, -1])
            return _padding_after_end(run, prompt[:, :index], logits), None, cache

        return sampler(
            next,
            prompt,
            cache=cache,
            index=1,
            mask=mask,
            stop_token_ids=[run["end_id"]],
            model=decoder,
        )

    return decode.get_concrete_function()


_DECODERS = {"rnn": _rnn_decoder, "gpt": _gpt_decoder, "seq2seq": _seq2seq_decoder}


def _continue(run, decode, prompts, max_new_tokens, by_length):
    ragged = run["vectorizer"](tf.constant(prompts)).to_list()
    rows = [row or [run["empty_prompt_id"]] for row in ragged]
    lengths = [len(row) for row in rows]
    if run["kind"] == "gpt" and max(lengths) + max_new_tokens > run["context"]:
        raise ValueError(
            f"Invalid value for argument max_new_tokens. Expected at most "
            f"{run['context'] - max(lengths)}: the GPT's context of {run['context']} tokens "
            f"minus the longest prompt, {max(lengths)} tokens. "
            f"Received: max_new_tokens={max_new_tokens}"
        )
    # Prompts are post-padded; the sampler starts after the shortest, and masked positions
    # keep their prompt token. Beam search scores every position it runs, prompt included, so
    # it runs once per prompt length instead.
    groups = {}
    for i, length in enumerate(lengths):
        groups.setdefault(length if by_length else 0, []).append(i)
    texts = [None] * len(rows)
    for members in groups.values():
        shortest = min(lengths[i] for i in members)
        prompt = _pad([rows[i] for i in members], max(lengths[i] for i in members) + max_new_tokens)
        ids = decode(prompt, prompt > 0, tf.constant(shortest, tf.int32)).numpy()
        for row, i in zip(ids, members):
            texts[i] = _join(run, row[lengths[i] : lengths[i] + max_new_tokens])
    return texts


def _translate(run, decode, sources, max_new_tokens):
    source = _pad(vectorization.vectorize(run["vectorizer"], sources, run["max_length"]))
    prompt = np.zeros((len(sources), max_new_tokens + 1), dtype="int32")
    prompt[:, 0] = run["start_id"]
    ids = decode(source, prompt).numpy()
    return [_join(run, row[1:]) for row in ids]
