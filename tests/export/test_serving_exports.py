"""kzoo's exports, served by `kzoo serve`, answer raw inputs over REST and gRPC for every kind
of model: the whole path a deployment takes."""

import keras
import numpy as np
import pytest

import kzoo
from kzoo.data import vectorization
from kzoo.export import export_bundle
from kzoo.serving import Client, ModelServer, ServingError
from kzoo.signatures import ServingBundle

TEXTS = ["the film was good", "not good at all", "a dull movie"]
TAGGED = "Anna Smith lives in Oslo."
TAGGED_WORDS = ["Anna", "Smith", "lives", "in", "Oslo", "."]  # as serving_default splits it
ENTITY_TAGS = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]


def _lookup_tagger(words, tags_of_words):
    """A tagger that tags each word by a table, so that its entities are known."""
    vocabulary = vectorization.vocabulary(words)
    table = np.zeros((len(vocabulary), len(ENTITY_TAGS) + 1), "float32")
    for row, word in enumerate(vocabulary):
        table[row, 1 + ENTITY_TAGS.index(tags_of_words.get(word, "O"))] = 1.0
    token_ids = keras.Input((None,), dtype="int32", name="token_ids")
    characters = keras.Input((None, None), dtype="int32", name="character_ids")
    initializer = keras.initializers.Constant(table)
    tags = keras.layers.Embedding(
        len(vocabulary), table.shape[1], embeddings_initializer=initializer
    )
    return keras.Model({"token_ids": token_ids, "character_ids": characters}, tags(token_ids))


def _bundles():
    keras.utils.set_random_seed(0)
    words = vectorization.make_vectorizer(TEXTS)
    chars = vectorization.make_vectorizer(["hello world\n"], split="character", standardize=None)
    source = vectorization.make_vectorizer(["21 nov 2026"], split="character", standardize=None)
    target = vectorization.make_vectorizer(
        ["2026-11-21"],
        split="character",
        standardize=None,
        reserved_tokens=(vectorization.START, vectorization.END),
    )
    size = words.vocabulary_size()
    tokens = vectorization.make_vectorizer(TAGGED_WORDS, split=None, standardize="lower")
    letters = vectorization.make_vectorizer([TAGGED], split="character", standardize=None)
    return {
        "tagger": ServingBundle(
            _lookup_tagger(tokens, {"anna": "B-PER", "smith": "I-PER", "oslo": "B-LOC"}),
            "token_classification",
            {"text": tokens, "characters": letters},
            ENTITY_TAGS,
            examples=[TAGGED],
        ),
        "reviews": ServingBundle(
            kzoo.build_lstm_classifier(vocabulary_size=size, num_classes=3, units=4),
            "classification",
            {"text": words},
            ["bad", "fine", "good"],
            examples=TEXTS,
        ),
        "dates": ServingBundle(
            kzoo.build_attention_seq2seq(
                source_vocabulary_size=source.vocabulary_size(),
                target_vocabulary_size=target.vocabulary_size(),
                latent_dim=8,
                embedding_dim=4,
            ),
            "translation",
            {"source": source, "target": target},
            split="character",
            max_decode_length=10,
            examples=["21 nov 2026"],
        ),
        "writer": ServingBundle(
            kzoo.build_gpt(
                vocabulary_size=chars.vocabulary_size(),
                max_sequence_length=24,
                num_layers=1,
                hidden_dim=8,
                num_heads=2,
                intermediate_dim=16,
            ),
            "language_model",
            {"text": chars},
            split="character",
            max_new_tokens=5,
            examples=["hel"],
        ),
        "digits": ServingBundle(
            kzoo.build_gan(
                latent_dim=4, image_shape=(3, 3, 1), generator_units=(4,), discriminator_units=(4,)
            ),
            "gan",
        ),
        "vectors": ServingBundle(
            kzoo.build_word2vec(vocabulary_size=size, embedding_dim=4),
            "word2vec",
            {"text": words},
            examples=["good"],
        ),
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("saved_models")
    for name, bundle in _bundles().items():
        export_bundle(bundle, str(base), name)
    with ModelServer(model_base_path=str(base), rest_port=0, grpc_port=0) as running:
        yield running


def test_every_model_kind_answers_raw_input_over_rest(server):
    client = Client(server.rest_url)
    reviews = client.predict("reviews", {"text": ["a good film", "dull"]})
    assert reviews["scores"].shape == (2, 3)
    assert {label.decode() for label in reviews["label"]} <= {"bad", "fine", "good"}
    dates = client.predict("dates", {"text": ["3 may 1999"]})
    assert dates["translation"].shape == (1,) and dates["attention"].shape[0] == 1
    writer = client.predict("writer", {"prompt": ["hel", "wo"]})
    assert [len(t.decode()) for t in writer["text"]] == [5, 5]
    sampled = client.predict(
        "writer",
        {
            "prompt": ["hel"],
            "max_new_tokens": 3,
            "sampler": "top_k",
            "temperature": 0.8,
            "top_k": 2,
            "top_p": 1.0,
            "num_beams": 1,
            "seed": 7,
        },
        signature_name="sample",
    )
    assert len(sampled["text"][0].decode()) == 3
    digits = client.predict("digits", {"seed": [1, 2]})
    assert digits["images"].shape == (2, 3, 3, 1)
    vectors = client.predict("vectors", {"words": ["good", "unseen"]})
    assert vectors["vectors"].shape == (2, 4) and vectors["in_vocabulary"].tolist() == [True, False]


def test_a_tagger_answers_tokens_tags_and_entity_spans_over_rest(server):
    client = Client(server.rest_url)
    tagged = client.predict("tagger", {"text": [TAGGED, "in Oslo!", ""]})
    tokens = [[t.decode() for t in row] for row in tagged["tokens"]]
    assert tokens == [
        ["Anna", "Smith", "lives", "in", "Oslo", "."],
        ["in", "Oslo", "!", "", "", ""],
        ["", "", "", "", "", ""],
    ]
    assert [t.decode() for t in tagged["tags"][0]] == ["B-PER", "I-PER", "O", "O", "B-LOC", "O"]
    assert tagged["token_starts"][1].tolist() == [0, 3, 7, -1, -1, -1]
    assert tagged["token_ends"][1].tolist() == [2, 7, 8, -1, -1, -1]
    assert [e.decode() for e in tagged["entities"][0]] == ["Anna Smith", "Oslo"]
    assert [e.decode() for e in tagged["entity_types"][0]] == ["PER", "LOC"]
    assert tagged["entity_starts"].tolist() == [[0, 20], [3, -1], [-1, -1]]
    assert tagged["entity_ends"].tolist() == [[10, 24], [7, -1], [-1, -1]]
    # As a row request (curl's), and from ids.
    status, body = client.request("POST", "/v1/models/tagger:predict", {"instances": [TAGGED]})
    assert status == 200 and body["predictions"][0]["entities"] == ["Anna Smith", "Oslo"]
    ids = client.predict(
        "tagger",
        {"token_ids": [[2, 3, 0]], "character_ids": [[[2, 3], [4, 0], [0, 0]]]},
        signature_name="token_ids",
    )
    assert ids["tag_ids"].shape == (1, 3) and ids["tag_ids"][0, 2] == 0
    assert ids["scores"].shape == (1, 3, len(ENTITY_TAGS) + 1)
    # Characters of other words than token_ids' are refused in Keras' words; serving goes on.
    with pytest.raises(ServingError, match=r"input character_ids. Expected \(batch, words, ch"):
        client.predict(
            "tagger",
            {"token_ids": [[2, 3, 0]], "character_ids": [[[2, 3], [4, 0]]]},
            signature_name="token_ids",
        )
    assert client.predict("tagger", {"text": ["Oslo"]})["tags"].tolist() == [[b"B-LOC"]]


def test_grpc_answers_like_rest(server):
    rest, grpc = Client(server.rest_url), Client(server.grpc_target, grpc=True)
    inputs = {"text": ["a good film", "not good"]}
    np.testing.assert_allclose(
        rest.predict("reviews", inputs)["scores"],
        grpc.predict("reviews", inputs)["scores"],
        atol=1e-6,
    )
    assert rest.status("reviews")[0]["state"] == "AVAILABLE"


def test_curl_style_row_request_and_metadata(server):
    status, body = Client(server.rest_url).request(
        "POST", "/v1/models/reviews:predict", {"instances": ["a good film"]}
    )
    assert status == 200 and set(body["predictions"][0]) == {"label", "label_id", "scores"}
    status, metadata = Client(server.rest_url).request("GET", "/v1/models/reviews/metadata")
    inputs = metadata["metadata"]["signature_def"]["signature_def"]["serving_default"]["inputs"]
    assert inputs["text"]["dtype"] == "DT_STRING"


def test_out_of_range_request_values_are_400_with_the_graph_check_message(server):
    client = Client(server.rest_url)
    cap = (
        "assertion failed: [Invalid value for input max_new_tokens. Expected an integer from 1 to "
        "24, the limit this model was exported with. Received: max_new_tokens={}]\n\t [[{{{{node "
    )
    for value in (100_000_000, 0):
        status, body = client.request(
            "POST",
            "/v1/models/writer:predict",
            {
                "signature_name": "sample",
                "inputs": {
                    "prompt": ["hel"],
                    "max_new_tokens": value,
                    "sampler": "greedy",
                    "temperature": 1.0,
                    "top_k": 0,
                    "top_p": 1.0,
                    "num_beams": 1,
                    "seed": 1,
                },
            },
        )
        assert status == 400 and body["error"].startswith(cap.format(value)), body
    size = len(vectorization.vocabulary(_bundles()["reviews"].vectorizers["text"]))
    for bad in (size, -1):
        status, body = client.request(
            "POST",
            "/v1/models/reviews:predict",
            {"signature_name": "token_ids", "inputs": {"token_ids": [[2, bad]]}},
        )
        assert status == 400
        assert body["error"].startswith(
            "assertion failed: [Invalid value for input token_ids. Expected token ids in "
            f"[0, {size}): the vocabulary has {size} tokens. Received: a token id of {bad}]"
        ), body
    with pytest.raises(ServingError, match=r"Received: max_new_tokens=25\]") as caught:
        Client(server.grpc_target, grpc=True).predict(
            "writer",
            {"prompt_ids": [[3, 4]], "max_new_tokens": 25},
            signature_name="token_ids",
        )
    assert caught.value.code == "INVALID_ARGUMENT"
    assert client.predict("writer", {"prompt": ["hel"]})["text"].shape == (1,)  # still serving
