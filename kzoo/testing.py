"""Helpers for tests and for the tiny configurations models declare in the registry.

Kept free of pytest so that model files can use them to describe their tiny inputs.
"""

import keras
import keras_hub
import numpy as np


def token_ids(rng, batch_size, length, vocabulary_size, min_length=1):
    """Returns a post-padded batch of random token ids, shape `(batch_size, length)`.

    Ids of real tokens lie in `[1, vocabulary_size)`; 0 is padding. Row 0 is full length and
    every other row has a random length in `[min_length, length]`, so the batch is really
    padded.

    Example:

    >>> import numpy as np
    >>> token_ids(np.random.default_rng(0), 2, 4, vocabulary_size=10).shape
    (2, 4)
    """
    ids = rng.integers(1, vocabulary_size, size=(batch_size, length)).astype("int32")
    lengths = rng.integers(min_length, length + 1, size=batch_size)
    lengths[0] = length
    for row, row_length in enumerate(lengths):
        ids[row, row_length:] = 0
    return ids


def pad(ids, extra):
    """Appends `extra` steps of padding (token id 0) to a batch of token ids."""
    return np.pad(ids, [(0, 0), (0, extra)])


# The word pieces of `write_tiny_bert_preset`'s tokenizer: enough for short sentences about films.
TINY_BERT_VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
TINY_BERT_VOCABULARY += "the a film movie plot is was good great fine bad awful dull".split()


def write_tiny_bert_preset(path, seed=0):
    """Writes a tiny, randomly initialised BERT preset (backbone and tokenizer) to `path`.

    What `build_pretrained_classifier` and the `pretrained_classifier` recipe need, without a
    download: 2 layers of width 16 and an 18-word vocabulary.

    Example:

    >>> import os, tempfile
    >>> path = write_tiny_bert_preset(os.path.join(tempfile.mkdtemp(), "tiny_bert"))
    >>> os.path.exists(os.path.join(path, "config.json"))
    True
    """
    keras.utils.set_random_seed(seed)
    keras_hub.models.BertBackbone(
        vocabulary_size=len(TINY_BERT_VOCABULARY),
        num_layers=2,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
        max_sequence_length=16,
    ).save_to_preset(path)
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=TINY_BERT_VOCABULARY, lowercase=True)
    tokenizer.save_to_preset(path)
    return path


def write_tiny_gpt2_preset(path, seed=0):
    """Writes a tiny, randomly initialised GPT-2 preset (backbone and tokenizer) to `path`.

    What `build_pretrained_generator` and the `pretrained_generator` recipe need, without a
    download: 1 layer of width 8 over 32 positions, and a byte-level BPE vocabulary of the
    printable ASCII characters (GPT-2 writes a space as "Ġ" and a newline as "Ċ") with a few
    merges.

    Example:

    >>> import os, tempfile
    >>> path = write_tiny_gpt2_preset(os.path.join(tempfile.mkdtemp(), "tiny_gpt2"))
    >>> os.path.exists(os.path.join(path, "tokenizer.json"))
    True
    """
    vocabulary = {}
    for character in [chr(c) for c in range(33, 127)] + ["Ġ", "Ċ"]:
        vocabulary[character] = len(vocabulary)
    merges = ["t h", "th e", "Ġ th", "Ġth e", "Ġ a"]
    for merge in merges:
        vocabulary.setdefault(merge.replace(" ", ""), len(vocabulary))
    # Last, as in GPT-2: its tokenizer pads with id 0, which must not be the end token.
    vocabulary["<|endoftext|>"] = len(vocabulary)
    keras.utils.set_random_seed(seed)
    keras_hub.models.GPT2Backbone(
        vocabulary_size=len(vocabulary),
        num_layers=1,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=32,
    ).save_to_preset(path)
    keras_hub.models.GPT2Tokenizer(vocabulary=vocabulary, merges=merges).save_to_preset(path)
    return path
