import numpy as np
import pytest
import tensorflow as tf

from kzoo.data import pipeline


def test_vectorizer_adapts_on_training_texts_only_and_reserves_tokens():
    vectorizer = pipeline.make_vectorizer(
        ["the cat sat", "the dog"], reserved_tokens=(pipeline.START, pipeline.END)
    )
    tokens = pipeline.vocabulary(vectorizer)
    assert tokens[:5] == ["", "[UNK]", "[start]", "[end]", "the"]
    # A word never seen in training maps to [UNK] (id 1).
    assert pipeline.vectorize(vectorizer, ["the bird"])[0].tolist() == [4, 1]


def test_character_vocabulary_round_trips_through_a_file(tmp_path):
    vectorizer = pipeline.make_vectorizer(["ab\nc\t"], split="character", standardize=None)
    path = tmp_path / "vocabulary.txt"
    pipeline.save_vocabulary(vectorizer, path)
    assert pipeline.load_vocabulary(path) == pipeline.vocabulary(vectorizer)
    assert "\n" in pipeline.load_vocabulary(path)


def test_max_tokens_caps_the_vocabulary():
    vectorizer = pipeline.make_vectorizer(["a a a b b c"], max_tokens=4)
    assert pipeline.vocabulary(vectorizer) == ["", "[UNK]", "a", "b"]


def test_vectorize_truncates_and_keeps_empty_texts_one_step_long():
    vectorizer = pipeline.make_vectorizer(["a b c d"])
    tokens = pipeline.vocabulary(vectorizer)
    ids = pipeline.vectorize(vectorizer, ["a b c d", "!!!"], max_length=2)
    assert [x.tolist() for x in ids] == [[tokens.index("a"), tokens.index("b")], [1]]


def test_buckets_pad_each_batch_to_its_boundary_only():
    lengths = [2, 3, 3, 4, 9, 10, 11, 30]
    ids = [np.arange(1, n + 1, dtype="int32") for n in lengths]
    boundaries = pipeline.bucket_boundaries(lengths, num_buckets=2)
    dataset = pipeline.classification_dataset(ids, [0] * 8, batch_size=4, boundaries=boundaries)
    widths = sorted(x.shape[1] for x, _ in dataset)
    # Short sentences are batched together and padded to their own boundary, not to 30.
    assert widths[0] < 30 and all(w + 1 in boundaries for w in widths)
    total = sum(int(np.count_nonzero(x)) for x, _ in dataset)
    assert total == sum(lengths)


def test_bucket_boundaries_cover_the_longest_sequence():
    boundaries = pipeline.bucket_boundaries([5, 7, 100], num_buckets=4)
    assert boundaries == sorted(boundaries) and boundaries[-1] > 100
    assert all((b - 1) % 8 == 0 for b in boundaries)


def test_translation_dataset_shifts_the_target_for_teacher_forcing():
    dataset = pipeline.translation_dataset(
        [np.array([5, 6, 7]), np.array([8])],
        [np.array([9]), np.array([10, 11])],
        start_id=2,
        end_id=3,
        batch_size=2,
    )
    inputs, targets = next(iter(dataset))
    assert inputs["encoder_token_ids"].numpy().tolist() == [[5, 6, 7], [8, 0, 0]]
    assert inputs["decoder_token_ids"].numpy().tolist() == [[2, 9, 0], [2, 10, 11]]
    assert targets.numpy().tolist() == [[9, 3, 0], [10, 11, 3]]


def test_language_model_windows_are_shifted_by_one():
    stream = np.arange(1, 17)  # three windows of 4 + 1
    dataset = pipeline.language_model_dataset(stream, sequence_length=4, batch_size=2)
    (x, y), (last_x, _) = list(dataset)
    assert x.numpy().tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    assert y.numpy().tolist() == [[2, 3, 4, 5], [6, 7, 8, 9]]
    assert last_x.numpy().tolist() == [[9, 10, 11, 12]]  # evaluation keeps every window
    training = pipeline.language_model_dataset(stream, 4, batch_size=2, shuffle=True)
    assert [int(x.shape[0]) for x, _ in training] == [2]  # training batches share one shape


def test_language_model_random_offsets_move_the_windows_each_epoch():
    stream = np.arange(1, 42)  # ten windows of 4 + 1 at offset 0, nine at any other
    dataset = pipeline.language_model_dataset(
        stream, 4, batch_size=2, shuffle=True, seed=3, random_offsets=True
    )
    assert int(dataset.cardinality()) == 4  # nine windows, whatever the offset
    offsets = set()
    for _ in range(6):
        batches = list(dataset)
        assert len(batches) == 4
        x = np.concatenate([b[0].numpy() for b in batches])
        y = np.concatenate([b[1].numpy() for b in batches])
        np.testing.assert_array_equal(y, x + 1)  # targets are the next tokens
        np.testing.assert_array_equal(x[:, 1:], x[:, :-1] + 1)  # windows are contiguous
        # Eight of the nine windows (the last batch is incomplete and dropped), all cut at one
        # offset: non-overlapping.
        cuts = set(((x[:, 0] - 1) % 4).tolist())
        assert len(cuts) == 1 and len(set(x[:, 0].tolist())) == 8
        offsets |= cuts
    assert len(offsets) > 1 and offsets <= {0, 1, 2, 3}
    # Evaluation, and training without the option, keep the fixed cut.
    fixed = pipeline.language_model_dataset(stream, 4, batch_size=2, shuffle=True, seed=3)
    starts = {int(x.numpy()[:, 0].min()) for x, _ in fixed}
    assert min(starts) == 1 and len(list(fixed)) == 5


def test_language_model_rejects_a_window_longer_than_the_text():
    with pytest.raises(
        ValueError, match="Expected at most 3, the length of the token stream minus one"
    ):
        pipeline.language_model_dataset(np.arange(1, 5), sequence_length=8, batch_size=1)


def test_shuffled_pipelines_are_seeded():
    ids = [np.array([i + 1]) for i in range(20)]

    def order(seed):
        ds = pipeline.classification_dataset(ids, list(range(20)), 20, shuffle=True, seed=seed)
        return next(iter(ds))[1].numpy().tolist()

    assert order(1) == order(1) and order(1) != order(2)


def test_detokenize_stops_at_end_and_joins_by_split():
    tokens = ["", "[UNK]", "[start]", "[end]", "a", "b"]
    assert pipeline.detokenize(tokens, [2, 4, 5, 3, 4], "whitespace") == "a b"
    assert pipeline.detokenize(tokens, [4, 5, 0], "character") == "ab"


def test_array_dataset_batches_dicts():
    ds = pipeline.array_dataset(
        {"x": np.zeros((5, 2))}, np.ones(5), batch_size=2, drop_remainder=True
    )
    assert [int(tf.shape(x["x"])[0]) for x, _ in ds] == [2, 2]


# === Punctuation as tokens ===

SENTENCES = [
    "Two young, White males are outside near many bushes.",
    "A man's T-shirt (red) costs $3.50 at 10:30!",
    'She said "don\'t go" -- then left...',
    "Zwei Mädchen, die „Spaß“ haben.",
    "Rock'n'roll and/or U.S. jazz?",
]


@pytest.mark.parametrize("standardize", ["split_punctuation", "lower_and_split_punctuation"])
def test_punctuation_tokens_round_trip_through_ids(standardize):
    vectorizer = pipeline.make_vectorizer(
        SENTENCES, standardize=standardize, reserved_tokens=(pipeline.START, pipeline.END)
    )
    tokens = pipeline.vocabulary(vectorizer)
    for ids, sentence in zip(pipeline.vectorize(vectorizer, SENTENCES), SENTENCES):
        expected = sentence.lower() if standardize.startswith("lower") else sentence
        assert pipeline.detokenize(tokens, ids, "whitespace", standardize) == expected
    # Marks are tokens of their own; marks inside words stay there.
    for token in (",", ".", "(", ")", "$", "!", '"', "'s", "'t", "t-shirt", "3.50", "u.s"):
        assert (
            token
            if standardize.startswith("lower")
            else token.replace("t-", "T-").replace("u.s", "U.S")
        ) in tokens


def test_split_punctuation_tokens():
    tokens = pipeline.split_punctuation(SENTENCES[1:3]).numpy()
    assert tokens[0].decode().split() == [
        "A", "man", "'s", "T-shirt", "(", "red", ")", "costs", "$", "3.50", "at", "10:30", "!"
    ]  # fmt: skip
    assert tokens[1].decode().split() == [
        "She", "said", '"', "don", "'t", "go", '"', "-", "-", "then", "left", ".", ".", "."
    ]  # fmt: skip


def test_lower_and_split_punctuation_lowers_all_letters():
    out = pipeline.lower_and_split_punctuation(["ÜBER ÄRGER."]).numpy()[0].decode()
    assert out.split() == ["über", "ärger", "."]


@pytest.mark.parametrize(
    "words, text",
    [
        (["a", "man", "."], "a man."),
        (["(", "a", ")"], "(a)"),
        (["don", "'t", "stop", "!"], "don't stop!"),
        (['"', "hi", '"', ",", "he", "said", ",", '"', "bye", '"'], '"hi", he said, "bye"'),
        (["wait", ".", ".", "."], "wait..."),
        (["a", "-", "-", "b"], "a -- b"),
        (["„", "Spaß", "“", "."], "„Spaß“."),
        ([], ""),
    ],
)
def test_join_words_in_python_and_in_graph(words, text):
    assert pipeline.join_words(words) == text
    rows = tf.ragged.constant([words, ["x", "."], words], dtype=tf.string)
    joined = [t.decode() for t in pipeline.join_words_tensor(rows).numpy()]
    assert joined == [text, "x.", text]  # quotes are counted per row


def test_detokenized_references_score_bleu_100():
    import sacrebleu

    vectorizer = pipeline.make_vectorizer(
        SENTENCES, standardize="split_punctuation", reserved_tokens=(pipeline.START, pipeline.END)
    )
    tokens = pipeline.vocabulary(vectorizer)
    texts = [
        pipeline.detokenize(tokens, ids, "whitespace", "split_punctuation")
        for ids in pipeline.vectorize(vectorizer, SENTENCES)
    ]
    assert sacrebleu.corpus_bleu(texts, [SENTENCES]).score == pytest.approx(100.0)
    # Joined with plain spaces, as before, the same tokens score far lower.
    spaced = [
        pipeline.detokenize(tokens, ids, "whitespace")
        for ids in pipeline.vectorize(vectorizer, SENTENCES)
    ]
    assert sacrebleu.corpus_bleu(spaced, [SENTENCES]).score < 70


def test_punctuation_vectorizer_survives_serialization():
    import keras

    vectorizer = pipeline.make_vectorizer(SENTENCES, standardize="split_punctuation")
    config = keras.saving.serialize_keras_object(vectorizer)
    import json

    restored = keras.saving.deserialize_keras_object(json.loads(json.dumps(config)))
    assert restored.get_config()["standardize"] is pipeline.split_punctuation
    assert pipeline.splits_punctuation(restored)
    np.testing.assert_array_equal(
        restored(tf.constant(SENTENCES)).to_tensor().numpy(),
        vectorizer(tf.constant(SENTENCES)).to_tensor().numpy(),
    )


def test_standardizer_names():
    from kzoo.training.config import SETTINGS

    assert SETTINGS["standardize"].choices == pipeline.STANDARDIZATIONS
    assert pipeline.standardizer("lower_and_split_punctuation") is (
        pipeline.lower_and_split_punctuation
    )
    assert pipeline.standardizer("lower") == "lower" and pipeline.standardizer("none") is None
    with pytest.raises(ValueError, match="Invalid value for argument standardize"):
        pipeline.standardizer("split_everything")
