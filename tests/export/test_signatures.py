"""Exported SavedModels take raw inputs and give what the in-memory pipeline gives."""

import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import kzoo
from kzoo.data import vectorization
from kzoo.decoding import SAMPLERS
from kzoo.export import WARMUP_FILE, export_bundle, export_versioned, versions
from kzoo.models.seq2seq import seq2seq_inference_models
from kzoo.models.word2vec import word2vec_vectors
from kzoo.signatures import ServingBundle

TEXTS = ["the film was good", "not good at all", "a dull movie", "great fun, truly"]


def _export(bundle, tmp_path, name="model"):
    path = export_bundle(bundle, str(tmp_path / "saved_models"), name)
    return path, tf.saved_model.load(path)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """`exported(kind)`: `(bundle, path, reloaded SavedModel)` of one of this module's tiny
    models, built and exported once for the tests that only read them: an export traces every
    decoding loop, seconds per generator or translator. A test that changes a model exports its
    own."""
    builders = {
        "rnn": lambda: _generator_bundle("rnn"),
        "gpt": lambda: _generator_bundle("gpt"),
        "translator": lambda: _translation_bundle(attention=False),
        "attention translator": lambda: _translation_bundle(attention=True),
        "gan": lambda: ServingBundle(_tiny_gan(), "gan"),
    }
    cache = {}

    def export(kind):
        if kind not in cache:
            bundle = builders[kind]()
            cache[kind] = (
                bundle,
                *_export(bundle, tmp_path_factory.mktemp(kind.replace(" ", "_"))),
            )
        return cache[kind]

    return export


def _strings(tensor):
    return [x.decode() for x in tensor.numpy()]


# === Classification ===


@pytest.mark.parametrize("builder", ["lstm_classifier", "mha_classifier", "kim_cnn"])
def test_classifier_answers_raw_text_like_the_training_pipeline(builder, tmp_path):
    keras.utils.set_random_seed(0)
    vectorizer = vectorization.make_vectorizer(TEXTS)
    kwargs = {"vocabulary_size": vectorizer.vocabulary_size(), "num_classes": 3}
    if builder == "mha_classifier":
        kwargs.update(max_sequence_length=16, embedding_dim=8, num_heads=2)
    model = kzoo.build_model(builder, **kwargs)
    bundle = ServingBundle(
        model, "classification", {"text": vectorizer}, ["a", "b", "c"], examples=TEXTS
    )
    _, reloaded = _export(bundle, tmp_path)
    queries = ["A GOOD film!", "", "words never seen", "not good"]
    out = reloaded.signatures["serving_default"](text=tf.constant(queries))
    ids = vectorization.vectorize(vectorizer, queries)
    width = max(len(x) for x in ids)
    expected = model.predict(np.stack([np.pad(x, (0, width - len(x))) for x in ids]), verbose=0)
    np.testing.assert_allclose(out["scores"].numpy(), expected, atol=1e-5)
    assert _strings(out["label"]) == [["a", "b", "c"][i] for i in expected.argmax(-1)]
    # The token-id endpoint agrees for clients that tokenize themselves.
    by_ids = reloaded.signatures["token_ids"](
        token_ids=tf.constant(np.stack([np.pad(x, (0, width - len(x))) for x in ids]))
    )
    np.testing.assert_allclose(by_ids["scores"].numpy(), expected, atol=1e-5)


def test_binary_classifier_scores_both_classes(tmp_path):
    vectorizer = vectorization.make_vectorizer(TEXTS)
    model = kzoo.build_cnn_sentiment(vocabulary_size=vectorizer.vocabulary_size(), filters=4)
    bundle = ServingBundle(
        model, "classification", {"text": vectorizer}, ["neg", "pos"], examples=TEXTS
    )
    _, reloaded = _export(bundle, tmp_path)
    out = reloaded.signatures["serving_default"](text=tf.constant(TEXTS))
    np.testing.assert_allclose(out["scores"].numpy().sum(-1), 1.0, atol=1e-6)
    assert out["scores"].shape == (4, 2)


# === Translation ===


def _translation_bundle(attention):
    keras.utils.set_random_seed(1)
    sources, targets = (
        ["21 nov 2026", "1 jan 1999", "3 may 2001"],
        ["2026-11-21", "1999-01-01", "2001-05-03"],
    )
    source = vectorization.make_vectorizer(sources, split="character", standardize=None)
    target = vectorization.make_vectorizer(
        targets,
        split="character",
        standardize=None,
        reserved_tokens=(vectorization.START, vectorization.END),
    )
    args = dict(
        source_vocabulary_size=source.vocabulary_size(),
        target_vocabulary_size=target.vocabulary_size(),
        latent_dim=8,
        embedding_dim=4,
    )
    model = kzoo.build_attention_seq2seq(**args) if attention else kzoo.build_seq2seq(**args)
    return ServingBundle(
        model,
        "translation",
        {"source": source, "target": target},
        split="character",
        max_decode_length=12,
        examples=sources,
    )


def _python_greedy(bundle, text):
    """The plain computation: the encoder, then the one-step decoder called once per token."""
    encoder, decoder = seq2seq_inference_models(bundle.model)
    target_tokens = vectorization.vocabulary(bundle.vectorizers["target"])
    start, end = target_tokens.index(vectorization.START), target_tokens.index(vectorization.END)
    state = encoder(
        {
            "encoder_token_ids": tf.constant(
                vectorization.vectorize(bundle.vectorizers["source"], [text])
            )
        }
    )
    current, out = start, []
    for _ in range(bundle.max_decode_length):
        step = decoder({**state, "decoder_token_ids": tf.constant([[current]])})
        state = {**state, "state_h": step["state_h"], "state_c": step["state_c"]}
        logits = step["logits"].numpy()[0, -1]
        logits[[0, target_tokens.index(vectorization.OOV), start]] = -np.inf
        current = int(logits.argmax())
        if current == end:
            break
        out.append(current)
    return vectorization.detokenize(target_tokens, out, "character")


@pytest.mark.parametrize("attention", [False, True])
def test_in_graph_greedy_decoding_matches_step_by_step_decoding(attention, exported):
    bundle, _, reloaded = exported("attention translator" if attention else "translator")
    queries = ["21 nov 2026", "7 jun 1980", ""]
    out = reloaded.signatures["serving_default"](text=tf.constant(queries))
    assert _strings(out["translation"]) == [_python_greedy(bundle, q) for q in queries]
    if attention:
        weights = out["attention"].numpy()
        assert weights.shape[0] == 3 and weights.shape[2] == len("21 nov 2026")
        # Each decoded step attends over the real source characters only.
        np.testing.assert_allclose(weights[1, 0, : len("7 jun 1980")].sum(), 1.0, atol=1e-5)
        np.testing.assert_array_equal(weights[1, :, len("7 jun 1980") :], 0.0)


def test_greedy_decoding_never_emits_unknown_tokens(tmp_path):
    bundle = _translation_bundle(attention=True)
    # A model that prefers [UNK] above everything at every step.
    target_tokens = vectorization.vocabulary(bundle.vectorizers["target"])
    kernel, bias = bundle.model.get_layer("logits").get_weights()
    bias[target_tokens.index(vectorization.OOV)] = 100.0
    bundle.model.get_layer("logits").set_weights([kernel, bias])
    _, reloaded = _export(bundle, tmp_path)
    out = reloaded.signatures["serving_default"](text=tf.constant(["21 nov 2026"]))
    translation = _strings(out["translation"])[0]
    assert translation and vectorization.OOV not in translation
    assert translation == _python_greedy(bundle, "21 nov 2026")


# === Generators ===


def _generator_bundle(kind):
    keras.utils.set_random_seed(2)
    vectorizer = vectorization.make_vectorizer(
        ["hello world, how are you?\n"], split="character", standardize=None
    )
    size = vectorizer.vocabulary_size()
    if kind == "rnn":
        model = kzoo.build_rnn_generator(vocabulary_size=size, units=16, rnn="gru")
    else:
        model = kzoo.build_gpt(
            vocabulary_size=size,
            max_sequence_length=32,
            num_layers=1,
            hidden_dim=8,
            num_heads=2,
            intermediate_dim=16,
        )
    return ServingBundle(
        model,
        "language_model",
        {"text": vectorizer},
        split="character",
        max_new_tokens=8,
        examples=["hel"],
    )


def _full_prefix_greedy(bundle, prompt, steps):
    """The documents' way: re-run the whole prefix for every new token, take the argmax."""
    ids = list(vectorization.vectorize(bundle.vectorizers["text"], [prompt])[0])
    out = []
    for _ in range(steps):
        logits = bundle.model.predict(np.array([ids]), verbose=0)[0, -1]
        logits[:2] = -np.inf  # never padding or [UNK]
        ids.append(int(logits.argmax()))
        out.append(ids[-1])
    return vectorization.detokenize(
        vectorization.vocabulary(bundle.vectorizers["text"]), out, "character"
    )


@pytest.mark.parametrize("kind", ["rnn", "gpt"])
def test_greedy_generation_with_carried_state_equals_full_prefix_argmax(kind, exported):
    bundle, _, reloaded = exported(kind)
    prompts = ["hel", "how are"]  # different lengths in one batch
    out = reloaded.signatures["serving_default"](prompt=tf.constant(prompts))
    assert _strings(out["text"]) == [_full_prefix_greedy(bundle, p, 8) for p in prompts]


def _sample(signature, prompts, sampler, max_new_tokens=8, **settings):
    """Calls a `sample` signature with kzoo.generate's defaults for what is not given."""
    settings = {"temperature": 1.0, "top_k": 5, "top_p": 0.9, "num_beams": 5, "seed": 0} | settings
    out = signature(
        prompt=tf.constant(prompts),
        max_new_tokens=tf.constant(max_new_tokens),
        sampler=tf.constant(sampler),
        temperature=tf.constant(float(settings["temperature"])),
        top_k=tf.constant(settings["top_k"]),
        top_p=tf.constant(float(settings["top_p"])),
        num_beams=tf.constant(settings["num_beams"]),
        seed=tf.constant(settings["seed"], tf.int64),
    )
    return _strings(out["text"])


@pytest.mark.parametrize("kind", ["rnn", "gpt"])
def test_sampling_is_seeded_and_reduces_to_greedy(kind, exported):
    _, _, reloaded = exported(kind)
    sample = reloaded.signatures["sample"]
    prompts = ["hel", "wo"]
    greedy = _strings(reloaded.signatures["serving_default"](prompt=tf.constant(prompts))["text"])
    assert _sample(sample, prompts, "greedy") == greedy
    for sampler in ("temperature", "top_k", "top_p"):
        # The same seed gives the same text; other seeds, other texts.
        assert _sample(sample, prompts, sampler, seed=5) == _sample(
            sample, prompts, sampler, seed=5
        )
        assert len({str(_sample(sample, prompts, sampler, seed=seed)) for seed in range(4)}) > 1
    assert _sample(sample, prompts, "top_k", top_k=1, seed=9) == greedy  # k = 1 is greedy
    assert _sample(sample, prompts, "top_p", top_p=1e-6, seed=9) == greedy  # so is a tiny p
    assert _sample(sample, prompts, "beam", num_beams=1) == greedy  # and a single beam


@pytest.mark.parametrize("kind", ["rnn", "gpt"])
def test_the_served_sample_signature_and_kzoo_generate_agree_for_every_sampler(kind, exported):
    bundle, _, reloaded = exported(kind)
    prompts, vectorizer = ["hel", "wo", ""], bundle.vectorizers["text"]
    settings = dict(temperature=0.8, top_p=0.8, num_beams=3, seed=11)
    for sampler in SAMPLERS:
        served = _sample(reloaded.signatures["sample"], prompts, sampler, top_k=3, **settings)
        settings_of_generate = {k: v for k, v in settings.items() if k != "top_p"}
        generated = kzoo.generate(
            bundle.model,
            prompts,
            8,
            sampler=sampler,
            k=3,
            p=settings["top_p"],
            vectorizer=vectorizer,
            **settings_of_generate,
        )
        assert served == generated, sampler


def test_the_served_translator_and_kzoo_generate_agree_for_every_sampler(exported):
    bundle, _, reloaded = exported("attention translator")
    sources = ["21 nov 2026", "1 2 3"]
    for sampler in SAMPLERS:
        out = reloaded.signatures["sample"](
            text=tf.constant(sources),
            max_new_tokens=tf.constant(10),
            sampler=tf.constant(sampler),
            temperature=tf.constant(0.7),
            top_k=tf.constant(3),
            top_p=tf.constant(0.8),
            num_beams=tf.constant(3),
            seed=tf.constant(4, tf.int64),
        )
        generated = kzoo.generate(
            bundle.model,
            sources,
            10,
            sampler=sampler,
            temperature=0.7,
            k=3,
            p=0.8,
            num_beams=3,
            seed=4,
            source_vectorizer=bundle.vectorizers["source"],
            target_vectorizer=bundle.vectorizers["target"],
        )
        assert _strings(out["translation"]) == generated, sampler


# === GAN and word2vec ===


def _tiny_gan(ema_momentum=None):
    keras.utils.set_random_seed(3)
    return kzoo.build_gan(
        latent_dim=8,
        image_shape=(4, 4, 1),
        generator_units=(8,),
        discriminator_units=(8,),
        ema_momentum=ema_momentum,
    )


@pytest.mark.parametrize("ema_momentum", [None, 0.5])
def test_gan_images_per_seed(tmp_path, exported, ema_momentum):
    if ema_momentum:  # the average now differs from the trained generator: export serves it
        gan = _tiny_gan(ema_momentum)
        gan.fit(np.zeros((8, 4, 4, 1), "float32"), batch_size=4, epochs=1, verbose=0)
        _, reloaded = _export(ServingBundle(gan, "gan"), tmp_path)
    else:
        bundle, _, reloaded = exported("gan")
        gan = bundle.model
    images = reloaded.signatures["serving_default"](seed=tf.constant([5, 6, 5], tf.int64))[
        "images"
    ].numpy()
    assert images.shape == (3, 4, 4, 1) and images.min() >= 0 and images.max() <= 1
    np.testing.assert_array_equal(images[0], images[2])  # one image per seed, reproducible
    noise = np.random.default_rng(0).normal(size=(2, 8)).astype("float32")
    from_noise = reloaded.signatures["noise"](noise=tf.constant(noise))["images"].numpy()
    np.testing.assert_allclose(
        from_noise, (gan.inference_generator.predict(noise, verbose=0) + 1) / 2, atol=1e-6
    )
    if ema_momentum:
        assert not np.allclose(from_noise, (gan.generator.predict(noise, verbose=0) + 1) / 2)
    sampled = reloaded.signatures["sample"](
        num_images=tf.constant(4), seed=tf.constant(1, tf.int64)
    )
    assert sampled["images"].shape == (4, 4, 4, 1)


@pytest.mark.parametrize("num_images", [0, -3, 1025, 2**31 - 1])
def test_gan_sample_refuses_a_number_of_images_outside_its_limit(exported, num_images):
    # 2**31 - 1 images of 28 x 28 floats would ask for 6 TB before failing.
    _, _, reloaded = exported("gan")
    message = (
        "Invalid value for input num_images. Expected an integer from 1 to 1024, the limit this "
        f"model was exported with. Received: num_images={num_images}"
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape(message)):
        reloaded.signatures["sample"](
            num_images=tf.constant(num_images), seed=tf.constant(1, tf.int64)
        )
    sampled = reloaded.signatures["sample"](
        num_images=tf.constant(1024), seed=tf.constant(1, tf.int64)
    )
    assert sampled["images"].shape == (1024, 4, 4, 1)


def test_word2vec_vectors_by_word(tmp_path):
    vectorizer = vectorization.make_vectorizer(TEXTS)
    model = kzoo.build_word2vec(vocabulary_size=vectorizer.vocabulary_size(), embedding_dim=4)
    _, reloaded = _export(
        ServingBundle(model, "word2vec", {"text": vectorizer}, examples=["good"]), tmp_path
    )
    out = reloaded.signatures["serving_default"](words=tf.constant(["Good", "zebra"]))
    vectors = word2vec_vectors(model)
    tokens = vectorization.vocabulary(vectorizer)
    np.testing.assert_allclose(out["vectors"].numpy()[0], vectors[tokens.index("good")])
    assert out["in_vocabulary"].numpy().tolist() == [True, False]


# === Layout, versions, warm-up, models.config ===


def test_layout_versions_warmup_and_models_config(tmp_path):
    vectorizer = vectorization.make_vectorizer(TEXTS)
    model = kzoo.build_cnn_sentiment(vocabulary_size=vectorizer.vocabulary_size(), filters=4)
    bundle = ServingBundle(
        model, "classification", {"text": vectorizer}, ["neg", "pos"], examples=TEXTS
    )
    base = tmp_path / "saved_models"
    first = export_bundle(bundle, str(base), "reviews")
    second = export_bundle(bundle, str(base), "reviews")
    assert first.endswith("reviews/1") and second.endswith("reviews/2")
    assert sorted(os.listdir(first)) == [
        "assets",
        "assets.extra",
        "fingerprint.pb",
        "saved_model.pb",
        "variables",
    ]
    assert sorted(os.listdir(base)) == ["models.config", "reviews"]  # no staging left behind

    from tensorflow_serving.apis import prediction_log_pb2

    records = list(tf.data.TFRecordDataset(os.path.join(first, WARMUP_FILE)))
    log = prediction_log_pb2.PredictionLog.FromString(records[0].numpy())
    assert log.predict_log.request.model_spec.name == "reviews"
    assert [x.decode() for x in tf.make_ndarray(log.predict_log.request.inputs["text"])] == TEXTS[
        :3
    ]
    config = (base / "models.config").read_text()
    assert 'name: "reviews"' in config and 'base_path: "/models/reviews"' in config

    cli = subprocess.run(
        [
            os.path.join(os.path.dirname(sys.executable), "saved_model_cli"),
            "show",
            "--dir",
            first,
            "--tag_set",
            "serve",
            "--signature_def",
            "serving_default",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "dtype: DT_STRING" in cli.stdout and "inputs['text']" in cli.stdout


@pytest.mark.parametrize("kind", ["gpt", "translation", "gan"])
def test_warmup_requests_cover_the_sample_signature_and_replay(kind, exported):
    # A generator's `sample` loop took seconds to prepare on its first request: past a 1-second
    # deadline, every time, since a stopped request prepares nothing.
    from tensorflow_serving.apis import prediction_log_pb2

    _, path, reloaded = exported("attention translator" if kind == "translation" else kind)
    names = []
    for record in tf.data.TFRecordDataset(os.path.join(path, WARMUP_FILE)):
        request = prediction_log_pb2.PredictionLog.FromString(record.numpy()).predict_log.request
        name = request.model_spec.signature_name
        names.append(name)
        inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        outputs = reloaded.signatures[name](**{k: tf.constant(v) for k, v in inputs.items()})
        assert all(v.shape[0] >= 1 for v in outputs.values()), name
    assert names == ["serving_default", "sample"]


def test_a_failed_export_publishes_nothing(tmp_path):
    base = str(tmp_path / "saved_models")

    def broken(path):
        os.makedirs(path)
        open(os.path.join(path, "saved_model.pb"), "w").close()
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        export_versioned(broken, base, "reviews")
    assert versions(os.path.join(base, "reviews")) == []
    assert not [e for e in os.listdir(base) if e.startswith(".")]


def test_an_existing_version_is_never_overwritten(tmp_path):
    base = tmp_path / "saved_models"
    (base / "reviews" / "1").mkdir(parents=True)
    (base / "reviews" / "1" / "keep.txt").write_text("v1")
    path = export_versioned(lambda p: os.makedirs(p), str(base), "reviews")
    assert path.endswith("reviews/2")
    assert (base / "reviews" / "1" / "keep.txt").read_text() == "v1"


@pytest.mark.parametrize("name", ["../../x", "a/b", ".hidden", "..", "", "naïve", "a b"])
def test_a_model_name_tf_serving_cannot_serve_is_refused_before_anything_is_written(name, tmp_path):
    base = tmp_path / "deep" / "saved_models"
    with pytest.raises(ValueError, match=r"Invalid value for argument name. Expected a model "):
        export_versioned(lambda p: os.makedirs(p), str(base), name)
    assert not (tmp_path / "deep").exists() and not (tmp_path / "x").exists()


def test_kzoo_export_refuses_a_bad_name_in_one_line(tmp_path, capsys):
    from kzoo_cli import main

    status = main(["export", str(tmp_path / "run"), "--name", "../../x", "--export-dir", "sm"])
    error = capsys.readouterr().err
    assert status == 2 and error.count("\n") == 1
    assert "Received: name=../../x" in error
    assert os.listdir(tmp_path) == []  # not even the run folder was looked for


# === Request values checked in the graph ===


def _token_id_error(name, size, bad):
    return (
        rf"assertion failed: \[Invalid value for input {name}\. Expected token ids in "
        rf"\[0, {size}\): the vocabulary has {size} tokens\. Received: a token id of {bad}\]"
    )


def _token_id_case(kind, exported, tmp_path):
    """(bundle, reloaded export, input name, other inputs, vocabulary role, rank) of a token-id
    endpoint."""
    if kind == "translation":
        bundle, _, reloaded = exported("translator")
        return bundle, reloaded, "token_ids", {}, "source", 2
    if kind == "language_model":
        bundle, _, reloaded = exported("gpt")
        return bundle, reloaded, "prompt_ids", {"max_new_tokens": tf.constant(2)}, "text", 2
    keras.utils.set_random_seed(4)
    words = vectorization.make_vectorizer(TEXTS)
    size = words.vocabulary_size()
    if kind == "classification":
        model = kzoo.build_lstm_classifier(vocabulary_size=size, num_classes=2, units=4)
        bundle = ServingBundle(model, kind, {"text": words}, ["a", "b"], examples=TEXTS)
        return bundle, _export(bundle, tmp_path)[1], "token_ids", {}, "text", 2
    model = kzoo.build_word2vec(vocabulary_size=size, embedding_dim=4)
    bundle = ServingBundle(model, kind, {"text": words}, examples=["good"])
    return bundle, _export(bundle, tmp_path)[1], "token_ids", {}, "text", 1


@pytest.mark.parametrize("kind", ["classification", "translation", "language_model", "word2vec"])
def test_token_id_endpoints_refuse_ids_outside_the_vocabulary(kind, exported, tmp_path):
    bundle, reloaded, name, others, role, rank = _token_id_case(kind, exported, tmp_path)
    size = len(vectorization.vocabulary(bundle.vectorizers[role]))
    endpoint = reloaded.signatures["token_ids"]

    def ids(values):
        return tf.constant([values] if rank == 2 else values, tf.int32)

    endpoint(**{name: ids([2, 3]), **others})  # in range: answers
    for bad, expected in (([2, size], size), ([2, -1], -1), ([-7, 10**6], -7)):
        with pytest.raises(
            tf.errors.InvalidArgumentError, match=_token_id_error(name, size, expected)
        ):
            endpoint(**{name: ids(bad), **others})


def _max_new_tokens_error(limit, received):
    return (
        r"assertion failed: \[Invalid value for input max_new_tokens\. Expected an integer from "
        rf"1 to {limit}, the limit this model was exported with\. Received: "
        rf"max_new_tokens={received}\]"
    )


@pytest.mark.parametrize("kind", ["rnn", "gpt"])
def test_max_new_tokens_is_capped_by_the_limit_set_at_export(kind, exported, tmp_path):
    if kind == "gpt":  # by default, the GPT's context: it never generates past it
        _, _, reloaded = exported("gpt")
        limit = 32
    else:
        limit = 10
        path = export_bundle(
            _generator_bundle(kind),
            str(tmp_path / "saved_models"),
            "model",
            max_new_tokens_limit=limit,
        )
        reloaded = tf.saved_model.load(path)

    def sample(max_new_tokens):
        return reloaded.signatures["sample"](
            prompt=tf.constant(["hel"]),
            max_new_tokens=tf.constant(max_new_tokens),
            sampler=tf.constant("greedy"),
            temperature=tf.constant(1.0),
            top_k=tf.constant(0),
            top_p=tf.constant(1.0),
            num_beams=tf.constant(1),
            seed=tf.constant(0, tf.int64),
        )

    def token_ids(max_new_tokens):
        return reloaded.signatures["token_ids"](
            prompt_ids=tf.constant([[3, 4]]), max_new_tokens=tf.constant(max_new_tokens)
        )

    assert sample(limit)["text"].shape == (1,)
    assert token_ids(limit)["token_ids"].shape == (1, limit)
    for endpoint in (sample, token_ids):
        for value in (limit + 1, 100_000_000, 0, -5):
            with pytest.raises(
                tf.errors.InvalidArgumentError, match=_max_new_tokens_error(limit, value)
            ):
                endpoint(value)


def test_an_rnn_generator_defaults_to_the_default_limit(exported):
    from kzoo.signatures import DEFAULT_MAX_NEW_TOKENS_LIMIT

    _, _, reloaded = exported("rnn")
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=_max_new_tokens_error(DEFAULT_MAX_NEW_TOKENS_LIMIT, DEFAULT_MAX_NEW_TOKENS_LIMIT + 1),
    ):
        reloaded.signatures["token_ids"](
            prompt_ids=tf.constant([[3]]),
            max_new_tokens=tf.constant(DEFAULT_MAX_NEW_TOKENS_LIMIT + 1),
        )


def test_max_new_tokens_limit_must_be_positive(tmp_path):
    with pytest.raises(
        ValueError,
        match="Invalid value for argument max_new_tokens_limit. Expected a positive integer. "
        "Received: max_new_tokens_limit=0",
    ):
        export_bundle(_generator_bundle("rnn"), str(tmp_path), "model", max_new_tokens_limit=0)


def test_kzoo_export_passes_the_max_new_tokens_limit(monkeypatch, capsys):
    import kzoo.export
    from kzoo_cli import main

    calls = []

    def fake_export_run(run_dir, **options):
        calls.append((run_dir, options))
        return "saved_models/gpt/1"

    monkeypatch.setattr(kzoo.export, "export_run", fake_export_run)
    assert main(["export", "runs/gpt", "--max-new-tokens-limit", "64"]) == 0
    assert calls == [
        (
            "runs/gpt",
            {"export_dir": "saved_models", "name": None, "max_new_tokens_limit": 64},
        )
    ]
