"""Attention pictures (`kzoo.plot`), the weights behind them (`kzoo.attention`) and the
`kzoo attention` command, on tiny runs trained here."""

import json
import os
import shutil
import struct

import keras
import numpy as np
import pytest

import kzoo
from kzoo import plot
from kzoo.attention import attention_for
from kzoo.data import vectorization
from kzoo.models.attention_seq2seq import attention_scores_model
from kzoo_cli import main as kzoo_main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path):
    """(width, height) of a PNG, read from its IHDR chunk; checks the file is a PNG."""
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == PNG_SIGNATURE and head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def read_png(path):
    import matplotlib.image

    return matplotlib.image.imread(path)


# === kzoo.plot ===


def test_attention_writes_a_png_that_grows_with_the_tokens(tmp_path):
    weights = np.array([[0.7, 0.2, 0.1, 0.0], [0.1, 0.1, 0.2, 0.6], [0.25, 0.25, 0.25, 0.25]])
    path = tmp_path / "new" / "folder" / "attention.png"  # missing folders are created
    written = plot.attention(["s", "a", "t", " "], ["2", "0", "[end]"], weights, path)
    assert written == str(path)
    width, height = png_size(written)
    assert 250 <= width <= 800 and 200 <= height <= 600
    assert 2_000 < os.path.getsize(written) < 200_000
    pixels = read_png(written)
    assert pixels.shape[:2] == (height, width) and pixels.std() > 0.05  # decodes, not blank

    source = [f"w{i}" for i in range(30)]
    target = [f"v{i}" for i in range(20)]
    rng = np.random.default_rng(0)
    larger = plot.attention(
        source, target, rng.dirichlet(np.ones(30), size=20), tmp_path / "larger.png"
    )
    larger_width, larger_height = png_size(larger)
    assert larger_width > width + 500 and larger_height > height + 400
    assert os.path.getsize(larger) < 200_000


def test_attention_heads_writes_a_grid_of_four_columns(tmp_path):
    tokens = ["not", "good", "at", "all", "[UNK]"]
    rng = np.random.default_rng(0)
    two = plot.attention_heads(tokens, rng.dirichlet(np.ones(5), size=(2, 5)), tmp_path / "2.png")
    six = plot.attention_heads(tokens, rng.dirichlet(np.ones(5), size=(6, 5)), tmp_path / "6.png")
    (two_width, two_height), (six_width, six_height) = png_size(two), png_size(six)
    assert 300 <= two_width <= 1200 and 150 <= two_height <= 600
    # Six heads: four panels on a first row, two on a second.
    assert six_width > 1.5 * two_width and six_height > 1.6 * two_height
    assert read_png(six).std() > 0.05
    assert os.path.getsize(six) < 200_000


def test_attention_rejects_weights_that_do_not_fit_the_tokens(tmp_path):
    with pytest.raises(
        ValueError,
        match=r"argument weights\. Expected an array of shape \(2, 3\), one row per target "
        r"token and one column per source token\. Received: weights\.shape=\(3, 2\)",
    ):
        plot.attention(["a", "b", "c"], ["x", "y"], np.zeros((3, 2)), tmp_path / "a.png")
    assert not (tmp_path / "a.png").exists()


def test_attention_rejects_empty_tokens(tmp_path):
    with pytest.raises(
        ValueError,
        match=r"argument source_tokens\. Expected a non-empty list of str\. "
        r"Received: source_tokens=\[\]",
    ):
        plot.attention([], ["x"], np.zeros((1, 0)), tmp_path / "a.png")


def test_attention_heads_rejects_weights_that_do_not_fit_the_tokens(tmp_path):
    with pytest.raises(
        ValueError,
        match=r"argument weights\. Expected an array of shape \(num_heads, 3, 3\), one "
        r"\(len\(query_tokens\), len\(tokens\)\) map per head\. "
        r"Received: weights\.shape=\(1, 4, 3, 3\)",
    ):
        plot.attention_heads(["a", "b", "c"], np.zeros((1, 4, 3, 3)), tmp_path / "h.png")


def test_attention_heads_rejects_a_string_as_tokens(tmp_path):
    with pytest.raises(
        ValueError, match=r"argument tokens\. Expected a non-empty list of str\. Received: tokens="
    ):
        plot.attention_heads("abc", np.zeros((2, 3, 3)), tmp_path / "h.png")


# === Tiny trained runs ===


def _train(recipe, run_dir, *options):
    argv = ["--epochs", "1", "--no-xla", "--no-export", "--output-dir", str(run_dir)]
    assert kzoo_main(["train", recipe, *argv, *options]) == 0
    return run_dir


@pytest.fixture(scope="module")
def seq2seq_run(tmp_path_factory):
    return _train(
        "attention_seq2seq",
        tmp_path_factory.mktemp("attention_seq2seq"),
        *("--num-examples", "300", "--max-decode-length", "12"),
        *("--set", "model_args.latent_dim=8", "--set", "model_args.embedding_dim=8"),
    )


@pytest.fixture(scope="module")
def mha_run(tmp_path_factory):
    return _train(
        "mha_classifier",
        tmp_path_factory.mktemp("mha_classifier"),
        *("--num-examples", "400", "--set", "model_args.embedding_dim=16"),
    )


def _vocabulary(run_dir, filename):
    return vectorization.load_vocabulary(os.path.join(run_dir, filename))


def test_seq2seq_attention_is_the_teacher_forced_attention_of_its_translation(seq2seq_run):
    sentence = "Sat, 19 May 2074"
    source, target, weights, kind = attention_for(str(seq2seq_run), sentence)
    assert kind == "seq2seq"
    source_vocabulary = _vocabulary(seq2seq_run, "source_vocabulary.txt")
    target_vocabulary = _vocabulary(seq2seq_run, "target_vocabulary.txt")
    # Character level, lower-cased: one column per character, [UNK] for unseen ones.
    assert source == [c if c in source_vocabulary else "[UNK]" for c in sentence.lower()]
    assert 1 <= len(target) <= 12 and (target[-1] == "[end]" or len(target) == 12)
    assert "[end]" not in target[:-1] and "" not in target and "[start]" not in target
    assert weights.shape == (len(target), len(source))
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)

    # Fed its own translation, the teacher-forced model attends exactly as greedy decoding did,
    # and its argmax (padding and [start] excluded) picks that translation again.
    model = keras.models.load_model(os.path.join(seq2seq_run, "model.keras"))
    target_ids = [target_vocabulary.index(t) for t in target]
    start = target_vocabulary.index("[start]")
    batch = {
        "encoder_token_ids": np.array([[source_vocabulary.index(t) for t in source]]),
        "decoder_token_ids": np.array([[start, *target_ids[:-1]]]),
    }
    logits, expected = attention_scores_model(model).predict(batch, verbose=0)
    np.testing.assert_allclose(weights, expected[0], atol=1e-5)
    logits[..., [0, start]] = -np.inf
    assert logits[0].argmax(-1).tolist() == target_ids


def test_self_attention_equals_softmax_of_scaled_query_key_products(mha_run):
    source, target, weights, kind = attention_for(str(mha_run), "Not good at all: a DULL film!")
    assert kind == "self_attention"
    vocabulary = _vocabulary(mha_run, "vocabulary.txt")
    words = ["not", "good", "at", "all", "a", "dull", "film"]  # lower-cased, punctuation gone
    assert source == target == [w if w in vocabulary else "[UNK]" for w in words]
    assert weights.shape == (4, 7, 7)  # 4 heads (the recipe's default)

    # By hand: softmax(q k^T / sqrt(key_dim)) per head, from the layer's own weights.
    model = keras.models.load_model(os.path.join(mha_run, "model.keras"))
    ids = np.array([[vocabulary.index(t) for t in source]])
    embedded = keras.ops.convert_to_numpy(model.get_layer("embedding")(ids))[0]
    layer = model.get_layer("self_attention")

    def project(dense):
        kernel, bias = (keras.ops.convert_to_numpy(w) for w in dense.weights)
        return np.einsum("td,dhk->thk", embedded, kernel) + bias

    query, key = project(layer.query_dense), project(layer.key_dense)
    scores = np.einsum("qhk,shk->hqs", query, key) / np.sqrt(query.shape[-1])
    expected = np.exp(scores - scores.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(weights, expected, atol=1e-5)


def test_cli_writes_the_seq2seq_picture(seq2seq_run, tmp_path, capsys):
    output = tmp_path / "pictures" / "dates.png"
    assert kzoo_main(["attention", str(seq2seq_run), "01-APR-2038", "--output", str(output)]) == 0
    assert capsys.readouterr().out.strip() == str(output)
    width, height = png_size(output)
    assert width >= 300 and height >= 250


def test_cli_writes_the_heads_picture_into_the_run_by_default(mha_run, capsys):
    assert kzoo_main(["attention", str(mha_run), "a gripping, lovely film"]) == 0
    path = os.path.join(mha_run, "attention.png")
    assert capsys.readouterr().out.strip() == path
    width, height = png_size(path)
    assert width > 2 * height  # four heads side by side


def _fake_run(run_dir, tmp_path, model, recipe):
    """A copy of a real run folder whose model is `model`, as a run of `recipe` would be."""
    fake = tmp_path / recipe
    shutil.copytree(run_dir, fake, ignore=shutil.ignore_patterns("*.png"))
    model.save(fake / "model.keras")
    config = json.loads((fake / "config.json").read_text())
    config.update(recipe=recipe, model=recipe)
    (fake / "config.json").write_text(json.dumps(config))
    return fake


def test_a_classifier_without_attention_is_refused(mha_run, tmp_path, capsys):
    model = kzoo.build_lstm_classifier(vocabulary_size=50, units=4)
    fake = _fake_run(mha_run, tmp_path, model, "lstm_classifier")
    with pytest.raises(
        ValueError,
        match=r"argument run_dir\. Expected the run folder of a model with attention .*"
        r"a classification run of model 'lstm_classifier', which has no attention layer",
    ):
        attention_for(str(fake), "a fine film")
    # The command says so on stderr and writes nothing.
    assert kzoo_main(["attention", str(fake), "a fine film"]) == 2
    assert "kzoo attention: error: Invalid value for argument run_dir" in capsys.readouterr().err
    assert not (fake / "attention.png").exists()


def test_a_seq2seq_without_attention_is_refused(seq2seq_run, tmp_path):
    model = kzoo.build_seq2seq(source_vocabulary_size=40, target_vocabulary_size=20, latent_dim=4)
    fake = _fake_run(seq2seq_run, tmp_path, model, "seq2seq")
    with pytest.raises(
        ValueError,
        match=r"a translation run of model 'seq2seq', which has no attention layer",
    ):
        attention_for(str(fake), "01-APR-2038")


def test_an_empty_sentence_is_refused(seq2seq_run):
    with pytest.raises(
        ValueError,
        match=r"argument sentence\. Expected a non-empty string\. Received: sentence='  '",
    ):
        attention_for(str(seq2seq_run), "  ")
