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

from kzoo import embeddings, layers, plot, text  # noqa: E402,F401

# Every Keras object a run can save is registered by `import kzoo`, so that
# `keras.models.load_model` finds it (safe_mode included): the layers and models above, the text
# standardizations of kzoo.data.vectorization (through kzoo.generate), and the optimizers.
from kzoo import optimizers as _optimizers  # noqa: E402,F401
from kzoo.generate import generate, perplexity  # noqa: E402,F401
from kzoo.models import *  # noqa: E402,F401,F403
from kzoo.models import __all__ as _model_factories  # noqa: E402
from kzoo.registry import (  # noqa: E402
    TinyConfig,
    build_model,
    get_model_entry,
    list_models,
    register_model,
)

__version__ = "0.1.0"

__all__ = [
    "TinyConfig",
    "build_model",
    "embeddings",
    "generate",
    "get_model_entry",
    "layers",
    "list_models",
    "perplexity",
    "plot",
    "register_model",
    "text",
    *_model_factories,
]
