"""How much faster is generation that carries its state than generation that re-reads the prefix?

Three generators at their recipes' default sizes, random weights (speed does not depend on
training), greedy decoding, the same process and prompts side by side:

- RNN generator (Embedding 64 → LSTM 256, 100-character vocabulary) and GPT (4 layers, 4 heads,
  width 128, context 256): `kzoo.generate`, which carries the LSTM states or the key/value
  cache inside one compiled loop, against re-running the model on the whole growing prefix
  for every new token and taking the argmax of the last step. That is done two ways: with
  `model.predict(prefix)` per token, as the text-generation documents do, and with a compiled
  `model(prefix)` call per token, the fastest way to re-run the prefix.
- Attention seq2seq (Embedding 64, LSTM 256, dot attention): `kzoo.generate`'s batched greedy
  decoding in one compiled loop, against keras-io's lstm_seq2seq decoding: one sentence at a
  time, `encoder.predict`, then `decoder.predict` once per output token; and, in between, a
  Python loop over steps that calls the compiled one-step decoder on the whole batch.

Targets: carried state ≥ 10× the documents' way for the RNN, cache ≥ 5× for the GPT, in-graph
batched decoding ≥ 20× keras-io's loop in sentences/s for seq2seq.
"""

import os
import string
import time

import numpy as np
import tensorflow as tf

from benchmarks.harness import Report

NAME = "generation"
TITLE = "Generation speed: carried state and caches vs re-running the prefix"
TARGETS = {"rnn": 10.0, "gpt": 5.0, "seq2seq": 20.0}
PROMPT_LENGTH, SOURCE_LENGTH = 8, 20


def _settings(args):
    if args.quick:
        return dict(new_tokens=30, batches=(1, 8), decode_length=12, keras_io_sentences=1)
    return dict(new_tokens=200, batches=(1, 32), decode_length=32, keras_io_sentences=3)


def _timed(function, repeats=1):
    """Median wall seconds of `repeats` calls (after the caller's warm-up)."""
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - started)
    return float(np.median(seconds))


def _random_texts(rng, alphabet, count, length):
    return ["".join(rng.choice(list(alphabet), length)) for _ in range(count)]


# === Language models: carried state or cache vs the whole prefix each token ===


def _full_prefix_predict(model, prompt_ids, new_tokens):
    ids = prompt_ids
    for _ in range(new_tokens):
        logits = model.predict(ids, verbose=0)[:, -1]
        ids = np.concatenate([ids, np.argmax(logits, axis=-1)[:, None].astype("int32")], axis=1)
    return ids


def _full_prefix_compiled(forward, prompt_ids, new_tokens):
    ids = tf.constant(prompt_ids)
    for _ in range(new_tokens):
        next_ids = tf.argmax(forward(ids)[:, -1], axis=-1, output_type=tf.int32)
        ids = tf.concat([ids, next_ids[:, None]], axis=1)
    return ids.numpy()


def _language_model_rows(kind, model, vectorizer, settings, rng):
    import kzoo
    from kzoo.data import vectorization

    forward = tf.function(
        lambda ids: model(ids, training=False),
        input_signature=[tf.TensorSpec([None, None], tf.int32)],
    )
    rows = []
    new_tokens = settings["new_tokens"]
    for batch in settings["batches"]:
        prompts = _random_texts(rng, string.ascii_lowercase + " ", batch, PROMPT_LENGTH)
        prompt_ids = np.stack(vectorization.vectorize(vectorizer, prompts))

        def generate(prompts=prompts):
            return kzoo.generate(model, prompts, new_tokens, vectorizer=vectorizer)

        # Warm-up: trace the compiled loop, the forward pass and predict's function.
        generate()
        _full_prefix_compiled(forward, prompt_ids, 2)
        _full_prefix_predict(model, prompt_ids, 3)
        carried = "state" if kind == "rnn" else "key/value cache"
        methods = [
            (
                "re-run prefix: model.predict per token (documents)",
                1,
                lambda ids=prompt_ids: _full_prefix_predict(model, ids, new_tokens),
            ),
            (
                "re-run prefix: compiled model(prefix) per token",
                1,
                lambda ids=prompt_ids: _full_prefix_compiled(forward, ids, new_tokens),
            ),
            (f"kzoo.generate: carried {carried}, one compiled loop", 5, generate),
        ]
        rates = []
        for name, repeats, function in methods:
            seconds = _timed(function, repeats)
            rates.append((name, seconds, batch * new_tokens / seconds))
        rows += _rows(kind, batch, rates, "tokens/s")
    return rows


def _rows(kind, batch, rates, unit):
    """Table rows: each baseline with kzoo's speed-up over it; the last rate is kzoo's."""
    kzoo_rate = rates[-1][2]
    rows = []
    for i, (name, seconds, rate) in enumerate(rates):
        speedup = kzoo_rate / rate
        target = TARGETS[kind] if i == 0 else None
        rows.append(
            [
                {"rnn": "RNN generator", "gpt": "GPT", "seq2seq": "attention seq2seq"}[kind],
                batch,
                name,
                round(seconds, 3),
                f"{rate:,.1f} {unit}",
                "—" if i == len(rates) - 1 else f"{speedup:.1f}×",
                f"≥ {target:g}×" if target else "",
                ("PASS" if speedup >= target else "MISS") if target else "",
            ]
        )
    return rows


# === Seq2seq: in-graph batched decoding vs a Python loop per token ===


def _keras_io_decode(encoder, decoder, source_ids, start_id, end_id, decode_length):
    """keras-io's lstm_seq2seq `decode_sequence`, for each sentence in turn."""
    outputs = []
    for row in source_ids:
        state = encoder.predict({"encoder_token_ids": row[None]}, verbose=0)
        token, decoded = np.array([[start_id]], dtype="int32"), []
        while len(decoded) < decode_length:
            out = decoder.predict({**state, "decoder_token_ids": token}, verbose=0)
            chosen = int(np.argmax(out["logits"][0, -1]))
            if chosen == end_id:
                break
            decoded.append(chosen)
            state = {**state, "state_h": out["state_h"], "state_c": out["state_c"]}
            token = np.array([[chosen]], dtype="int32")
        outputs.append(decoded)
    return outputs


def _batched_python_loop(encoder_step, decoder_step, source_ids, start_id, decode_length):
    state = encoder_step(tf.constant(source_ids))
    token = tf.fill([len(source_ids), 1], start_id)
    for _ in range(decode_length):
        out = decoder_step({**state, "decoder_token_ids": token})
        state = {**state, "state_h": out["state_h"], "state_c": out["state_c"]}
        token = tf.argmax(out["logits"][:, -1], axis=-1, output_type=tf.int32)[:, None]
    return token


def _seq2seq_rows(model, source_vectorizer, target_vectorizer, settings, rng):
    import kzoo
    from kzoo.data import vectorization
    from kzoo.models.seq2seq import seq2seq_inference_models

    tokens = vectorization.vocabulary(target_vectorizer)
    start_id, end_id = tokens.index(vectorization.START), tokens.index(vectorization.END)
    # Random weights would stop at [end] at random; forbidding it makes every method decode
    # exactly `decode_length` tokens per sentence.
    bias = model.get_layer("logits").bias
    bias.assign(bias - 1e4 * np.eye(len(tokens), dtype="float32")[end_id])
    encoder, decoder = seq2seq_inference_models(model)
    encoder_step = tf.function(
        lambda ids: encoder({"encoder_token_ids": ids}, training=False),
        input_signature=[tf.TensorSpec([None, None], tf.int32)],
    )
    decoder_step = tf.function(lambda inputs: decoder(inputs, training=False))
    length = settings["decode_length"]
    rows = []
    for batch in settings["batches"]:
        sources = _random_texts(rng, string.ascii_lowercase + " 0123456789", batch, SOURCE_LENGTH)
        source_ids = np.stack(vectorization.vectorize(source_vectorizer, sources))

        def generate(sources=sources):
            return kzoo.generate(
                model,
                sources,
                length,
                source_vectorizer=source_vectorizer,
                target_vectorizer=target_vectorizer,
            )

        assert all(len(text) == length for text in generate())  # warm-up and check
        _batched_python_loop(encoder_step, decoder_step, source_ids, start_id, 2)
        _keras_io_decode(encoder, decoder, source_ids[:1], start_id, end_id, 2)
        # keras-io decodes one sentence after the other: its rate does not depend on how many
        # it decodes, so it is measured on the batch's first few.
        keras_io_count = min(batch, settings["keras_io_sentences"])
        methods = [
            (
                "keras-io loop: one sentence at a time, decoder.predict per token",
                1,
                lambda ids=source_ids[:keras_io_count]: _keras_io_decode(
                    encoder, decoder, ids, start_id, end_id, length
                ),
            ),
            (
                "batched Python loop: compiled decoder step per token",
                5,
                lambda ids=source_ids: _batched_python_loop(
                    encoder_step, decoder_step, ids, start_id, length
                ),
            ),
            ("kzoo.generate: batched greedy decoding in one compiled loop", 5, generate),
        ]
        rates = []
        for (name, repeats, function), count in zip(methods, [keras_io_count, batch, batch]):
            seconds = _timed(function, repeats)
            rates.append((name, seconds, count / seconds))
        rows += _rows("seq2seq", batch, rates, "sentences/s")
    return rows


def run(args):
    import keras

    import kzoo
    from kzoo.data import vectorization

    settings = _settings(args)
    # Timings on a shared machine move with its load: the results file records it.
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    cases = args.only or ["rnn", "gpt", "seq2seq"]
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    # A 100-character vocabulary, about the size of the embedded prose's or Shakespeare's.
    characters = vectorization.make_vectorizer(
        [string.printable], split="character", standardize=None
    )
    size = characters.vocabulary_size()
    rows = []
    if "rnn" in cases:
        # recipes/rnn_generator.py
        model = kzoo.build_rnn_generator(
            vocabulary_size=size, embedding_dim=64, units=256, rnn="lstm"
        )
        rows += _language_model_rows("rnn", model, characters, settings, rng)
    if "gpt" in cases:
        # recipes/gpt.py, with the factory's 256-token context so that 200 new tokens fit.
        model = kzoo.build_gpt(
            vocabulary_size=size,
            max_sequence_length=256,
            num_layers=4,
            num_heads=4,
            hidden_dim=128,
            intermediate_dim=512,
            dropout=0.1,
        )
        rows += _language_model_rows("gpt", model, characters, settings, rng)
    if "seq2seq" in cases:
        # recipes/attention_seq2seq.py, date-sized vocabularies.
        source = vectorization.make_vectorizer(
            [string.ascii_lowercase + " 0123456789,"], "character"
        )
        target = vectorization.make_vectorizer(
            ["0123456789-"], "character", reserved_tokens=[vectorization.START, vectorization.END]
        )
        model = kzoo.build_attention_seq2seq(
            source_vocabulary_size=source.vocabulary_size(),
            target_vocabulary_size=target.vocabulary_size(),
            embedding_dim=64,
            latent_dim=256,
            attention="dot",
        )
        rows += _seq2seq_rows(model, source, target, settings, rng)
    return Report(
        columns=[
            "model",
            "batch",
            "method",
            "seconds",
            "throughput",
            "kzoo.generate's speed-up over it",
            "target",
            "result",
        ],
        rows=rows,
        notes=[
            f"Greedy decoding, random weights, seed 0. Language models continue {PROMPT_LENGTH}-"
            f"character prompts by {settings['new_tokens']} tokens; throughput is new tokens "
            "per second over the batch. Seq2seq decodes "
            f"{SOURCE_LENGTH}-character sources into exactly {settings['decode_length']} "
            "tokens ([end] is forbidden so every method does the same work); throughput is "
            "sentences per second. Every method is warmed up (traced) before timing; "
            "kzoo.generate and the batched loop, which take well under a second, are timed "
            "as the median of 5 runs, the others once. The target applies to the documents' "
            "way (the first row of each group).",
            "kzoo.generate's times include tokenizing the prompts and joining the output text; "
            "the baselines start from token ids and stop at ids. keras-io's loop decodes one "
            "sentence after another, so its rate is measured on the first "
            f"{settings['keras_io_sentences']} sentences of a batch (its seconds are for those).",
            "The middle row of each group separates the causes. For the language models it "
            "re-runs the prefix without predict's per-call overhead, so kzoo's speed-up over it "
            "is what carrying the state or cache alone brings. For seq2seq it is batched but "
            "keeps the loop in Python, so kzoo's speed-up over it is what moving the loop into "
            "the graph alone brings: little on a CPU, where the gain over keras-io comes from "
            "batching and from leaving predict out. Timings on a loaded machine (see the load "
            "average) move by tens of percent from run to run.",
        ],
        settings={
            "new tokens (language models)": settings["new_tokens"],
            "decode length (seq2seq)": settings["decode_length"],
            "batches": ", ".join(str(b) for b in settings["batches"]),
            "cases": ", ".join(cases),
            "load average when started (1, 5, 15 min)": load,
        },
    )
