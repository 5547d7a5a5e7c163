"""Attention weights of a finished run on one sentence, for `kzoo.plot` and `kzoo attention`.

Two kinds of run have attention to look at:

- an attention seq2seq run (`attention_seq2seq`): the sentence is translated greedily by the
  same in-graph decoder the SavedModel serves, and each output token's attention over the
  source tokens is kept: weights `(target_len, source_len)`;
- a self-attention classifier run (`mha_classifier`): the per-head scores of its
  self-attention on the sentence: weights `(num_heads, len, len)`.

Which models have attention, and where, their families declare (`kzoo.registry`).

Tokens are those the model saw: the run's vectorizer's tokens of the standardized sentence,
`[UNK]` for unknown ones, truncated as in training.
"""

import dataclasses

import keras
import numpy as np

from kzoo.data import vectorization
from kzoo.decoding import Decoding
from kzoo.registry import decoder_for, entry_for, get_model_entry, list_models
from kzoo.runs import load_run


@dataclasses.dataclass(frozen=True)
class Attention:
    """What `attention_for` returns; it unpacks as a 4-tuple `(source_tokens, target_tokens,
    weights, kind)`.

    Attributes:
        source_tokens: list of str. The input tokens.
        target_tokens: list of str. The greedy translation's tokens, ending with `[end]` when
            decoding produced it, for `"seq2seq"`; the input tokens again for
            `"self_attention"`.
        weights: float32 array `(target_len, source_len)` for `"seq2seq"`, `(num_heads, len,
            len)` for `"self_attention"`.
        kind: str. `"seq2seq"` or `"self_attention"`.
        heads: float32 array `(num_heads, target_len, source_len)` or `None`: a multi-head
            translator's weights per head (`weights` is their mean).
    """

    source_tokens: list
    target_tokens: list
    weights: np.ndarray
    kind: str
    heads: np.ndarray = None

    def __iter__(self):
        return iter((self.source_tokens, self.target_tokens, self.weights, self.kind))


def _not_an_attention_run(run_dir, config, why):
    with_attention = [name for name in list_models() if get_model_entry(name).attention]
    raise ValueError(
        "Invalid value for argument run_dir. Expected the run folder of a model with attention "
        f"(a run of {' or '.join(with_attention)}). "
        f"Received: run_dir={run_dir}, a {config['task']} run of model {config['model']!r}, "
        f"{why}"
    )


def _seq2seq_attention(bundle, sentence, entry):
    source, target = bundle.vectorizers["source"], bundle.vectorizers["target"]
    source_ids = vectorization.vectorize(source, [sentence], bundle.max_length)[0]
    # The served decoder's own greedy decoding (on any backend): the picture shows what the
    # SavedModel would answer.
    decoding = Decoding(decoder_for(bundle.model), vectorization.vocabulary(target))
    ids, noted = decoding.translate_greedily(source_ids[None], bundle.max_decode_length)
    ids = keras.ops.convert_to_numpy(ids)[0]
    # Decoding stops after [end] (then emits padding) or after max_decode_length tokens.
    ends = np.flatnonzero(ids == decoding.end_id)
    steps = int(ends[0]) + 1 if len(ends) else max(int(np.count_nonzero(ids)), 1)
    source_vocabulary = vectorization.vocabulary(source)
    target_vocabulary = vectorization.vocabulary(target)
    heads = None
    # The translation read back by teacher forcing: the weights of a model that notes none
    # while decoding (a Transformer's), and a multi-head model's weights per head.
    outputs = entry.attention(bundle.model)(
        {
            "encoder_token_ids": source_ids[None].astype("int32"),
            "decoder_token_ids": np.concatenate([[decoding.start_id], ids[: steps - 1]])[
                None
            ].astype("int32"),
        },
        training=False,
    )
    noted = noted.get("attention", outputs[-1])
    weights = keras.ops.convert_to_numpy(keras.ops.cast(noted, "float32"))[0]
    if len(outputs) > 2:  # a multi-head translator: its weights per head before the mean
        heads = keras.ops.convert_to_numpy(outputs[-2])[0].astype("float32")
    return Attention(
        [source_vocabulary[i] for i in source_ids],
        [target_vocabulary[i] for i in ids[:steps]],
        weights[:steps].astype("float32"),
        "seq2seq",
        heads,
    )


def _self_attention(bundle, sentence, entry):
    model = bundle.model
    max_length = bundle.max_length
    # As the serving signature does: never more tokens than the model reads.
    if entry.input_limit is not None:
        limit = entry.input_limit(model)
        max_length = min(max_length or limit, limit)
    ids = vectorization.vectorize(bundle.vectorizers["text"], [sentence], max_length)[0]
    scores = entry.attention(model)(ids[None], training=False)[-1]
    weights = keras.ops.convert_to_numpy(scores)[0]
    vocabulary = vectorization.vocabulary(bundle.vectorizers["text"])
    tokens = [vocabulary[i] for i in ids]
    return Attention(tokens, list(tokens), weights.astype("float32"), "self_attention")


def attention_for(run_dir, sentence):
    """Computes a finished run's attention on one sentence.

    Args:
        run_dir: str. A finished run folder (`runs/<recipe>`, with `model.keras`,
            `config.json` and the vocabularies) of an attention seq2seq or a self-attention
            classifier.
        sentence: str. The input sentence, raw text as the run's data was.

    Returns:
        An `Attention` tuple `(source_tokens, target_tokens, weights, kind)`; pass seq2seq
        results to `kzoo.plot.attention(source_tokens, target_tokens, weights, path)` and
        self-attention results to `kzoo.plot.attention_heads(source_tokens, weights, path)`.

    Raises:
        ValueError: if `sentence` is not a non-empty string, if `run_dir` is not a finished
            run, or if its model has no attention (a plain seq2seq, an LSTM classifier...).

    Example:

    >>> from kzoo.attention import attention_for
    >>> attention_for("runs/attention_seq2seq", "")
    Traceback (most recent call last):
        ...
    ValueError: Invalid value for argument sentence. Expected a non-empty string. ...

    With a trained run (`kzoo train attention_seq2seq`):

    >>> source, target, weights, kind = attention_for(
    ...     "runs/attention_seq2seq", "Saturday, November 21 2026")  # doctest: +SKIP
    >>> "".join(target), weights.shape  # doctest: +SKIP
    ('2026-11-21[end]', (11, 26))
    """
    if not isinstance(sentence, str) or not sentence.strip():
        raise ValueError(
            "Invalid value for argument sentence. Expected a non-empty string. "
            f"Received: sentence={sentence!r}"
        )
    bundle, config = load_run(run_dir)
    entry = entry_for(bundle.model)
    if entry.attention is None:
        _not_an_attention_run(run_dir, config, "which has no attention layer")
    if bundle.task == "translation":
        return _seq2seq_attention(bundle, sentence, entry)
    if bundle.task == "classification":
        return _self_attention(bundle, sentence, entry)
    return _not_an_attention_run(run_dir, config, "a task without attention to show")
