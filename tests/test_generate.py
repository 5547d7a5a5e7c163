"""kzoo.generate and kzoo.perplexity against plain full-prefix computations."""

import itertools
import json

import keras
import numpy as np
import pytest

import kzoo
from kzoo.data import pipeline

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
    return pipeline.make_vectorizer(["the cat sat"], split="character", standardize=None)


@pytest.fixture(scope="module")
def language_models(vectorizer):
    keras.utils.set_random_seed(0)
    size = vectorizer.vocabulary_size()
    return {
        "rnn": _sharpen(
            kzoo.build_rnn_generator(
                vocabulary_size=size, embedding_dim=4, units=6, rnn="lstm", num_layers=2
            )
        ),
        "gpt": _sharpen(
            kzoo.build_gpt(
                vocabulary_size=size,
                max_sequence_length=24,
                num_layers=2,
                num_heads=2,
                hidden_dim=8,
                intermediate_dim=16,
            )
        ),
    }


@pytest.fixture(scope="module")
def translation():
    source = pipeline.make_vectorizer(["march 2 2020"], split="character")
    target = pipeline.make_vectorizer(
        ["2020-03-02"], split="character", reserved_tokens=[pipeline.START, pipeline.END]
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
    ids = pipeline.vectorize(vectorizer, [prompt])[0].tolist()
    return ids if prompt else [1]  # empty prompts start from [UNK] without a newline token


def _full_prefix_greedy(model, vectorizer, prompt, steps):
    """Greedy continuation recomputing the whole prefix for every token."""
    ids = _prompt_ids(vectorizer, prompt)
    for _ in range(steps):
        logits = model(np.array([ids]), training=False)[0, -1]
        ids.append(int(np.argmax(_allowed_log_probs(logits, (0, 1)))))
    tokens = pipeline.vocabulary(vectorizer)
    return "".join(tokens[i] for i in ids[-steps:])


def _full_prefix_translation(model, source, target, sentence, steps):
    tokens = pipeline.vocabulary(target)
    start, end = tokens.index(pipeline.START), tokens.index(pipeline.END)
    source_ids = pipeline.vectorize(source, [sentence])[0][None]
    ids = [start]
    while len(ids) <= steps and ids[-1] != end:
        batch = {"encoder_token_ids": source_ids, "decoder_token_ids": np.array([ids])}
        logits = model(batch, training=False)[0, -1]
        ids.append(int(np.argmax(_allowed_log_probs(logits, (0, 1, start)))))
    return pipeline.detokenize(tokens, ids, "character")


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
    tokens = pipeline.vocabulary(target)
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
    tokens = pipeline.vocabulary(target)
    model.get_layer("logits").bias.assign(30.0 * np.eye(len(tokens))[tokens.index(pipeline.END)])
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
    tokens = pipeline.vocabulary(vectorizer)
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


def _best_sequence(log_probs_of, allowed, steps):
    """The most likely `steps`-token sequence over `allowed` ids, by enumeration."""
    candidates = np.array(list(itertools.product(allowed, repeat=steps)))
    log_probs = log_probs_of(candidates)  # (candidates, steps, vocabulary): for each position
    scores = sum(log_probs[np.arange(len(candidates)), t, candidates[:, t]] for t in range(steps))
    return candidates[np.argmax(scores)]


@pytest.mark.parametrize("kind", ["rnn", "gpt"])
def test_beam_search_is_exhaustive_with_enough_beams(kind, language_models, vectorizer):
    model, tokens = language_models[kind], pipeline.vocabulary(vectorizer)
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
    tokens = pipeline.vocabulary(target)
    start = tokens.index(pipeline.START)
    args = dict(source_vectorizer=source, target_vectorizer=target)
    greedy = kzoo.generate(model, SOURCES, max_new_tokens=9, **args)
    assert kzoo.generate(model, SOURCES, 9, sampler="beam", num_beams=1, **args) == greedy
    # Exhaustive, batched: each sentence's encoder outputs follow its own beams.
    allowed, steps = [i for i in range(len(tokens)) if i not in (0, 1, start)], 3
    found = kzoo.generate(
        model, SOURCES, steps, sampler="beam", num_beams=len(allowed) ** (steps - 1), **args
    )
    for sentence, text in zip(SOURCES, found):
        source_ids = pipeline.vectorize(source, [sentence])[0]

        def log_probs_of(candidates, source_ids=source_ids):
            batch = {
                "encoder_token_ids": np.tile(source_ids, (len(candidates), 1)),
                "decoder_token_ids": np.concatenate(
                    [np.full((len(candidates), 1), start), candidates[:, :-1]], axis=1
                ),
            }
            return _allowed_log_probs(model(batch, training=False), (0, 1, start))

        best = _best_sequence(log_probs_of, allowed, steps)
        assert text == pipeline.detokenize(tokens, best, "character")


def test_generate_from_a_run_folder(tmp_path, language_models, vectorizer):
    model = language_models["rnn"]
    model.save(tmp_path / "model.keras")
    pipeline.save_vocabulary(vectorizer, tmp_path / "vocabulary.txt")
    config = {"task": "language_model", "split": "character", "standardize": "none"}
    (tmp_path / "config.json").write_text(json.dumps(config))
    expected = kzoo.generate(model, PROMPTS, max_new_tokens=5, vectorizer=vectorizer)
    assert kzoo.generate(str(tmp_path), PROMPTS, max_new_tokens=5) == expected


def test_tokens_join_as_their_vectorizer_split_them():
    from kzoo.generate import _joiner

    characters = pipeline.make_vectorizer(["ab"], split="character")
    words = pipeline.make_vectorizer(["a man"])
    marks = pipeline.make_vectorizer(["a man."], standardize=pipeline.split_punctuation)
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
    ids = [x.tolist() for x in pipeline.vectorize(vectorizer, texts)]
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
    with pytest.raises(ValueError, match="argument model. Expected a kzoo rnn_generator, gpt, "):
        kzoo.generate(classifier, "a", vectorizer=vectorizer)


def test_generate_command(tmp_path, language_models, vectorizer, capsys):
    from kzoo_cli import main as kzoo_main

    model = language_models["rnn"]
    model.save(tmp_path / "model.keras")
    pipeline.save_vocabulary(vectorizer, tmp_path / "vocabulary.txt")
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
    assert err.startswith("kzoo generate: Invalid value for argument max_new_tokens.")
    assert kzoo_main(["generate", str(tmp_path / "missing"), "a"]) == 2
    assert capsys.readouterr().err.startswith("kzoo generate: ")
