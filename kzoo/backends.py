"""Keras backends: what of kzoo runs on each, and the one error for what needs TensorFlow's.

kzoo's factories, layers and models are plain Keras: they build, run, `fit` (the GAN with a
train step per backend), `predict`, save and load on every Keras backend (TensorFlow, JAX,
PyTorch), and a `.keras` file saved on one loads on the others with the same outputs.
Generation (`kzoo.generate`, its one decoding loop in `keras.ops`), perplexity, presets and
the attention tool work on each too. The backend is chosen per process by `KERAS_BACKEND`
before Keras is first imported; kzoo picks TensorFlow when it is unset.

Training runs (`kzoo train --backend`) work on each as well, on one device off TensorFlow
(`kzoo.distribute.placement`), and a run's export is made by a TensorFlow process
from its files (`kzoo.export.export_run`). What is built on TensorFlow itself stays there: the
export of a model held in memory and its signatures (`export_bundle`) and the local server.
Each calls `require_tensorflow` first, so that from another backend it fails at once, in one line,
instead of deep in a TensorFlow call that was handed a JAX array.

Example:

>>> require_tensorflow("Exporting a SavedModel")  # kzoo's default backend: nothing happens
>>> backend_of_process()
'tensorflow'
"""

import keras

BACKENDS = ("tensorflow", "jax", "torch")


def backend_of_process():
    """The Keras backend of this process: `"tensorflow"`, `"jax"` or `"torch"`."""
    return keras.backend.backend()


def require_tensorflow(feature):
    """Fails at once when this process does not run Keras' TensorFlow backend.

    Args:
        feature: str. What needs TensorFlow, as the error's subject (e.g. "Exporting a
            SavedModel").

    Raises:
        NotImplementedError: on the JAX and PyTorch backends.
    """
    backend = backend_of_process()
    if backend != "tensorflow":
        raise NotImplementedError(
            f"{feature} needs Keras' TensorFlow backend; run it in a process started with "
            f"KERAS_BACKEND=tensorflow (kzoo's default). Received: KERAS_BACKEND={backend}"
        )
