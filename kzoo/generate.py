"""Text generation with kzoo's generators and translators: one batched API.

`generate(model, prompts, ...)` continues prompts with an RNN generator or a GPT, and
translates sources with a seq2seq or attention seq2seq model. It runs the one decoding loop of
`kzoo.decoding`, which the exported SavedModels run as well: one compiled function per model,
batched, carrying what the model already computed from token to token (the recurrent states,
the GPT's key/value cache, the decoder states and the encoder outputs), with any sampler.

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
from kzoo.decoding import SAMPLERS, Decoding
from kzoo.registry import decoder_class, decoder_for
from kzoo.runs import is_hub_handle, load_run, model_file
from kzoo.signatures import ServingBundle

# The decodings of the last few models used, and the runs loaded from folders, by (path,
# modification time of model.keras). A decoding holds its model, so the caches are bounded.
_DECODINGS = collections.OrderedDict()
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
        model: a Keras model from one of the four factories (fresh or loaded from `.keras`);
            the path of a finished kzoo run folder (`runs/<recipe>`) or of a preset, or a
            `kaggle://` or `hf://` handle of one, which bring their own vocabularies; or what
            `kzoo.from_preset` returns for a generator or translator. A keras-hub causal
            language model (`build_pretrained_generator`, or a run or preset of one) generates
            with its own tokenizer and keras-hub's samplers, up to its end token.
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
    single = isinstance(prompts, str)
    prompts = _check_prompts(prompts)
    validation.one_of("sampler", sampler, SAMPLERS)
    temperature = validation.positive_float("temperature", temperature)
    validation.positive_int("k", k)
    _check_p(p)
    validation.positive_int("num_beams", num_beams)
    if seed is not None:
        validation.int_at_least("seed", seed, 0)
    causal_lm = _causal_lm(model)
    if causal_lm is not None:
        if sampler == "top_k":
            _check_k(k, causal_lm.backbone.vocabulary_size)
        samplers = {
            "greedy": lambda: keras_hub.samplers.GreedySampler(),
            "temperature": lambda: keras_hub.samplers.RandomSampler(temperature, seed=seed),
            "top_k": lambda: keras_hub.samplers.TopKSampler(k, seed=seed, temperature=temperature),
            "top_p": lambda: keras_hub.samplers.TopPSampler(p, seed=seed, temperature=temperature),
            "beam": lambda: keras_hub.samplers.BeamSampler(num_beams),
        }
        texts = _generate_with_keras_hub(causal_lm, prompts, max_new_tokens, samplers[sampler]())
        return texts[0] if single else texts
    run = _resolve(model, vectorizer, source_vectorizer, target_vectorizer)
    if max_new_tokens is None:
        max_new_tokens = run["max_new_tokens"]
    validation.positive_int("max_new_tokens", max_new_tokens)
    decoding = run["decoding"]
    if sampler == "top_k":
        _check_k(k, decoding.vocabulary_size)
    if decoding.decoder.translates:
        token_ids = vectorization.vectorize(run["vectorizer"], prompts, run["max_length"])
    else:
        token_ids = vectorization.token_rows(run["vectorizer"], prompts)
        _check_context(decoding, token_ids, max_new_tokens)
    seed = int(np.random.randint(2**31)) if seed is None else seed
    ids = decoding.for_sampler(sampler)(
        _pad(token_ids),
        max_new_tokens,
        sampler,
        temperature,
        k,
        float(p),
        num_beams,
        seed,
    )
    ids = keras.ops.convert_to_numpy(ids)
    texts = [_join(run, row) for row in ids]
    return texts[0] if single else texts


def perplexity(model, texts, vectorizer=None):
    """Returns a language model's per-token perplexity on texts.

    Every token of each text after its first is predicted from the tokens before it; the
    perplexity is `exp` of the mean negative log-likelihood over all those tokens, as
    `keras_hub.metrics.Perplexity` computes it (its log is the loss in nats per token). Texts
    are scored independently; a text longer than a GPT's context is cut into windows of the
    context's length, each read from its start.

    A keras-hub causal language model (`build_pretrained_generator`, or a run or preset of
    one) reads each text with its preprocessor, as in training: after its start token, every
    token up to its end token is predicted, within the preprocessor's sequence length.

    Args:
        model: a model from `build_rnn_generator`, `build_gpt` or `build_pretrained_generator`,
            or a finished run folder or preset of one.
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
    causal_lm = _causal_lm(model)
    if causal_lm is not None:
        return _perplexity_with_keras_hub(causal_lm, _check_prompts(texts, name="texts"))
    # Scoring needs the model and its vocabulary, not the decoding graph: it runs on every
    # backend.
    run = _resolve(model, vectorizer, None, None, decode=False)
    decoder = decoder_for(run["model"])
    if decoder.translates:
        raise ValueError(
            "Invalid value for argument model. Expected a kzoo rnn_generator or gpt model, or "
            f"the folder of a finished kzoo run of one. Received: model={decoder.model.name}"
        )
    texts = _check_prompts(texts, name="texts")
    window = decoder.context + 1 if decoder.context else None
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


def _load_run(path):
    if is_hub_handle(path):  # the hub's cache keeps the files; the handle names the version
        key = (path, 0)
    else:
        weights = model_file(path)
        key = (os.path.abspath(path), os.path.getmtime(weights) if os.path.exists(weights) else 0)
    if key not in _RUNS:
        _RUNS[key] = load_run(path)[0]  # raises for folders without a model
        _trim(_RUNS)
    return _RUNS[key]


def _check_k(k, vocabulary_size):
    if k > vocabulary_size:
        raise ValueError(
            f"Invalid value for argument k. Expected an integer between 1 and the vocabulary "
            f"size, {vocabulary_size}. Received: k={k}"
        )


def _causal_lm(model):
    """The keras-hub `CausalLM` that `model` is, or that a run or preset of one holds; else
    `None`."""
    if isinstance(model, (str, os.PathLike)):
        model = _load_run(os.fspath(model))
    if isinstance(model, ServingBundle):
        model = model.model
    return model if isinstance(model, keras_hub.models.CausalLM) else None


def _generate_with_keras_hub(model, prompts, max_new_tokens, sampler):
    """A keras-hub causal language model's continuations of `prompts` by its own `generate`,
    with `sampler` (a fresh one per call, so that a seed gives the same text again): up to
    `max_new_tokens` (default 100) after the longest prompt, or the end token."""
    max_new_tokens = validation.positive_int("max_new_tokens", max_new_tokens or 100)
    longest = max(len(ids) for ids in model.preprocessor.tokenizer(prompts)) + 1  # start token
    context = getattr(model.backbone, "max_sequence_length", None)
    _check_room(context, longest, max_new_tokens, "the model's", " and its start token")
    previous = model.sampler
    model.sampler, model.generate_function = sampler, None  # traced anew for this sampler
    try:
        return model.generate(prompts, max_length=longest + max_new_tokens, strip_prompt=True)
    finally:
        model.sampler, model.generate_function = previous, None


def _perplexity_with_keras_hub(model, texts):
    metric = keras_hub.metrics.Perplexity(from_logits=True)
    for start in range(0, len(texts), 64):
        x, y, weights = model.preprocessor(tf.constant(texts[start : start + 64]))
        metric.update_state(y, model(x, training=False), sample_weight=weights)
    return float(metric.result())


def _trim(cache):
    while len(cache) > _CACHED_MODELS:
        cache.popitem(last=False)


def _decoding(model, tokens):
    """The model's `Decoding`, built (and its function traced) once per model."""
    entry = _DECODINGS.get(id(model))
    if entry is None or entry.decoder.model is not model or entry.tokens != tokens:
        entry = Decoding(decoder_for(model), tokens)
        _DECODINGS[id(model)] = entry
        _trim(_DECODINGS)
    _DECODINGS.move_to_end(id(model))
    return entry


def _resolve(model, vectorizer, source_vectorizer, target_vectorizer, decode=True):
    """Everything decoding needs about a model, as a dict (its `Decoding` when `decode`)."""
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
    translates = decoder_class(model).translates  # raises for a model that does not generate
    if translates:
        _check_vectorizer("source_vectorizer", source_vectorizer)
        _check_vectorizer("target_vectorizer", target_vectorizer)
        generated_by = target_vectorizer
        run = {"vectorizer": source_vectorizer, "max_new_tokens": defaults["max_decode_length"]}
    else:
        _check_vectorizer("vectorizer", vectorizer)
        generated_by = vectorizer
        run = {"vectorizer": vectorizer, "max_new_tokens": defaults["max_new_tokens"]}
    tokens = vectorization.vocabulary(generated_by)
    run.update(
        model=model,
        decoding=_decoding(model, tokens) if decode else None,
        tokens=tokens,
        join=_joiner(generated_by),
        max_length=defaults["max_length"],
    )
    outputs = keras.ops.shape(model.output)[-1] if not isinstance(model.output, dict) else None
    if outputs is not None and len(tokens) != outputs:
        raise ValueError(
            "Invalid value for argument vectorizer. Expected a vocabulary of "
            f"{outputs} tokens, the model's output size. "
            f"Received: a vocabulary of {len(tokens)} tokens"
        )
    return run


def _check_context(decoding, token_ids, max_new_tokens):
    """A GPT reads no more than its context: the longest prompt and its continuation must fit."""
    context = decoding.decoder.context
    longest = max(max(len(row) for row in token_ids), 1)
    _check_room(context, longest, max_new_tokens, "the GPT's")


def _check_room(context, longest, max_new_tokens, whose, start=""):
    """The longest prompt (`longest` tokens, with its start token if any) and `max_new_tokens`
    must fit a model's `context`; a prompt that leaves no room is the prompt's error."""
    if not context or longest + max_new_tokens <= context:
        return
    if longest >= context:
        raise ValueError(
            f"Invalid value for argument prompts. Expected prompts shorter than {whose} "
            f"context of {context} tokens (counting the prompt{start}), to leave room for a "
            f"new token. Received: a prompt of {longest} tokens"
        )
    raise ValueError(
        f"Invalid value for argument max_new_tokens. Expected at most {context - longest}: "
        f"{whose} context of {context} tokens minus the longest prompt{start}, {longest} "
        f"tokens. Received: max_new_tokens={max_new_tokens}"
    )


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


def _pad(rows):
    length = max(max(len(row) for row in rows), 1)
    padded = np.zeros((len(rows), length), dtype="int32")
    for i, row in enumerate(rows):
        padded[i, : len(row)] = row
    return padded


def _join(run, ids):
    """The text of generated ids, up to `[end]` for a translation (never padding)."""
    pieces = []
    for i in ids:
        if i == run["decoding"].end_id:
            break
        if i > 0:
            pieces.append(run["tokens"][i])
    return run["join"](pieces)
