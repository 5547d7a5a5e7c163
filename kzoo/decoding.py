"""One decoding loop for kzoo's generators and translators, in Python and in SavedModels.

A model family that generates text declares a `Decoder` beside its factory: how it starts from
a prompt or a source sentence (its cache: recurrent states, a key/value buffer, the encoder's
outputs) and one step (the previous token and the cache in, the next token's logits and the new
cache out). `Decoding` turns a decoder and its vocabulary into one `tf.function` that
`kzoo.generate` calls in Python and the SavedModel signatures call in the graph, so the same
seed gives the same text from both.

The next token is chosen by one of `SAMPLERS`: greedy; the random
samplers (temperature, top-k, top-p), whose draws are stateless, from the seed and the
position, so that they can be traced into a SavedModel and repeated; and beam search, kzoo's
own, since keras-hub's `BeamSampler` needs its beam count when it is traced and a served
signature takes it as an input. Greedy decoding is kzoo's own loop too, as keras-hub's
`GreedySampler` keeps the decoder's cache to itself: a seq2seq model notes its attention
weights there while it decodes, for the SavedModel to return.

Padding, `[UNK]` and `[start]` are never generated; a translation that has produced `[end]`
continues with padding at probability 1, so beam search scores a finished translation by its
own tokens, `[end]` included (not by what the model predicts after it).
"""

import keras_hub
import numpy as np
import tensorflow as tf

from kzoo.data import vectorization

SAMPLERS = ("greedy", "temperature", "top_k", "top_p", "beam")

# Logit of a token that must never be chosen: probability 0 at any temperature.
NEVER = -np.inf
# A temperature below this would overflow the scaled logits.
_MIN_TEMPERATURE = 1e-6


def never_generated(tokens):
    """Ids a model must never generate: padding (0), `[UNK]` (1) and `[start]`."""
    return [0, 1] + [i for i, token in enumerate(tokens) if token == vectorization.START]


def empty_prompt_id(tokens):
    """The token an empty prompt starts from: a newline when the vocabulary has one
    (character models), else `[UNK]`."""
    return tokens.index("\n") if "\n" in tokens else 1


class Decoder:
    """What a generator or translator family declares to be decoded one token at a time.

    Subclasses implement `start` and `step` with TensorFlow ops (they are traced), and set
    `translates` for translators. A decoder's cache is any nest of tensors whose first
    dimension is the batch: beam search repeats and reorders it with the beams.

    Args:
        model: the family's `keras.Model`.

    Attributes:
        translates: bool. `True` for translators: `start` reads a source sentence and decoding
            begins at `[start]`.
        context: int or `None`. Most positions the model can read (a GPT's), or unlimited.
    """

    translates = False
    context = None

    def __init__(self, model):
        self.model = model

    def start(self, prompt, index, source=None, extras=False):
        """The cache before position `index - 1` of `prompt` is read.

        Args:
            prompt: int32 `(batch, length)`: prompt tokens, post-padded to the buffer's length.
            index: int32 scalar. The first position to generate (every row's prompt is at
                least that long); `step` next reads the token at `index - 1`.
            source: int32 `(batch, source_length)` for translators: the source token ids.
            extras: bool. Also note, while decoding, what `extras` returns.
        """
        raise NotImplementedError

    def step(self, token_ids, cache, index):
        """`(logits (batch, vocabulary) float32, new cache)` after reading `token_ids`
        `(batch, 1)`, the tokens at position `index - 1`."""
        raise NotImplementedError

    def extras(self, cache):
        """What the decoder noted in its cache while decoding, by name: for a seq2seq model
        with attention, the weights `(batch, buffer length, source length)` of each output
        token (row `i` for the token at position `i + 1`). None by default."""
        return {}


def _repeat(x, times):
    return tf.repeat(x, times, axis=0)


class _SeededSampler(keras_hub.samplers.Sampler):
    """Temperature, top-k and top-p sampling in one, with stateless draws.

    The draw at position `index` uses the seed `(seed, index)`, so the same seed gives the same
    text in any process, in Python and in a SavedModel. `top_k` 0 and `top_p` 1 switch their
    filters off; all four parameters may be tensors.
    """

    def __init__(self, temperature, top_k, top_p, seed):
        super().__init__(temperature=tf.maximum(tf.cast(temperature, tf.float32), _MIN_TEMPERATURE))
        self.top_k, self.top_p, self.seed = top_k, tf.cast(top_p, tf.float32), seed
        self._index = None

    def __call__(self, next, prompt, **kwargs):
        def next_at(prompt, cache, index):
            self._index = index  # the position this step's draw is for
            return next(prompt, cache, index)

        return super().__call__(next_at, prompt, **kwargs)

    def get_next_token(self, probabilities):
        vocabulary_size = tf.shape(probabilities)[-1]
        k = tf.minimum(tf.cast(self.top_k, tf.int32), vocabulary_size)
        kth = tf.math.top_k(probabilities, k=tf.maximum(k, 1)).values[:, -1:]
        probabilities = tf.where((k > 0) & (probabilities < kth), 0.0, probabilities)
        # Nucleus: the most likely tokens until their mass reaches top_p.
        ordered = tf.sort(probabilities, axis=-1, direction="DESCENDING")
        mass_before = tf.cumsum(ordered, axis=-1, exclusive=True)
        kept = tf.where(mass_before < self.top_p, ordered, 1.0)
        smallest = tf.reduce_min(kept, axis=-1, keepdims=True)
        probabilities = tf.where(probabilities < smallest, 0.0, probabilities)
        seed = tf.stack([tf.cast(self.seed, tf.int64), tf.cast(self._index, tf.int64)])
        return tf.random.stateless_categorical(
            tf.math.log(probabilities), 1, seed=seed, dtype=tf.int32
        )[:, 0]


# How much to generate and how to choose each token, as `kzoo.generate` and every `sample`
# signature take them (after their token ids, prompt or text).
SAMPLING = (
    tf.TensorSpec([], tf.int32, name="max_new_tokens"),
    tf.TensorSpec([], tf.string, name="sampler"),
    tf.TensorSpec([], tf.float32, name="temperature"),
    tf.TensorSpec([], tf.int32, name="top_k"),
    tf.TensorSpec([], tf.float32, name="top_p"),
    tf.TensorSpec([], tf.int32, name="num_beams"),
    tf.TensorSpec([], tf.int64, name="seed"),
)
# The inputs of the decoding function: token ids (post-padded prompts, or sources), then
# `SAMPLING`.
_SIGNATURE = [tf.TensorSpec([None, None], tf.int32, name="token_ids"), *SAMPLING]


def greedy_search(next, prompt, cache, index, mask, stop_token_id=None):
    """The most likely token at every position from `index` on; returns `(prompt, cache)`.

    Positions where `mask` holds keep their prompt token. With `stop_token_id`, decoding stops
    once every row holds it. As keras-hub's `GreedySampler`, but the final cache comes back:
    a decoder may note in it what it saw (a seq2seq model's attention weights).
    """
    length = tf.shape(prompt)[1]

    def body(prompt, cache, index):
        logits, _, cache = next(prompt, cache, index)
        chosen = tf.argmax(logits, axis=-1, output_type=prompt.dtype)
        chosen = tf.where(mask[:, index], prompt[:, index], chosen)
        column = tf.one_hot(index, length, on_value=True, off_value=False, dtype=tf.bool)
        return tf.where(column[None, :], chosen[:, None], prompt), cache, index + 1

    def cond(prompt, cache, index):
        if stop_token_id is None:
            return index < length
        ended = tf.reduce_any((prompt == stop_token_id) & ~mask, axis=1)
        return (index < length) & ~tf.reduce_all(ended)

    prompt, cache, _ = tf.while_loop(
        cond, body, (prompt, cache, tf.cast(index, tf.int32)), maximum_iterations=length - index
    )
    return prompt, cache


def beam_search(next, prompt, cache, index, num_beams, stop_token_id=None):
    """Keeps the `num_beams` most likely sequences of each row; returns the best.

    Positions before `index` are the prompt; from `index` on, each step extends every beam by
    its most likely tokens and keeps the `num_beams` best of all extensions (scored by their
    summed log-probabilities). With `stop_token_id`, decoding stops once every beam of every
    row holds it. `num_beams` may be a tensor.

    Args:
        next: callable. `next(prompt, cache, index)` returns `(logits, _, cache)` for the token
            at `index`.
        prompt: int32 `(batch, length)`, the buffer the beams are written into.
        cache: the decoder's cache for `prompt`'s rows.
        index: int32 scalar. The first position to generate.
        num_beams: int. Beams kept per row.
        stop_token_id: int or `None`.

    Returns:
        int32 `(batch, length)`: each row's best beam.
    """
    batch, length = tf.shape(prompt)[0], tf.shape(prompt)[1]
    num_beams = tf.cast(num_beams, tf.int32)
    prompt = _repeat(prompt, num_beams)
    cache = tf.nest.map_structure(lambda x: _repeat(x, num_beams), cache)
    # Only the first beam of each row is live at first, so the first step keeps distinct tokens.
    first = tf.where(tf.range(num_beams) == 0, 0.0, -1e9)
    scores = tf.reshape(tf.tile(first[None], [batch, 1]), [-1])

    def body(prompt, cache, index, scores):
        logits, _, cache = next(prompt, cache, index)
        vocabulary_size = tf.shape(logits)[-1]
        log_probabilities = tf.nn.log_softmax(tf.cast(logits, tf.float32)) + scores[:, None]
        flat = tf.reshape(log_probabilities, [batch, num_beams * vocabulary_size])
        best, chosen = tf.math.top_k(flat, k=num_beams)
        rows = tf.reshape(tf.range(batch)[:, None] * num_beams + chosen // vocabulary_size, [-1])
        prompt = tf.gather(prompt, rows)
        cache = tf.nest.map_structure(lambda x: tf.gather(x, rows), cache)
        tokens = tf.cast(tf.reshape(chosen % vocabulary_size, [-1]), prompt.dtype)
        column = tf.one_hot(index, length, on_value=True, off_value=False, dtype=tf.bool)
        prompt = tf.where(column[None, :], tokens[:, None], prompt)
        return prompt, cache, index + 1, tf.reshape(best, [-1])

    def cond(prompt, cache, index, scores):
        if stop_token_id is None:
            return index < length
        return (index < length) & ~tf.reduce_all(tf.reduce_any(prompt == stop_token_id, axis=1))

    prompt, _, _, scores = tf.while_loop(
        cond,
        body,
        (prompt, cache, tf.cast(index, tf.int32), scores),
        maximum_iterations=length - tf.cast(index, tf.int32),
    )
    best = tf.argmax(tf.reshape(scores, [batch, num_beams]), axis=1, output_type=tf.int32)
    return tf.gather(prompt, tf.range(batch) * num_beams + best)


class Decoding:
    """A decoder, its vocabulary and every sampler, as one traced function.

    `generate` is the `tf.function` that both `kzoo.generate` and the SavedModel signatures
    call: prompt (or source) token ids and the sampler's settings in, the generated ids out.

    Args:
        decoder: the model family's `Decoder`.
        tokens: list of str. The vocabulary of the generated tokens (the target vocabulary of
            a translator), which must hold `[start]` and `[end]` for translators.

    Example:

    >>> import kzoo
    >>> from kzoo.data import vectorization
    >>> from kzoo.registry import decoder_for
    >>> vectorizer = vectorization.make_vectorizer(["hello"], split="character",
    ...                                            standardize=None)
    >>> tokens = vectorization.vocabulary(vectorizer)
    >>> model = kzoo.build_rnn_generator(vocabulary_size=len(tokens), units=4)
    >>> decoding = Decoding(decoder_for(model), tokens)
    >>> ids = decoding.generate(tf.constant([[3, 4]]), 5, "top_k", 1.0, 2, 1.0, 1, 7)
    >>> ids.shape
    TensorShape([1, 5])
    """

    def __init__(self, decoder, tokens):
        self.decoder = decoder
        self.tokens = list(tokens)
        self.vocabulary_size = len(self.tokens)
        never = np.zeros(self.vocabulary_size, dtype=bool)
        never[never_generated(self.tokens)] = True
        self._never = tf.constant(never)
        self.end_id = None
        if decoder.translates:
            for reserved in (vectorization.START, vectorization.END):
                if reserved not in self.tokens:
                    raise ValueError(
                        "Invalid value for argument tokens. Expected a target vocabulary with "
                        f"the reserved tokens {vectorization.START} and {vectorization.END}. "
                        f"Received: a vocabulary without {reserved}"
                    )
            self.start_id = self.tokens.index(vectorization.START)
            self.end_id = self.tokens.index(vectorization.END)
        self.empty_prompt_id = empty_prompt_id(self.tokens)
        # The sampler as an input: one graph holds every sampler (a served `sample`).
        self.generate = tf.function(self._generate, input_signature=_SIGNATURE, autograph=False)
        self._for_sampler = {}

    def for_sampler(self, sampler):
        """`generate` for one sampler chosen now, which only that sampler's loop is traced
        into (faster to run than choosing in the graph); it takes the same inputs, and the
        `sampler` input must be `sampler`. The same inputs give the same ids as `generate`."""
        if sampler not in SAMPLERS:
            raise ValueError(
                f"Invalid value for argument sampler. Expected one of {SAMPLERS}. "
                f"Received: sampler={sampler}"
            )
        if sampler not in self._for_sampler:

            def generate(token_ids, max_new_tokens, _, *settings):
                return self._generate(token_ids, max_new_tokens, sampler, *settings)

            self._for_sampler[sampler] = tf.function(
                generate, input_signature=_SIGNATURE, autograph=False
            )
        return self._for_sampler[sampler]

    # === One step, the same for every sampler ===

    def _next(self, prompt, cache, index):
        logits, cache = self.decoder.step(prompt[:, index - 1 : index], cache, index)
        logits = tf.where(self._never[None, :], NEVER, tf.cast(logits, tf.float32))
        if self.end_id is not None:
            # A finished translation continues with padding, at probability 1.
            finished = tf.reduce_any(tf.equal(prompt[:, :index], self.end_id), axis=1)
            padding = tf.one_hot(0, self.vocabulary_size, on_value=0.0, off_value=NEVER)
            logits = tf.where(finished[:, None], padding[None, :], logits)
        return logits, None, cache

    # === The traced function ===

    def _generate(
        self, token_ids, max_new_tokens, sampler, temperature, top_k, top_p, num_beams, seed
    ):
        """Generated ids `(batch, max_new_tokens)`, padded after a translation's `[end]` or
        past a GPT's context.

        `token_ids` are post-padded prompts (language models; an empty one starts from
        `empty_prompt_id`) or source sentences (translators).
        """
        # greedy 0, temperature / top_k / top_p 1 (one seeded sampler), beam 2: a Python int
        # when the sampler is chosen at trace time, else a tensor the graph switches on.
        branches = (0, 1, 1, 1, 2)
        if isinstance(sampler, str):
            branch = branches[SAMPLERS.index(sampler)]
            top_k = top_k if sampler == "top_k" else 0
            top_p = top_p if sampler == "top_p" else 1.0
        else:
            names = tf.constant(SAMPLERS)
            tf.debugging.assert_equal(
                tf.reduce_any(tf.equal(names, sampler)),
                True,
                message=f"Invalid value for input sampler. Expected one of {list(SAMPLERS)}",
            )
            choice = tf.argmax(tf.cast(tf.equal(names, sampler), tf.int32), output_type=tf.int32)
            branch = tf.gather(tf.constant(branches), choice)
            top_k = tf.where(tf.equal(sampler, "top_k"), top_k, 0)
            top_p = tf.where(tf.equal(sampler, "top_p"), top_p, 1.0)
        if self.decoder.translates:
            return self._translate(
                token_ids, max_new_tokens, branch, temperature, top_k, top_p, num_beams, seed
            )
        return self._continue(
            token_ids, max_new_tokens, branch, temperature, top_k, top_p, num_beams, seed
        )

    def _choose(
        self, branch, prompt, cache, index, mask, temperature, top_k, top_p, num_beams, seed
    ):
        stop = None if self.end_id is None else [self.end_id]

        def greedy():
            return greedy_search(self._next, prompt, cache, index, mask, self.end_id)[0]

        def random():
            sampler = _SeededSampler(temperature, top_k, top_p, seed)
            return sampler(
                self._next, prompt, cache=cache, index=index, mask=mask, stop_token_ids=stop
            )

        def beam():
            return beam_search(self._next, prompt, cache, index, num_beams, self.end_id)

        choices = [greedy, random, beam]
        if isinstance(branch, int):
            return choices[branch]()
        return tf.switch_case(branch, choices)

    def _continue(
        self, token_ids, max_new_tokens, branch, temperature, top_k, top_p, num_beams, seed
    ):
        lengths = tf.reduce_sum(tf.cast(token_ids > 0, tf.int32), axis=1)
        token_ids = tf.pad(token_ids, [[0, 0], [0, 1]])  # room for an empty prompt's token
        first = tf.range(tf.shape(token_ids)[1])[None, :] == 0
        token_ids = tf.where(first & (lengths[:, None] == 0), self.empty_prompt_id, token_ids)
        lengths = tf.maximum(lengths, 1)
        total = tf.shape(token_ids)[1] + max_new_tokens
        if self.decoder.context:
            total = tf.minimum(total, self.decoder.context)  # the GPT reads no further
        prompt = tf.pad(token_ids, [[0, 0], [0, tf.maximum(0, total - tf.shape(token_ids)[1])]])
        prompt = prompt[:, :total]

        def together():
            # Rows longer than the shortest keep their prompt tokens where `mask` says so.
            index = tf.reduce_min(lengths)
            mask = tf.range(total)[None, :] < lengths[:, None]
            cache = self.decoder.start(prompt, index)
            return self._choose(
                branch, prompt, cache, index, mask, temperature, top_k, top_p, num_beams, seed
            )

        def one_by_one():
            # Beam search scores every position it writes: each row starts at its own length.
            def row(arguments):
                ids, length = arguments
                # Its own buffer: beam search would otherwise score tokens past the row's end.
                end = tf.minimum(length + max_new_tokens, total)
                ids = ids[None, :end]
                cache = self.decoder.start(ids, length)
                best = beam_search(self._next, ids, cache, length, num_beams)[0]
                return tf.pad(best, [[0, total - end]])

            return tf.map_fn(row, (prompt, lengths), fn_output_signature=tf.int32)

        if isinstance(branch, int):
            generated = one_by_one() if branch == 2 else together()
        else:
            generated = tf.cond(tf.equal(branch, 2), one_by_one, together)
        # Each row's continuation: the max_new_tokens tokens after its prompt.
        columns = lengths[:, None] + tf.range(max_new_tokens)[None, :]
        inside = columns < total
        gathered = tf.gather(generated, tf.minimum(columns, total - 1), batch_dims=1)
        return tf.where(inside, gathered, 0)

    def _translation_buffer(self, source, max_new_tokens, extras=False):
        """`(prompt, mask, cache, steps)`: `[start]` and room for the translation, within the
        positions a model with position embeddings covers (`steps` tokens of it)."""
        batch = tf.shape(source)[0]
        if self.decoder.context:
            max_new_tokens = tf.minimum(max_new_tokens, self.decoder.context - 1)
        prompt = tf.concat(
            [tf.fill([batch, 1], self.start_id), tf.zeros([batch, max_new_tokens], tf.int32)],
            axis=1,
        )
        mask = tf.concat(
            [tf.ones([batch, 1], tf.bool), tf.zeros([batch, max_new_tokens], tf.bool)], axis=1
        )
        return prompt, mask, self.decoder.start(prompt, 1, source, extras), max_new_tokens

    def _translate(
        self, source, max_new_tokens, branch, temperature, top_k, top_p, num_beams, seed
    ):
        prompt, mask, cache, steps = self._translation_buffer(source, max_new_tokens)
        generated = self._choose(
            branch, prompt, cache, 1, mask, temperature, top_k, top_p, num_beams, seed
        )
        return tf.pad(generated[:, 1:], [[0, 0], [0, max_new_tokens - steps]])

    def translate_greedily(self, source, max_new_tokens):
        """Greedy translations `(batch, max_new_tokens)` of source ids, and what the decoder
        noted while decoding (`Decoder.extras`, cut to the same width): the ids `generate`
        gives with the greedy sampler. For a translator's SavedModel endpoints."""
        prompt, mask, cache, steps = self._translation_buffer(source, max_new_tokens, True)
        generated, cache = greedy_search(self._next, prompt, cache, 1, mask, self.end_id)
        padding = [[0, 0], [0, max_new_tokens - steps]]
        extras = {
            name: tf.pad(value[:, :steps], padding + [[0, 0]] * (len(value.shape) - 2))
            for name, value in self.decoder.extras(cache).items()
        }
        return tf.pad(generated[:, 1:], padding), extras
