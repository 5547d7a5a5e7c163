"""BiLSTM sequence tagger: word embeddings and a character encoder per word, stacked BiLSTMs,
a softmax over tags at every token (part-of-speech tagging, named entities)."""

import keras
import numpy as np
from keras import ops

from kzoo import testing, validation
from kzoo.layers import LSTM, MaskedConv1D, MaskedGlobalMaxPooling1D
from kzoo.registry import TinyConfig, register_model

CHARACTER_ENCODERS = ("lstm", "cnn")


def crop_characters(character_ids, max_word_length):
    """Keeps at most `max_word_length` characters of each word: a longer word keeps its first
    and last halves (prefixes and suffixes carry what a tagger reads in characters).

    Args:
        character_ids: int tensor `(..., characters)`, post-padded with 0.
        max_word_length: int. Characters kept per word.

    Returns:
        An int tensor `(..., min(characters, max_word_length))`.

    Example:

    >>> ids = np.array([[1, 2, 3, 4, 5, 6, 7], [1, 2, 0, 0, 0, 0, 0]])
    >>> ops.convert_to_numpy(crop_characters(ids, 4)).tolist()
    [[1, 2, 6, 7], [1, 2, 0, 0]]
    """
    width = ops.shape(character_ids)[-1]
    if isinstance(width, int) and width <= max_word_length:
        return character_ids
    lengths = ops.sum(ops.cast(ops.not_equal(character_ids, 0), "int32"), axis=-1, keepdims=True)
    kept = ops.minimum(width, max_word_length)
    head = max_word_length - max_word_length // 2
    position = ops.arange(kept, dtype="int32")
    # Position p reads character p, or, past the head of a long word, the p-th from its tail.
    tail = lengths - max_word_length + position
    source = ops.where((lengths > max_word_length) & (position >= head), tail, position)
    return ops.take_along_axis(character_ids, source, axis=-1)


@keras.saving.register_keras_serializable(package="kzoo")
class CharacterEncoder(keras.layers.Layer):
    """One vector per word from its characters: a BiLSTM's last states, or a CNN max-pooled.

    Words are `(batch, words, characters)` character ids, post-padded with 0; each word is
    encoded on its own, so that a word unseen in training still gets a vector from its
    spelling. Padded characters are masked; so is a padded word (no character at all), which
    the layer's output mask marks.

    Args:
        vocabulary_size: int. Number of character ids, padding (0) included.
        embedding_dim: int. Width of the character embedding. Defaults to `25`.
        units: int. Width of the word vector: each LSTM direction gives half, or the CNN's
            filters. Defaults to `50`.
        encoder: str. `"lstm"` (Lample et al., 2016) or `"cnn"` (Ma and Hovy, 2016).
            Defaults to `"lstm"`.
        max_word_length: int. Characters read per word; longer words keep their first and
            last halves (`crop_characters`). Defaults to `20`.
        kernel_size: int. The CNN's window. Defaults to `3`.

    Example:

    >>> layer = CharacterEncoder(vocabulary_size=30, units=8)
    >>> layer(np.array([[[3, 4, 0], [5, 0, 0], [0, 0, 0]]])).shape
    TensorShape([1, 3, 8])
    """

    def __init__(
        self,
        vocabulary_size,
        embedding_dim=25,
        units=50,
        encoder="lstm",
        max_word_length=20,
        kernel_size=3,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocabulary_size = validation.int_at_least("vocabulary_size", vocabulary_size, 2)
        self.embedding_dim = validation.positive_int("embedding_dim", embedding_dim)
        self.units = validation.positive_int("units", units)
        self.encoder = validation.one_of("encoder", encoder, CHARACTER_ENCODERS)
        self.max_word_length = validation.positive_int("max_word_length", max_word_length)
        self.kernel_size = validation.positive_int("kernel_size", kernel_size)
        if encoder == "lstm" and units % 2:
            raise ValueError(
                "Invalid value for argument units. Expected an even number with encoder='lstm' "
                f"(each direction gives half). Received: units={units}"
            )
        self.embedding = keras.layers.Embedding(
            vocabulary_size, embedding_dim, mask_zero=True, name="embedding"
        )
        if encoder == "lstm":
            self.rnn = keras.layers.Bidirectional(LSTM(units // 2), name="bidirectional")
        else:
            self.conv = MaskedConv1D(units, kernel_size, activation="relu", name="conv")
            self.pool = MaskedGlobalMaxPooling1D(name="pool")

    def build(self, input_shape):
        self.embedding.build((None, None))
        embedded = (None, None, self.embedding_dim)
        if self.encoder == "lstm":
            self.rnn.build(embedded)
        else:
            self.conv.build(embedded)
            self.pool.build((None, None, self.units))

    def call(self, character_ids):
        character_ids = crop_characters(ops.cast(character_ids, "int32"), self.max_word_length)
        shape = ops.shape(character_ids)
        flat = ops.reshape(character_ids, (-1, shape[-1]))
        # A padded word gets one unknown character (id 1) instead of none: an LSTM over no step
        # at all is an error for cuDNN. Its vector is masked out with its word.
        empty = ops.logical_not(ops.any(ops.not_equal(flat, 0), axis=-1, keepdims=True))
        first = ops.expand_dims(ops.equal(ops.arange(ops.shape(flat)[-1]), 0), 0)
        flat = ops.where(empty & first, 1, flat)
        x = self.embedding(flat)
        mask = ops.not_equal(flat, 0)
        if self.encoder == "lstm":
            vectors = self.rnn(x, mask=mask)
        else:
            vectors = self.pool(self.conv(x, mask=mask), mask=mask)
        return ops.reshape(vectors, (shape[0], shape[1], self.units))

    def compute_mask(self, character_ids, mask=None):
        return ops.any(ops.not_equal(character_ids, 0), axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "encoder": self.encoder,
            "max_word_length": self.max_word_length,
            "kernel_size": self.kernel_size,
        }


@keras.saving.register_keras_serializable(package="kzoo")
class WordDropout(keras.layers.Layer):
    """Replaces word ids by the unknown word's id (1) at random while training, so that the
    model learns to tag words it has no embedding for from their characters and context.

    Padding (0) is kept. Outside training the ids pass unchanged.

    Args:
        rate: float in [0, 1). The share of words replaced.
        seed: int. Seed of the draws. Defaults to `None`.

    Example:

    >>> ids = np.array([[5, 6, 7, 0]])
    >>> ops.convert_to_numpy(WordDropout(0.5)(ids)).tolist()  # not training: unchanged
    [[5, 6, 7, 0]]
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = validation.rate("rate", rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, token_ids, training=None):
        if not training or not self.rate:
            return token_ids
        draws = keras.random.uniform(ops.shape(token_ids), seed=self.seed_generator)
        dropped = (draws < self.rate) & ops.greater(token_ids, 1)
        return ops.where(dropped, ops.ones_like(token_ids), token_ids)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


def tiny_tagger_inputs(rng, batch_size=3, length=6, vocabulary_size=20, characters=12):
    """A batch of word and character ids, post-padded: characters only where words are."""
    token_ids = testing.token_ids(rng, batch_size, length, vocabulary_size)
    character_ids = testing.token_ids(rng, batch_size * length, 4, characters).reshape(
        batch_size, length, 4
    )
    character_ids[token_ids == 0] = 0
    return {"token_ids": token_ids, "character_ids": character_ids}


def _tiny_padded(batch):
    characters = np.pad(batch["character_ids"], [(0, 0), (0, 3), (0, 2)])
    return {"token_ids": testing.pad(batch["token_ids"], 3), "character_ids": characters}


@register_model(
    task="token_classification",
    tiny=TinyConfig(
        kwargs=dict(
            vocabulary_size=20,
            num_tags=5,
            character_vocabulary_size=12,
            embedding_dim=4,
            character_embedding_dim=3,
            character_units=4,
            units=4,
            word_dropout=0.1,
        ),
        inputs=tiny_tagger_inputs,
        targets=lambda rng: rng.integers(1, 5, size=(3, 6)),
        output_shape=(3, 6, 5),
        padded_inputs=_tiny_padded,
    ),
)
def build_bilstm_tagger(
    vocabulary_size=20_000,
    num_tags=18,
    character_vocabulary_size=200,
    embedding_dim=100,
    character_embedding_dim=30,
    character_units=50,
    character_encoder="lstm",
    max_word_length=20,
    units=100,
    num_layers=2,
    dropout=0.5,
    word_dropout=0.1,
):
    """BiLSTM tagger: word embeddings + a character BiLSTM per word → BiLSTMs → softmax per token.

    The classic neural tagger of part-of-speech tagging and named-entity recognition (Plank,
    Søgaard and Goldberg, 2016; Lample et al., 2016): each word is the concatenation of its
    embedding and of a vector read from its characters (`CharacterEncoder`: a small BiLSTM, or
    a CNN as in Ma and Hovy, 2016), so that a word never seen in training still gets a vector
    from its spelling; `num_layers` bidirectional LSTMs read the sentence both ways, and a
    softmax gives every token a distribution over the tags. While training, `word_dropout`
    replaces words by the unknown word at random (`WordDropout`), so that the characters learn
    to stand in for missing embeddings.

    Token id 0 is padding, from the word embedding on, and character id 0 pads a word's
    characters: a sentence gets the same tags however much padding its batch adds. Tag id 0 is
    padding too: the loss ignores it (`ignore_class=0`), and a trained model gives it no
    probability to speak of.

    A CRF output layer (which scores tag transitions, Lample et al.'s LSTM-CRF) is left out:
    Keras 3 has none, keras-hub offers none, and the CRF layers of TensorFlow Addons (deprecated)
    and its heirs are written for Keras 2's `tf.keras`. The softmax is the "LSTM" row of those
    papers; entities are read from its tags as the CoNLL evaluation reads them.

    Args:
        vocabulary_size: int. Number of word ids, padding (0) and unknown (1) included.
            Defaults to `20000`.
        num_tags: int. Number of tag ids, padding (0) included. Defaults to `18` (the 17 UPOS
            tags).
        character_vocabulary_size: int. Number of character ids, padding included. Defaults to
            `200`.
        embedding_dim: int. Width of the word embedding. Defaults to `100`.
        character_embedding_dim: int. Width of the character embedding. Defaults to `30`.
        character_units: int. Width of a word's character vector (each LSTM direction gives
            half, or the CNN's filters). Defaults to `50`.
        character_encoder: str. `"lstm"` or `"cnn"` (3-wide filters, max-pooled). Defaults to
            `"lstm"`.
        max_word_length: int. Characters read per word; a longer word keeps its first and last
            halves. Defaults to `20`.
        units: int. Width of each LSTM direction. Defaults to `100`.
        num_layers: int. Stacked bidirectional LSTMs. Defaults to `2`.
        dropout: float in [0, 1). Dropout on the word vectors and after each BiLSTM. Defaults
            to `0.5`.
        word_dropout: float in [0, 1). Share of words replaced by the unknown word while
            training. Defaults to `0.1`.

    Returns:
        A compiled `keras.Model` mapping `{"token_ids": (batch, words), "character_ids":
        (batch, words, characters)}` to tag probabilities `(batch, words, num_tags)`, with Adam,
        sparse categorical cross-entropy that ignores tag 0, and token accuracy.

    Example:

    >>> import numpy as np
    >>> from kzoo import build_bilstm_tagger
    >>> model = build_bilstm_tagger(vocabulary_size=100, num_tags=5, character_vocabulary_size=30)
    >>> inputs = {"token_ids": np.array([[5, 8, 0]]),
    ...           "character_ids": np.array([[[3, 4, 0], [6, 0, 0], [0, 0, 0]]])}
    >>> model.predict(inputs, verbose=0).shape
    (1, 3, 5)
    """
    validation.int_at_least("vocabulary_size", vocabulary_size, 2)
    validation.int_at_least("num_tags", num_tags, 2)
    validation.positive_int("embedding_dim", embedding_dim)
    validation.positive_int("units", units)
    validation.positive_int("num_layers", num_layers)
    validation.rate("dropout", dropout)
    validation.rate("word_dropout", word_dropout)

    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    character_ids = keras.Input(shape=(None, None), dtype="int32", name="character_ids")
    words = WordDropout(word_dropout, name="word_dropout")(token_ids) if word_dropout else token_ids
    x = keras.layers.Embedding(vocabulary_size, embedding_dim, mask_zero=True, name="embedding")(
        words
    )
    spelled = CharacterEncoder(
        character_vocabulary_size,
        embedding_dim=character_embedding_dim,
        units=character_units,
        encoder=character_encoder,
        max_word_length=max_word_length,
        name="characters",
    )(character_ids)
    x = keras.layers.Concatenate(name="word_vectors")([x, spelled])
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    for i in range(num_layers):
        x = keras.layers.Bidirectional(
            LSTM(units, return_sequences=True, name=f"lstm_{i}"),
            name=f"bidirectional_{i}",
        )(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"dropout_{i}")(x)
    # float32 probabilities whatever the dtype policy (mixed precision).
    tags = keras.layers.Dense(num_tags, activation="softmax", dtype="float32", name="tags")(x)
    model = keras.Model(
        {"token_ids": token_ids, "character_ids": character_ids}, tags, name="bilstm_tagger"
    )
    model.compile(
        optimizer=keras.optimizers.Adam(),
        loss=keras.losses.SparseCategoricalCrossentropy(ignore_class=0),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    return model
