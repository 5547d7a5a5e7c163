"""One decoding loop for kzoo's generators and translators, in Python and in SavedModels, on
every Keras backend.

A model family that generates text declares a `Decoder` beside its factory: how it starts from
a prompt or a source sentence (its cache: recurrent states, a key/value buffer, the encoder's
outputs) and one step (the previous token and the cache in, the next token's logits and the new
cache out). `Decoding` turns a decoder and its vocabulary into one function, written in
`keras.ops`. On TensorFlow it is a `tf.function` that `kzoo.generate` calls in Python and the
SavedModel signatures call in the graph, so the same seed gives the same text from both. On
JAX and PyTorch the same steps run eagerly, token by token (`loop` and `cond` are Python's
there), and give the same ids as TensorFlow for the same weights with greedy and beam search.

The next token is chosen by one of `SAMPLERS`: greedy; the random
samplers (temperature, top-k, top-p), whose draws are stateless, from the seed and the
position, so that they can be traced into a SavedModel and repeated; and beam search, kzoo's
own, since keras-hub's `BeamSampler` needs its beam count when it is traced and a served
signature takes it as an input. Greedy and random decoding are kzoo's own loop too, as
keras-hub's samplers keep the decoder's cache to themselves (a seq2seq model notes its
attention weights there while it decodes, for the SavedModel to return) and trace their loop on
JAX, where a decoder's step slices at the position it reads.

Padding, `[UNK]` and `[start]` are never generated; a translation that has produced `[end]`
continues with padding at probability 1, so beam search scores a finished translation by its
own tokens, `[end]` included (not by what the model predicts after it).
"""

import keras
import numpy as np
from keras import ops

SAMPLERS = ("greedy", "temperature", "top_k", "top_p", "beam")

# Logit of a token that must never be chosen: probability 0 at any temperature.
NEVER = -np.inf
# A temperature below this would overflow the scaled logits.
_MIN_TEMPERATURE = 1e-6


def _traced():
    """Whether decoding runs as a TensorFlow graph (`tf.function`, SavedModel signatures).

    On JAX and PyTorch it runs eagerly instead, step by step in Python: every index, shape and
    setting is then a concrete value, so decoders slice and loop as plain Python does, and no
    trace is compiled per prompt length.
    """
    return keras.backend.backend() == "tensorflow"


def loop(cond, body, loop_vars, maximum_iterations):
    """`tf.while_loop` in TensorFlow graphs, a Python loop on the other backends."""
    if _traced():
        import tensorflow as tf

        return tf.while_loop(cond, body, loop_vars, maximum_iterations=maximum_iterations)
    for _ in range(int(maximum_iterations)):
        if not bool(cond(*loop_vars)):
            break
        loop_vars = body(*loop_vars)
    return loop_vars


def cond(predicate, true_fn, false_fn):
    """`tf.cond` in TensorFlow graphs, a Python `if` on the other backends."""
    if _traced():
        import tensorflow as tf

        return tf.cond(predicate, true_fn, false_fn)
    return true_fn() if bool(predicate) else false_fn()


def _static(x):
    """`x` as a Python int off TensorFlow (eager shapes and indices are known), else as is."""
    return x if _traced() else int(x)


def _index(x):
    """A position or count the loops take: an int32 tensor in graphs, a Python int eagerly."""
    return ops.cast(x, "int32") if _traced() else int(x)


def _map_rows(fn, elements):
    """`fn` over the rows of `elements` (a tuple of tensors), stacked: int32 rows."""
    if _traced():
        import tensorflow as tf

        return tf.map_fn(fn, elements, fn_output_signature=tf.int32)
    return ops.stack([fn(row) for row in zip(*elements)])


def never_generated(tokens):
    """Ids a model must never generate: padding (0), `[UNK]` (1) and `[start]`."""
    from kzoo.data import vectorization

    return [0, 1] + [i for i, token in enumerate(tokens) if token == vectorization.START]


def empty_prompt_id(tokens):
    """The token an empty prompt starts from: a newline when the vocabulary has one
    (character models), else `[UNK]`."""
    return tokens.index("\n") if "\n" in tokens else 1


class Decoder:
    """What a generator or translator family declares to be decoded one token at a time.

    Subclasses implement `start` and `step` with `keras.ops` (traced on TensorFlow, eager on
    JAX and PyTorch; `cond` for a branch on a tensor), and set `translates` for translators.
    A decoder's cache is any nest of tensors whose first dimension is the batch: beam search
    repeats and reorders it with the beams.

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


def _sampled(temperature, top_k, top_p, seed):
    """`choose(logits, index)` of the seeded samplers: temperature, top-k and top-p in one.

    `top_k` 0 and `top_p` 1 switch their filters off; all four settings may be tensors. The
    draw at position `index` is stateless, from the seed and the position, so the same seed
    gives the same text in any process, in Python and in a SavedModel (on TensorFlow; on JAX
    and PyTorch the same seed gives the same text on that backend).
    """
    temperature = ops.maximum(ops.cast(temperature, "float32"), _MIN_TEMPERATURE)
    top_p = ops.cast(top_p, "float32")

    def choose(logits, index):
        probabilities = ops.softmax(ops.cast(logits, "float32") / temperature, axis=-1)
        vocabulary_size = ops.shape(probabilities)[-1]
        if _traced():
            k = ops.minimum(ops.cast(top_k, "int32"), vocabulary_size)
            kth = ops.top_k(probabilities, k=ops.maximum(k, 1))[0][:, -1:]
            probabilities = ops.where((k > 0) & (probabilities < kth), 0.0, probabilities)
        elif int(top_k) > 0:  # a Python int: JAX's top_k takes no array
            kth = ops.top_k(probabilities, k=min(int(top_k), vocabulary_size))[0][:, -1:]
            probabilities = ops.where(probabilities < kth, 0.0, probabilities)
        # Nucleus: the most likely tokens until their mass reaches top_p.
        ordered = ops.flip(ops.sort(probabilities, axis=-1), axis=-1)
        mass_before = ops.pad(ops.cumsum(ordered, axis=-1)[:, :-1], [[0, 0], [1, 0]])
        kept = ops.where(mass_before < top_p, ordered, 1.0)
        smallest = ops.min(kept, axis=-1, keepdims=True)
        probabilities = ops.where(probabilities < smallest, 0.0, probabilities)
        return _draw(ops.log(probabilities), seed, index)

    return choose


def _draw(log_probabilities, seed, index):
    """One token id per row, drawn from `log_probabilities` with the seed `(seed, index)`."""
    if _traced():
        import tensorflow as tf

        seed = tf.stack([tf.cast(seed, tf.int64), tf.cast(index, tf.int64)])
        return tf.random.stateless_categorical(log_probabilities, 1, seed=seed, dtype=tf.int32)[
            :, 0
        ]
    # Keras' seeds are ints: one per (seed, position), within 32 bits.
    step_seed = (int(seed) * 1_000_003 + int(index)) & 0xFFFFFFFF
    draws = keras.random.categorical(log_probabilities, 1, seed=step_seed, dtype="int32")
    return draws[:, 0]


def _greedy(logits, index):
    return ops.argmax(logits, axis=-1)


def _write(prompt, tokens, index):
    """`prompt` with column `index` replaced by `tokens` `(batch,)`."""
    column = ops.arange(ops.shape(prompt)[1]) == index
    return ops.where(column[None, :], ops.cast(tokens, "int32")[:, None], prompt)


def search(next, prompt, cache, index, mask, choose=_greedy, stop_token_id=None):
    """One token per position from `index` on, chosen by `choose`; returns `(prompt, cache)`.

    `choose(logits, index)` picks each row's token: the most likely by default (greedy), or a
    seeded draw. Positions where `mask` holds keep their prompt token. With `stop_token_id`,
    decoding stops once every row has generated it. As keras-hub's samplers, but the final
    cache comes back (a decoder may note in it what it saw: a seq2seq model's attention
    weights) and the loop runs eagerly off TensorFlow.
    """
    length = ops.shape(prompt)[1]

    def body(prompt, cache, index):
        logits, _, cache = next(prompt, cache, index)
        chosen = ops.cast(choose(logits, index), "int32")
        chosen = ops.where(mask[:, index], prompt[:, index], chosen)
        return _write(prompt, chosen, index), cache, index + 1

    def running(prompt, cache, index):
        if stop_token_id is None:
            return index < length
        ended = ops.any((prompt == stop_token_id) & ~mask, axis=1)
        return (index < length) & ~ops.all(ended)

    start = _index(index)
    prompt, cache, _ = loop(running, body, (prompt, cache, start), length - start)
    return prompt, cache


def greedy_search(next, prompt, cache, index, mask, stop_token_id=None):
    """The most likely token at every position from `index` on; returns `(prompt, cache)`
    (`search` with the greedy choice)."""
    return search(next, prompt, cache, index, mask, _greedy, stop_token_id)


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
    batch, length = ops.shape(prompt)[0], ops.shape(prompt)[1]
    num_beams = _index(num_beams)
    prompt = ops.repeat(prompt, num_beams, axis=0)
    cache = keras.tree.map_structure(lambda x: ops.repeat(x, num_beams, axis=0), cache)
    # Only the first beam of each row is live at first, so the first step keeps distinct tokens.
    first = ops.where(ops.arange(num_beams) == 0, 0.0, -1e9)
    scores = ops.reshape(ops.tile(first[None], [batch, 1]), [-1])

    def body(prompt, cache, index, scores):
        logits, _, cache = next(prompt, cache, index)
        vocabulary_size = ops.shape(logits)[-1]
        log_probabilities = ops.log_softmax(ops.cast(logits, "float32")) + scores[:, None]
        flat = ops.reshape(log_probabilities, [batch, num_beams * vocabulary_size])
        best, chosen = ops.top_k(flat, k=num_beams)
        beams = ops.arange(batch)[:, None] * num_beams + chosen // vocabulary_size
        rows = ops.reshape(beams, [-1])
        prompt = ops.take(prompt, rows, axis=0)
        cache = keras.tree.map_structure(lambda x: ops.take(x, rows, axis=0), cache)
        prompt = _write(prompt, ops.reshape(chosen % vocabulary_size, [-1]), index)
        return prompt, cache, index + 1, ops.reshape(best, [-1])

    def running(prompt, cache, index, scores):
        if stop_token_id is None:
            return index < length
        return (index < length) & ~ops.all(ops.any(prompt == stop_token_id, axis=1))

    start = _index(index)
    prompt, _, _, scores = loop(running, body, (prompt, cache, start, scores), length - start)
    best = ops.cast(ops.argmax(ops.reshape(scores, [batch, num_beams]), axis=1), "int32")
    return ops.take(prompt, ops.arange(batch) * num_beams + best, axis=0)


def _sampling():
    """How much to generate and how to choose each token, as `kzoo.generate` and every `sample`
    signature take them (after their token ids, prompt or text): `SAMPLING`."""
    import tensorflow as tf

    return (
        tf.TensorSpec([], tf.int32, name="max_new_tokens"),
        tf.TensorSpec([], tf.string, name="sampler"),
        tf.TensorSpec([], tf.float32, name="temperature"),
        tf.TensorSpec([], tf.int32, name="top_k"),
        tf.TensorSpec([], tf.float32, name="top_p"),
        tf.TensorSpec([], tf.int32, name="num_beams"),
        tf.TensorSpec([], tf.int64, name="seed"),
    )


def warmup_with_sample(inputs):
    """A generator's or translator's warm-up requests by signature: `inputs` for
    `serving_default`, and the same with `SAMPLING` values (one greedy token, which any
    `max_new_tokens_limit` allows) for `sample`."""
    sampling = {
        "max_new_tokens": np.int32(1),
        "sampler": np.array(b"greedy", dtype=object),
        "temperature": np.float32(1.0),
        "top_k": np.int32(0),
        "top_p": np.float32(1.0),
        "num_beams": np.int32(1),
        "seed": np.int64(1),
    }
    return {"serving_default": inputs, "sample": {**inputs, **sampling}}


def _signature():
    """The inputs of the decoding function: token ids (post-padded prompts, or sources), then
    `SAMPLING`."""
    import tensorflow as tf

    return [tf.TensorSpec([None, None], tf.int32, name="token_ids"), *_sampling()]


def __getattr__(name):
    # `SAMPLING` is made when asked: TensorFlow's specs, while the model modules that import
    # this one also run where TensorFlow is not installed (JAX's GPU images).
    if name == "SAMPLING":
        return _sampling()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Decoding:
    """A decoder, its vocabulary and every sampler, as one function.

    `generate` takes prompt (or source) token ids and the sampler's settings and gives the
    generated ids. On TensorFlow it is the `tf.function` that both `kzoo.generate` and the
    SavedModel signatures call; on JAX and PyTorch the same steps run eagerly (with the
    sampler named by a string).

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
    >>> ids = decoding.generate(np.array([[3, 4]], "int32"), 5, "top_k", 1.0, 2, 1.0, 1, 7)
    >>> tuple(ids.shape)
    (1, 5)
    """

    def __init__(self, decoder, tokens):
        self.decoder = decoder
        self.tokens = list(tokens)
        self.vocabulary_size = len(self.tokens)
        never = np.zeros(self.vocabulary_size, dtype=bool)
        never[never_generated(self.tokens)] = True
        self._never = ops.convert_to_tensor(never)
        self.end_id = None
        if decoder.translates:
            from kzoo.data import vectorization

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
        self.generate = self._function(self._generate)
        self._for_sampler = {}

    @staticmethod
    def _function(fn):
        if _traced():
            import tensorflow as tf

            return tf.function(fn, input_signature=_signature(), autograph=False)
        return fn

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

            self._for_sampler[sampler] = self._function(generate)
        return self._for_sampler[sampler]

    # === One step, the same for every sampler ===

    def _next(self, prompt, cache, index):
        logits, cache = self.decoder.step(prompt[:, index - 1 : index], cache, index)
        logits = ops.where(self._never[None, :], NEVER, ops.cast(logits, "float32"))
        if self.end_id is not None:
            # A finished translation continues with padding, at probability 1.
            finished = ops.any(prompt[:, :index] == self.end_id, axis=1)
            padding = ops.where(ops.arange(self.vocabulary_size) == 0, 0.0, NEVER)
            logits = ops.where(finished[:, None], padding[None, :], logits)
        return logits, None, cache

    # === The decoding function ===

    def _generate(
        self, token_ids, max_new_tokens, sampler, temperature, top_k, top_p, num_beams, seed
    ):
        """Generated ids `(batch, max_new_tokens)`, padded after a translation's `[end]` or
        past a GPT's context.

        `token_ids` are post-padded prompts (language models; an empty one starts from
        `empty_prompt_id`) or source sentences (translators).
        """
        if not _traced():
            token_ids = ops.convert_to_tensor(np.asarray(token_ids, "int32"))
            max_new_tokens = int(max_new_tokens)
            if not isinstance(sampler, str):
                raise ValueError(
                    f"Invalid value for argument sampler. Expected one of {SAMPLERS} as a str "
                    f"off TensorFlow. Received: sampler={sampler}"
                )
        # greedy 0, temperature / top_k / top_p 1 (one seeded sampler), beam 2: a Python int
        # when the sampler is chosen at trace time, else a tensor the graph switches on.
        branches = (0, 1, 1, 1, 2)
        if isinstance(sampler, str):
            branch = branches[SAMPLERS.index(sampler)]
            top_k = top_k if sampler == "top_k" else 0
            top_p = top_p if sampler == "top_p" else 1.0
        else:
            import tensorflow as tf

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
        def greedy():
            return greedy_search(self._next, prompt, cache, index, mask, self.end_id)[0]

        def random():
            choose = _sampled(temperature, top_k, top_p, seed)
            return search(self._next, prompt, cache, index, mask, choose, self.end_id)[0]

        def beam():
            return beam_search(self._next, prompt, cache, index, num_beams, self.end_id)

        choices = [greedy, random, beam]
        if isinstance(branch, int):
            return choices[branch]()
        import tensorflow as tf

        return tf.switch_case(branch, choices)

    def _continue(
        self, token_ids, max_new_tokens, branch, temperature, top_k, top_p, num_beams, seed
    ):
        lengths = ops.sum(ops.cast(token_ids > 0, "int32"), axis=1)
        token_ids = ops.pad(token_ids, [[0, 0], [0, 1]])  # room for an empty prompt's token
        first = ops.arange(ops.shape(token_ids)[1])[None, :] == 0
        token_ids = ops.where(first & (lengths[:, None] == 0), self.empty_prompt_id, token_ids)
        lengths = ops.maximum(lengths, 1)
        total = ops.shape(token_ids)[1] + max_new_tokens
        if self.decoder.context:
            total = ops.minimum(total, self.decoder.context)  # the GPT reads no further
        total = _static(total)
        room = _static(ops.maximum(0, total - ops.shape(token_ids)[1]))
        prompt = ops.pad(token_ids, [[0, 0], [0, room]])
        prompt = prompt[:, :total]

        def together():
            # Rows longer than the shortest keep their prompt tokens where `mask` says so.
            index = _static(ops.min(lengths))
            mask = ops.arange(total)[None, :] < lengths[:, None]
            cache = self.decoder.start(prompt, index)
            return self._choose(
                branch, prompt, cache, index, mask, temperature, top_k, top_p, num_beams, seed
            )

        def one_by_one():
            # Beam search scores every position it writes: each row starts at its own length.
            def row(arguments):
                ids, length = arguments
                length = _static(length)
                # Its own buffer: beam search would otherwise score tokens past the row's end.
                end = _static(ops.minimum(length + max_new_tokens, total))
                ids = ids[None, :end]
                cache = self.decoder.start(ids, length)
                best = beam_search(self._next, ids, cache, length, num_beams)[0]
                return ops.pad(best, [[0, total - end]])

            return _map_rows(row, (prompt, lengths))

        if isinstance(branch, int):
            generated = one_by_one() if branch == 2 else together()
        else:
            generated = cond(ops.equal(branch, 2), one_by_one, together)
        # Each row's continuation: the max_new_tokens tokens after its prompt.
        columns = lengths[:, None] + ops.arange(max_new_tokens)[None, :]
        inside = columns < total
        gathered = ops.take_along_axis(generated, ops.minimum(columns, total - 1), axis=1)
        return ops.where(inside, gathered, 0)

    def _translation_buffer(self, source, max_new_tokens, extras=False):
        """`(prompt, mask, cache, steps)`: `[start]` and room for the translation, within the
        positions a model with position embeddings covers (`steps` tokens of it)."""
        batch = ops.shape(source)[0]
        if self.decoder.context:
            max_new_tokens = _static(ops.minimum(max_new_tokens, self.decoder.context - 1))
        prompt = ops.concatenate(
            [
                ops.full([batch, 1], self.start_id, dtype="int32"),
                ops.zeros([batch, max_new_tokens], "int32"),
            ],
            axis=1,
        )
        mask = ops.concatenate(
            [ops.ones([batch, 1], "bool"), ops.zeros([batch, max_new_tokens], "bool")], axis=1
        )
        return prompt, mask, self.decoder.start(prompt, 1, source, extras), max_new_tokens

    def _translate(
        self, source, max_new_tokens, branch, temperature, top_k, top_p, num_beams, seed
    ):
        prompt, mask, cache, steps = self._translation_buffer(source, max_new_tokens)
        generated = self._choose(
            branch, prompt, cache, 1, mask, temperature, top_k, top_p, num_beams, seed
        )
        return ops.pad(generated[:, 1:], [[0, 0], [0, max_new_tokens - steps]])

    def translate_greedily(self, source, max_new_tokens):
        """Greedy translations `(batch, max_new_tokens)` of source ids, and what the decoder
        noted while decoding (`Decoder.extras`, cut to the same width): the ids `generate`
        gives with the greedy sampler. For a translator's SavedModel endpoints."""
        prompt, mask, cache, steps = self._translation_buffer(source, max_new_tokens, True)
        generated, cache = greedy_search(self._next, prompt, cache, 1, mask, self.end_id)
        padding = [[0, 0], [0, max_new_tokens - steps]]
        extras = {
            name: ops.pad(value[:, :steps], padding + [[0, 0]] * (len(value.shape) - 2))
            for name, value in self.decoder.extras(cache).items()
        }
        return ops.pad(generated[:, 1:], padding), extras
