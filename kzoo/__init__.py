"""kzoo: a Keras 3 / TensorFlow model zoo of the classic NLP and generative architectures.

Every model is a factory function, importable from the top level and registered by name:

>>> import kzoo
>>> from kzoo import build_lstm_classifier
>>> kzoo.list_models("*classifier")[:1]
['encoder_decoder_classifier']
"""

import os

# kzoo is built on Keras 3's TensorFlow backend (tf.distribute, SavedModel export, TF Serving).
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402

if keras.backend.backend() != "tensorflow":
    raise ImportError(
        "kzoo needs Keras' TensorFlow backend: its training, export and serving are built on "
        "TensorFlow. Set KERAS_BACKEND=tensorflow before Keras is first imported. "
        f"Received: KERAS_BACKEND={keras.backend.backend()}"
    )

# Importing these registers every Keras object a kzoo model or run saves (layers, models,
# optimizers, the text standardizations), so that `keras.models.load_model` finds them,
# safe_mode included.
from kzoo import embeddings, layers, optimizers, plot, text  # noqa: E402
from kzoo.generate import generate, perplexity  # noqa: E402
from kzoo.models import *  # noqa: E402,F403 (every factory: kzoo.models.__all__)
from kzoo.models import __all__ as _factories  # noqa: E402
from kzoo.presets import from_preset, save_preset, upload_preset  # noqa: E402
from kzoo.registry import (  # noqa: E402
    TinyConfig,
    build_model,
    get_model_entry,
    list_models,
    register_model,
)

__version__ = "0.1.0"

# The public API: the factories, the registry, generation and the tools. What belongs to one
# model family (a GPT's cached call, a seq2seq model's inference models...) stays in its
# module, `kzoo.models.<family>`.
__all__ = [
    "TinyConfig",
    "build_model",
    "embeddings",
    "from_preset",
    "generate",
    "get_model_entry",
    "layers",
    "list_models",
    "optimizers",
    "perplexity",
    "plot",
    "register_model",
    "save_preset",
    "text",
    "upload_preset",
    *_factories,
]
