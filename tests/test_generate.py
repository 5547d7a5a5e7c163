"""kzoo.generate and kzoo.perplexity against plain full-prefix computations."""

import itertools
import json

import keras
import numpy as np
import pytest

import kzoo
from kzoo.data import vectorization

PROMPTS = ["the c", "a", "", "sat the cat"]
SOURCES = ["march 2", "2020", "3 march 2020"]


def _sharpen(model):
    # Random tiny models are close to uniform; larger logits keep near-ties (where the cached
    # and the full computation could round differently) out of the comparisons.
    layer = model.get_layer("logits")
    layer.kernel.assign(layer.kernel * 8.0)
    return model


@pytest.fixture(scope="module")
def vectorizer():
    return vectorization.make_vectorizer(["the cat sat"], split="character", standardize=None)


# The tiny generators of these tests, by kind, for a vocabulary of `size` ids.
LANGUAGE_MODELS = {
    "rnn": lambda size: kzoo.build_rnn_generator(
        vocabulary_size=size, embedding_dim=4, units=6, rnn="lstm", num_layers=2
    ),
    "gru": lambda size: kzoo.build_rnn_generator(vocabulary_size=size, units=6, rnn="gru"),
    "gpt": lambda size: kzoo.build_gpt(
        vocabulary_size=size,
        max_sequence_length=24,
        num_layers=2,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
    ),
}


@pytest.fixture(scope="module")
def language_models(vectorizer):
    keras.utils.set_random_seed(0)
    size = vectorizer.vocabulary_size()
    return {kind: _sharpen(LANGUAGE_MODELS[kind](size)) for kind in ("rnn", "gpt")}


@pytest.fixture(scope="module")
def translation():
    source = vectorization.make_vectorizer(["march 2 2020"], split="character")
    target = vectorization.make_vectorizer(
        ["2020-03-02"], split="character", reserved_tokens=[vectorization.START, vectorization.END]
    )
    keras.utils.set_random_seed(1)
    model = kzoo.build_attention_seq2seq(
        source_vocabulary_size=source.vocabulary_size(),
        target_vocabulary_size=target.vocabulary_size(),
        embedding_dim=4,
        latent_dim=6,
        attention="additive",
    )
    return _sharpen(model), source, target


def _allowed_log_probs(logits, never):
    """Log-softmax over the ids generation may choose."""
    logits = np.asarray(logits, dtype="float64")
    logits[..., list(never)] = -np.inf
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _prompt_ids(vectorizer, prompt):
    ids = vectorization.vectorize(vectorizer, [prompt])[0].tolist()
    return ids if prompt else [1]  # empty prompts start from [UNK] without a newline token


def _full_prefix_greedy(model, vectorizer, prompt, steps):
    """Greedy continuation recomputing the whole prefix for every token."""
    ids = _prompt_ids(vectorizer, prompt)
    for _ in range(steps):
        logits = model(np.array([ids]), training=False)[0, -1]
        ids.append(int(np.argmax(_allowed_log_probs(logits, (0, 1)))))
    tokens = vectorization.vocabulary(vectorizer)
    return "".join(tokens[i] for i in ids[-steps:])


def _full_prefix_translation(model, source, target, sentence, steps):
    tokens = vectorization.vocabulary(target)
    start, end = tokens.index(vectorization.START), tokens.index(vectorization.END)
    source_ids = vectorization.vectorize(source, [sentence])[0][None]
    ids = [start]
    while len(ids) <= steps and ids[-1] != end:
        batch = {"encoder_token_ids": source_ids, "decoder_token_ids": np.array([ids])}
        logits = model(batch, training=False)[0, -1]
        ids.append(int(np.argmax(_allowed_log_probs(logits, (0, 1, start)))))
    return vectorization.detokenize(tokens, ids, "character")


# === Greedy decoding equals the full-prefix computation ===


@pytest.mark.parametrize("kind", ["rnn", "gpt"])
def test_greedy_equals_full_prefix_argmax(kind, language_models, vectorizer):
    model = language_models[kind]
    texts = kzoo.generate(model, PROMPTS, max_new_tokens=8, vectorizer=vectorizer)
    # Batched prompts of different lengths give each prompt's own one-by-one continuation.
    assert texts == [_full_prefix_greedy(model, vectorizer, p, 8) for p in PROMPTS]
    assert all(len(text) == 8 for text in texts)  # never padding or [UNK], which are not chars


def test_seq2seq_greedy_equals_full_prefix_argmax(translation):
    model, source, target = translation
    args = dict(max_new_tokens=9, source_vectorizer=source, target_vectorizer=target)
    texts = kzoo.generate(model, SOURCES, **args)
    assert texts == [_full_prefix_translation(model, source, target, s, 9) for s in SOURCES]
    # A little more weight on [end]: some translations stop early, one does not.
    bias = model.get_layer("logits").bias
    saved = bias.numpy()
    tokens = vectorization.vocabulary(target)
    try:
        bias.assign(saved + 0.05 * np.eye(len(tokens), dtype="float32")[tokens.index("[end]")])
        texts = kzoo.generate(model, SOURCES, **args)
        assert texts == [_full_prefix_translation(model, source, target, s, 9) for s in SOURCES]
        assert min(len(text) for text in texts) < 9 == max(len(text) for text in texts)
    finally:
        bias.assign(saved)


def test_plain_seq2seq_greedy_and_stop_at_end(translation):
    _, source, target = translation
    keras.utils.set_random_seed(2)
    model = _sharpen(
        kzoo.build_seq2seq(
            source_vocabulary_size=source.vocabulary_size(),
            target_vocabulary_size=target.vocabulary_size(),
            embedding_dim=4,
            latent_dim=6,
        )
    )
    args = dict(max_new_tokens=6, source_vectorizer=source, target_vectorizer=target)
    texts = kzoo.generate(model, SOURCES, **args)
    assert texts == [_full_prefix_translation(model, source, target, s, 6) for s in SOURCES]
    assert all(len(text) == 6 for text in texts)
    # With [end] always the most likely token, decoding stops at once and drops it.
    tokens = vectorization.vocabulary(target)
    model.get_layer("logits").bias.assign(
        30.0 * np.eye(len(tokens))[tokens.index(vectorization.END)]
    )
    assert kzoo.generate(model, SOURCES, **args) == [""] * len(SOURCES)


# === Samplers at their limits equal greedy; seeded samplers reproduce ===


def test_samplers_at_their_limits_equal_greedy(language_models, vectorizer):
    model = language_models["rnn"]
    args = dict(max_new_tokens=10, vectorizer=vectorizer, seed=3)
    greedy = kzoo.generate(model, PROMPTS, **args)
    assert kzoo.generate(model, PROMPTS, sampler="temperature", temperature=1e-4, **args) == greedy
    assert kzoo.generate(model, PROMPTS, sampler="top_k", k=1, **args) == greedy
    assert kzoo.generate(model, PROMPTS, sampler="top_p", p=1e-6, **args) == greedy
    assert kzoo.generate(model, PROMPTS, sampler="beam", num_beams=1, **args) == greedy
    # At temperature 1 the same samplers leave the greedy path.
    assert kzoo.generate(model, PROMPTS, sampler="temperature", temperature=3.0, **args) != greedy


def test_seeded_sampling_is_reproducible(language_models, vectorizer):
    model = language_models["gpt"]
    args = dict(max_new_tokens=12, temperature=3.0, vectorizer=vectorizer)
    for sampler in ("temperature", "top_k", "top_p"):
        first = kzoo.generate(model, PROMPTS, sampler=sampler, k=2, seed=7, **args)
        assert kzoo.generate(model, PROMPTS, sampler=sampler, k=2, seed=7, **args) == first
        assert kzoo.generate(model, PROMPTS, sampler=sampler, k=2, seed=8, **args) != first
        assert all(len(text) == 12 for text in first)


def test_top_k_draws_only_among_the_k_most_likely(language_models, vectorizer):
    model = language_models["gpt"]
    # From the same state, the first token drawn with k=2 is always one of the two most likely,
    # even at a temperature that makes every token likely.
    logits = model(np.array([_prompt_ids(vectorizer, "the c")]), training=False)[0, -1]
    best_two = np.argsort(_allowed_log_probs(logits, (0, 1)))[-2:]
    tokens = vectorization.vocabulary(vectorizer)
    firsts = kzoo.generate(
        model,
        ["the c"] * 40,
        max_new_tokens=1,
        sampler="top_k",
        k=2,
        temperature=10.0,
        seed=0,
        vectorizer=vectorizer,
    )
    assert {tokens.index(text) for text in firsts} == set(best_two.tolist())


# === Beam search: exhaustive with enough beams, batched ===


def _best_sequence(log_probs_of, allowed, steps, end=None):
    """The most likely `steps`-token sequence over `allowed` ids, by enumeration; with `end`, a
    sequence is scored up to its first `end` (included), as a finished translation."""
    candidates = np.array(list(itertools.product(allowed, repeat=steps)))
    log_probs = log_probs_of(candidates)  # (candidates, steps, vocabulary): for each position
    chosen = [log_probs[np.arange(len(candidates)), t, candidates[:, t]] for t in range(steps)]
    ended = np.zeros(len(candidates), dtype=bool)
    scores = np.zeros(len(candidates))
    for t in range(steps):
        scores += np.where(ended, 0.0, chosen[t])
        ended |= candidates[:, t] == end
    return candidates[np.argmax(scores)]


@pytest.mark.parametrize("kind", ["rnn", "gpt"])
def test_beam_search_is_exhaustive_with_enough_beams(kind, language_models, vectorizer):
    model, tokens = language_models[kind], vectorization.vocabulary(vectorizer)
    allowed, steps, prompts = list(range(2, len(tokens))), 3, ["the c", "a", "sat"]
    # With allowed ** (steps - 1) beams, beam search keeps every prefix: it is exhaustive.
    found = kzoo.generate(
        model,
        prompts,
        steps,
        sampler="beam",
        num_beams=len(allowed) ** (steps - 1),
        vectorizer=vectorizer,
    )
    for prompt, text in zip(prompts, found):
        ids = _prompt_ids(vectorizer, prompt)

        def log_probs_of(candidates, ids=ids):
            inputs = np.concatenate([np.tile(ids, (len(candidates), 1)), candidates], axis=1)
            logits = model(inputs[:, :-1], training=False)[:, len(ids) - 1 :]
            return _allowed_log_probs(logits, (0, 1))

        assert text == "".join(tokens[i] for i in _best_sequence(log_probs_of, allowed, steps))


def test_seq2seq_beam_search(translation):
    model, source, target = translation
    tokens = vectorization.vocabulary(target)
    start, end = tokens.index(vectorization.START), tokens.index(vectorization.END)
    args = dict(source_vectorizer=source, target_vectorizer=target)
    greedy = kzoo.generate(model, SOURCES, max_new_tokens=9, **args)
    assert kzoo.generate(model, SOURCES, 9, sampler="beam", num_beams=1, **args) == greedy
    # Exhaustive, batched: each sentence's encoder outputs follow its own beams. A translation
    # that ends is scored up to its [end], not by what the model predicts after it: here the
    # best ones end early (counting tokens after [end], three-token ones would win).
    allowed, steps = [i for i in range(len(tokens)) if i not in (0, 1, start)], 3
    found = kzoo.generate(
        model, SOURCES, steps, sampler="beam", num_beams=len(allowed) ** (steps - 1), **args
    )
    assert any(len(text) < steps for text in found)
    for sentence, text in zip(SOURCES, found):
        source_ids = vectorization.vectorize(source, [sentence])[0]

        def log_probs_of(candidates, source_ids=source_ids):
            batch = {
                "encoder_token_ids": np.tile(source_ids, (len(candidates), 1)),
                "decoder_token_ids": np.concatenate(
                    [np.full((len(candidates), 1), start), candidates[:, :-1]], axis=1
                ),
            }
            return _allowed_log_probs(model(batch, training=False), (0, 1, start))

        best = _best_sequence(log_probs_of, allowed, steps, end)
        assert text == vectorization.detokenize(tokens, best, "character")


def _markov_translator(source, target, next_probabilities):
    """A seq2seq model whose next token depends on the previous token alone, with the
    probabilities `next_probabilities[previous][next]` (tokens as str), whatever the source.

    The decoder embeds each token as its one-hot vector; its LSTM forgets everything else
    (forget gate shut, no recurrent weights), so its output is `tanh(1)` times that vector
    (gates saturated), and the output projection holds each row's log-probabilities.
    """
    tokens = vectorization.vocabulary(target)
    size = len(tokens)
    model = kzoo.build_seq2seq(
        source_vocabulary_size=source.vocabulary_size(),
        target_vocabulary_size=size,
        embedding_dim=size,
        latent_dim=size,
    )
    model.get_layer("decoder_embedding").embeddings.assign(np.eye(size))
    kernel, recurrent, bias = model.get_layer("decoder_lstm").get_weights()
    gates = np.zeros((4, size))  # input, forget, cell, output: Keras' order
    gates[[0, 1, 3]] = [[30.0], [-30.0], [30.0]]
    cell = np.zeros_like(kernel)
    cell[:, 2 * size : 3 * size] = 30.0 * np.eye(size)
    weights = [cell, np.zeros_like(recurrent), gates.reshape(-1)]
    model.get_layer("decoder_lstm").set_weights(weights)
    log_probs = np.zeros((size, size))
    for previous, row in next_probabilities.items():
        for token, probability in row.items():
            log_probs[tokens.index(previous), tokens.index(token)] = np.log(probability)
    logits = model.get_layer("logits")
    logits.set_weights([log_probs / np.tanh(1.0), np.zeros(size)])
    return model


def test_seq2seq_beam_search_hand_computed():
    """The classic case greedy decoding misses, with one translation ending early."""
    source = vectorization.make_vectorizer(["x"], split="character")
    target = vectorization.make_vectorizer(
        ["ab"], split="character", reserved_tokens=[vectorization.START, vectorization.END]
    )
    end = vectorization.END
    model = _markov_translator(
        source,
        target,
        {
            vectorization.START: {"a": 0.5, "b": 0.4, end: 0.1},
            "a": {"a": 0.7, "b": 0.2, end: 0.1},
            "b": {end: 0.95, "a": 0.025, "b": 0.025},
            # What the model says after [end] (where training never reads it) must not count.
            end: {"a": 1 / 3, "b": 1 / 3, end: 1 / 3},
        },
    )
    args = dict(max_new_tokens=3, source_vectorizer=source, target_vectorizer=target)
    # Greedy: "aaa", probability 0.5 * 0.7 * 0.7 = 0.245 (no [end] within 3 tokens).
    assert kzoo.generate(model, "x", **args) == "aaa"
    # The most likely translation is "b": 0.4 * 0.95 = 0.38. Three beams keep it from the
    # second step on (0.38 > "aa" 0.35 > "ab" 0.1) and it beats "aaa" at the third. Scored
    # past its [end] (0.38 / 3 = 0.127 at the third step) it would lose to "aaa".
    assert kzoo.generate(model, "x", sampler="beam", num_beams=3, **args) == "b"
    # The model holds the table: "b" then [end], teacher-forced.
    tokens = vectorization.vocabulary(target)
    start = tokens.index(vectorization.START)
    batch = {
        "encoder_token_ids": vectorization.vectorize(source, ["x"])[0][None],
        "decoder_token_ids": np.array([[start, tokens.index("b")]]),
    }
    log_probs = _allowed_log_probs(model(batch, training=False)[0], (0, 1, start))
    chosen = log_probs[0, tokens.index("b")] + log_probs[1, tokens.index(end)]
    assert np.exp(chosen) == pytest.approx(0.38, abs=1e-6)


# === Beam search on a small trained date translator ===


@pytest.fixture(scope="module")
def date_run(tmp_path_factory):
    """A tiny attention seq2seq trained briefly on kzoo's embedded dates, as a run folder
    (`kzoo train`), and its embedded test split."""
    from kzoo.runs import load_run
    from kzoo.tasks.translation import TranslationTask
    from kzoo_cli import main as kzoo_main

    run_dir = tmp_path_factory.mktemp("dates")
    argv = ["train", "attention_seq2seq", "--output-dir", str(run_dir), "--no-export"]
    argv += ["--no-xla", "--num-examples", "1000", "--epochs", "3"]
    argv += ["--set", "model_args.latent_dim=32", "--set", "model_args.embedding_dim=16"]
    assert kzoo_main(argv) == 0
    config = json.loads((run_dir / "config.json").read_text())
    sources, _ = TranslationTask(config).load(config["batch_size"]).raw["test"]
    return load_run(str(run_dir))[0], list(sources)


def _translation_log_probs(bundle, sentences, texts, max_new_tokens):
    """The model's log-probability of each translation, teacher-forced, over the tokens
    generation may choose; `[end]` included unless the translation ran to `max_new_tokens`."""
    tokens = vectorization.vocabulary(bundle.vectorizers["target"])
    start, end = tokens.index(vectorization.START), tokens.index(vectorization.END)
    outputs = [[tokens.index(c) for c in text] for text in texts]
    outputs = [ids + [end] if len(ids) < max_new_tokens else ids for ids in outputs]
    width = max(len(ids) for ids in outputs)
    decoder = np.zeros((len(texts), width), dtype="int32")
    for row, ids in zip(decoder, outputs):
        row[: len(ids)] = [start] + ids[:-1]
    source_ids = vectorization.vectorize(bundle.vectorizers["source"], sentences)
    encoder = np.zeros((len(texts), max(len(ids) for ids in source_ids)), dtype="int32")
    for row, ids in zip(encoder, source_ids):
        row[: len(ids)] = ids
    batch = {"encoder_token_ids": encoder, "decoder_token_ids": decoder}
    log_probs = _allowed_log_probs(bundle.model(batch, training=False), (0, 1, start))
    return np.array([log_probs[b, np.arange(len(ids)), ids].sum() for b, ids in enumerate(outputs)])


def test_beam_search_never_scores_below_greedy(date_run):
    bundle, sentences = date_run
    args = dict(max_new_tokens=16)
    greedy = kzoo.generate(bundle, sentences, **args)
    beam = kzoo.generate(bundle, sentences, sampler="beam", num_beams=3, **args)
    greedy_scores = _translation_log_probs(bundle, sentences, greedy, 16)
    beam_scores = _translation_log_probs(bundle, sentences, beam, 16)
    below = [
        (s, g, b, gs, bs)
        for s, g, b, gs, bs in zip(sentences, greedy, beam, greedy_scores, beam_scores)
        if bs < gs - 1e-4
    ]
    assert not below
    assert np.mean(beam_scores > greedy_scores + 1e-4) > 0.1  # the model is no sure thing


def test_beam_search_gives_each_sentence_its_own_translation_in_a_batch(date_run):
    bundle, sentences = date_run
    args = dict(max_new_tokens=16, sampler="beam", num_beams=3)
    batch = sentences[:24]
    assert len({len(s) for s in batch}) > 5  # sentences of many lengths, padded together
    together = kzoo.generate(bundle, batch, **args)
    assert together == [kzoo.generate(bundle, sentence, **args) for sentence in batch]


MIXED_TRANSLATORS = {
    "seq2seq": lambda s, t: kzoo.build_seq2seq(
        source_vocabulary_size=s, target_vocabulary_size=t, embedding_dim=4, latent_dim=6
    ),
    "attention_seq2seq": lambda s, t: kzoo.build_attention_seq2seq(
        source_vocabulary_size=s, target_vocabulary_size=t, embedding_dim=4, latent_dim=6
    ),
    "transformer_seq2seq": lambda s, t: kzoo.build_transformer_seq2seq(
        source_vocabulary_size=s,
        target_vocabulary_size=t,
        max_sequence_length=16,
        num_layers=1,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
    ),
}


@pytest.mark.parametrize("name", list(LANGUAGE_MODELS))
@pytest.mark.parametrize("sampler", ["greedy", "beam"])
def test_language_models_generate_under_mixed_bfloat16(name, sampler, vectorizer):
    # As a run with --mixed-precision (or auto on AMX) builds and exports them: the decoding
    # loop carries states and caches in one dtype from call to call.
    keras.config.set_dtype_policy("mixed_bfloat16")
    model = LANGUAGE_MODELS[name](vectorizer.vocabulary_size())
    args = dict(max_new_tokens=3, sampler=sampler, num_beams=2, vectorizer=vectorizer)
    texts = kzoo.generate(model, PROMPTS, **args)
    assert [len(text) for text in texts] == [3] * len(PROMPTS)


@pytest.mark.parametrize("name", list(MIXED_TRANSLATORS))
def test_translators_generate_under_mixed_bfloat16(name, translation):
    _, source, target = translation
    keras.config.set_dtype_policy("mixed_bfloat16")
    model = MIXED_TRANSLATORS[name](source.vocabulary_size(), target.vocabulary_size())
    args = dict(max_new_tokens=4, source_vectorizer=source, target_vectorizer=target)
    for sampler in ("greedy", "beam"):
        texts = kzoo.generate(model, SOURCES, sampler=sampler, num_beams=2, **args)
        assert len(texts) == len(SOURCES) and all(len(text) <= 4 for text in texts)


def test_generate_from_a_run_folder(tmp_path, language_models, vectorizer):
    model = language_models["rnn"]
    model.save(tmp_path / "model.keras")
    vectorization.save_vocabulary(vectorizer, tmp_path / "vocabulary.txt")
    config = {"task": "language_model", "split": "character", "standardize": "none"}
    (tmp_path / "config.json").write_text(json.dumps(config))
    expected = kzoo.generate(model, PROMPTS, max_new_tokens=5, vectorizer=vectorizer)
    assert kzoo.generate(str(tmp_path), PROMPTS, max_new_tokens=5) == expected


def test_tokens_join_as_their_vectorizer_split_them():
    from kzoo.generate import _joiner

    characters = vectorization.make_vectorizer(["ab"], split="character")
    words = vectorization.make_vectorizer(["a man"])
    marks = vectorization.make_vectorizer(["a man."], standardize=vectorization.split_punctuation)
    joined = [_joiner(v)(["a", "man", "."]) for v in (characters, words, marks)]
    assert joined == ["aman.", "a man .", "a man."]


# === Perplexity ===


def _hand_perplexity(model, windows):
    nll, count = 0.0, 0
    for window in windows:
        log_probs = _allowed_log_probs(model(np.array([window[:-1]]), training=False)[0], ())
        nll -= sum(log_probs[t, window[t + 1]] for t in range(len(window) - 1))
        count += len(window) - 1
    return float(np.exp(nll / count))


@pytest.mark.parametrize("kind", ["rnn", "gpt"])
def test_perplexity_equals_hand_computation(kind, language_models, vectorizer):
    model = language_models[kind]
    # 30 tokens: more than the GPT's 24-token context, so it is read in windows.
    texts = ["the cat sat", "a cat", "sat the cat the cat sat the c", "t"]
    ids = [x.tolist() for x in vectorization.vectorize(vectorizer, texts)]
    if kind == "gpt":
        windows = [ids[0], ids[1], ids[2][:25], ids[2][24:]]
    else:
        windows = ids[:3]  # one token predicts nothing
    expected = _hand_perplexity(model, windows)
    assert kzoo.perplexity(model, texts, vectorizer=vectorizer) == pytest.approx(expected, 1e-4)


# === Errors ===


INVALID = [
    (dict(sampler="nucleus"), "argument sampler. Expected one of .*Received: sampler=nucleus"),
    (dict(temperature=0.0), "argument temperature. Expected a positive float"),
    (dict(k=0), "argument k. Expected a positive integer. Received: k=0"),
    (dict(sampler="top_k", k=50), "argument k. Expected an integer between 1 and the voc"),
    (dict(p=1.5), r"argument p. Expected a float in \(0, 1\]. Received: p=1.5"),
    (dict(num_beams=0), "argument num_beams. Expected a positive integer"),
    (dict(seed="a"), "argument seed. Expected an integer >= 0. Received: seed=a"),
    (dict(max_new_tokens=0), "argument max_new_tokens. Expected a positive integer"),
    (dict(max_new_tokens=20), "max_new_tokens. Expected at most 13: the GPT's context"),
    (
        dict(prompts=["sat the cat " * 10]),
        r"argument prompts. Expected prompts shorter than the GPT's context of \d+ tokens .*"
        r"Received: a prompt of \d+ tokens",
    ),
    (dict(prompts=[1, 2]), "argument prompts. Expected a string or a non-empty list"),
    (dict(vectorizer=None), "argument vectorizer. Expected the adapted TextVectorization"),
]


def test_invalid_arguments(language_models, vectorizer):
    for args, message in INVALID:
        kwargs = {"prompts": ["sat the cat"], "vectorizer": vectorizer, **args}
        with pytest.raises(ValueError, match=message):
            kzoo.generate(language_models["gpt"], kwargs.pop("prompts"), **kwargs)


def test_non_generative_model_is_rejected(vectorizer):
    classifier = kzoo.build_lstm_classifier(vocabulary_size=10, num_classes=2)
    with pytest.raises(
        ValueError,
        match=r"argument model. Expected a generator or translator \(one of \['attention_seq2",
    ):
        kzoo.generate(classifier, "a", vectorizer=vectorizer)


def test_generate_command(tmp_path, language_models, vectorizer, capsys):
    from kzoo_cli import main as kzoo_main

    model = language_models["rnn"]
    model.save(tmp_path / "model.keras")
    vectorization.save_vocabulary(vectorizer, tmp_path / "vocabulary.txt")
    config = {"task": "language_model", "split": "character", "standardize": "none"}
    (tmp_path / "config.json").write_text(json.dumps(config))
    argv = ["generate", str(tmp_path), "the c", "a", "--max-new-tokens", "4"]
    argv += ["--sampler", "top_k", "--k", "3", "--seed", "7"]
    assert kzoo_main(argv) == 0
    expected = kzoo.generate(
        model, ["the c", "a"], max_new_tokens=4, sampler="top_k", k=3, seed=7, vectorizer=vectorizer
    )
    out = capsys.readouterr().out
    assert out == ("\n\n" if any("\n" in t for t in expected) else "\n").join(expected) + "\n"
    # Bad arguments: the library's message on stderr, exit status 2.
    assert kzoo_main(["generate", str(tmp_path), "a", "--max-new-tokens", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kzoo generate: error: Invalid value for argument max_new_tokens.")
    assert kzoo_main(["generate", str(tmp_path / "missing"), "a"]) == 2
    assert capsys.readouterr().err.startswith("kzoo generate: ")
