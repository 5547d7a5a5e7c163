"""kzoo: a Keras 3 / TensorFlow model zoo of the classic NLP and generative architectures.

The models run on every Keras backend; training runs, export, serving and generation on
TensorFlow's, kzoo's default (`kzoo.backends`).

Every model is a factory function, importable from the top level and registered by name:

>>> import kzoo
>>> from kzoo import build_lstm_classifier
>>> kzoo.list_models("*classifier")[:1]
['encoder_decoder_classifier']
"""

import os

# Export and serving are built on TensorFlow (SavedModel, TF Serving): it is the backend
# unless the process asked for another before importing Keras.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

# Importing these registers every Keras object a kzoo model or run saves (layers, models,
# optimizers, the text standardizations), so that `keras.models.load_model` finds them,
# safe_mode included.
from kzoo import backends, embeddings, layers, optimizers, plot, text  # noqa: E402
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
    "backends",
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
