"""Recurrent next-token language model: Embedding → SimpleRNN/LSTM/GRU → Dense logits."""

import keras
from keras import ops

from kzoo import decoding, testing, validation
from kzoo.decoding import Decoder
from kzoo.models.heads import compile_language_model
from kzoo.models.lstm_classifier import RNN_LAYERS, recurrent_layer
from kzoo.registry import TinyConfig, register_model


class RNNGeneratorDecoder(Decoder):
    """Decodes an RNN generator one token at a time; its cache is the recurrent states."""

    def __init__(self, model):
        super().__init__(model)
        self.step_model = rnn_generator_step_model(model)
        self.state_sizes = [int(state.shape[-1]) for state in self.step_model.inputs[1:]]

    def start(self, prompt, index, source=None, extras=False):
        zeros = [ops.zeros([ops.shape(prompt)[0], size]) for size in self.state_sizes]
        # The prompt before position index - 1 in one call; `step` reads on from there.
        return decoding.cond(
            index > 1,
            lambda: self.step_model([prompt[:, : index - 1], *zeros], training=False)[1:],
            lambda: zeros,
        )

    def step(self, token_ids, cache, index):
        logits, *states = self.step_model([token_ids, *cache], training=False)
        return logits[:, -1], states


@register_model(
    task="language_model",
    decoder=RNNGeneratorDecoder,
    tiny=TinyConfig(
        kwargs=dict(vocabulary_size=20, embedding_dim=4, units=6, rnn="lstm", num_layers=2),
        inputs=lambda rng: testing.token_ids(rng, 2, 7, vocabulary_size=20, min_length=3),
        targets=lambda rng: testing.token_ids(rng, 2, 7, vocabulary_size=20, min_length=7),
        output_shape=(2, 7, 20),
        padded_inputs=lambda ids: testing.pad(ids, 2),
    ),
)
def build_rnn_generator(
    vocabulary_size=10_000,
    embedding_dim=64,
    units=128,
    rnn="simple_rnn",
    num_layers=1,
    dropout=0.0,
):
    """Recurrent language model: Embedding → SimpleRNN → Dense logits over the next token.

    Trained on token ids with the next ids as targets, it predicts a distribution over the
    vocabulary at every step; tokens may be characters or words, as the vectorizer makes them.
    Token id 0 is padding: it is masked, and the loss and perplexity skip it.

    Each recurrent layer is built with `return_state=True`, so `rnn_generator_step_model(model)`
    can rebuild the same layers into a model with explicit state inputs and outputs: generation
    then advances one token at a time carrying the state, instead of re-running the whole
    prefix for every new token.

    The output is logits (float32 under any dtype policy); the model is returned compiled with
    Adam, sparse categorical cross-entropy from logits and perplexity.

    Args:
        vocabulary_size: int. Number of token ids, padding (0) included. Defaults to `10000`.
        embedding_dim: int. Width of the token embedding. Defaults to `64`.
        units: int. Width of each recurrent layer. Defaults to `128`.
        rnn: str. One of `"simple_rnn"`, `"lstm"` or `"gru"`. Defaults to `"simple_rnn"`.
        num_layers: int. Number of stacked recurrent layers. Defaults to `1`.
        dropout: float. Dropout rate after each recurrent layer, in [0, 1). Each sequence
            draws one mask that every time step shares (Gal and Ghahramani's 2016 variational
            dropout on the outputs, the "locked dropout" of AWD-LSTM): fewer random numbers,
            so XLA stays on on CPU. Defaults to `0.0`.

    Returns:
        A compiled `keras.Model` mapping token ids `(batch_size, steps)` to next-token logits
        `(batch_size, steps, vocabulary_size)`.

    Example:

    >>> import numpy as np
    >>> from kzoo.models.rnn_generator import build_rnn_generator, rnn_generator_step_model
    >>> model = build_rnn_generator(vocabulary_size=50, units=16)
    >>> model.predict(np.array([[4, 9, 2]]), verbose=0).shape
    (1, 3, 50)
    >>> step = rnn_generator_step_model(model)
    >>> logits, state = step([np.array([[4]]), np.zeros((1, 16))])
    >>> logits.shape
    TensorShape([1, 1, 50])
    """
    validation.int_at_least("vocabulary_size", vocabulary_size, 2)
    validation.positive_int("embedding_dim", embedding_dim)
    validation.positive_int("units", units)
    validation.one_of("rnn", rnn, tuple(RNN_LAYERS))
    validation.positive_int("num_layers", num_layers)
    validation.rate("dropout", dropout)

    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(vocabulary_size, embedding_dim, mask_zero=True, name="embedding")(
        token_ids
    )
    for i in range(num_layers):
        layer = recurrent_layer(
            rnn, units, name=f"{rnn}_{i}", return_sequences=True, return_state=True
        )
        x = layer(x)[0]
        if dropout:
            # One mask per sequence, shared by every time step (locked dropout).
            x = keras.layers.Dropout(dropout, noise_shape=(None, 1, units), name=f"dropout_{i}")(x)
    logits = keras.layers.Dense(vocabulary_size, dtype="float32", name="logits")(x)
    model = keras.Model(token_ids, logits, name="rnn_generator")
    return compile_language_model(model)


def _state_count(layer):
    state_size = layer.cell.state_size
    return len(state_size) if isinstance(state_size, (list, tuple)) else 1


def rnn_generator_step_model(model):
    """Returns a model that runs a trained RNN generator from an explicit recurrent state.

    The step model shares every layer, and so every weight, with `model`. It takes token ids
    `(batch_size, steps)` and the states of each recurrent layer (two `(batch_size, units)`
    tensors for an LSTM layer, hidden then cell; one for GRU and SimpleRNN), and returns the
    logits `(batch_size, steps, vocabulary_size)` followed by the states after the last real
    token, in float32 under any dtype policy. Zeros are the initial state. With `steps=1` it
    advances generation by one token; with a whole (post-padded) prompt it reads the prompt in
    one call.

    Args:
        model: a model from `build_rnn_generator`, fresh or loaded from a `.keras` file.

    Returns:
        A `keras.Model` with inputs `[token_ids, *states]` and outputs `[logits, *states]`.

    Example:

    >>> import numpy as np
    >>> from kzoo.models.rnn_generator import build_rnn_generator, rnn_generator_step_model
    >>> model = build_rnn_generator(vocabulary_size=30, units=8, rnn="lstm")
    >>> step = rnn_generator_step_model(model)
    >>> logits, h, c = step([np.array([[3, 5]]), np.zeros((1, 8)), np.zeros((1, 8))])
    >>> h.shape
    TensorShape([1, 8])
    """
    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    x = token_ids
    state_inputs, state_outputs = [], []
    for layer in model.layers[1:]:
        if isinstance(layer, keras.layers.RNN):
            states = [
                keras.Input(shape=(layer.cell.units,), name=f"{layer.name}_state_{j}")
                for j in range(_state_count(layer))
            ]
            x, *new_states = layer(x, initial_state=states)
            state_inputs += states
            # In float32 as the state inputs, whatever the layer computes in (bfloat16 under
            # mixed precision): a decoding loop carries the states from one call to the next.
            state_outputs += [ops.cast(state, "float32") for state in new_states]
        else:
            x = layer(x)
    return keras.Model([token_ids, *state_inputs], [x, *state_outputs], name="rnn_generator_step")
