"""One loaded version of a model: its SavedModel, signatures and their input and output specs.

A version folder holds `saved_model.pb` (or `.pbtxt`) and `variables/`, and optionally
`assets.extra/tf_serving_warmup_requests` (`WARMUP_FILE`), the requests TF Serving replays
before the version serves. A `Servable` loads the `serve` meta graph (or the one the tags of TF
Serving's `--saved_model_tags` name); each of its `Signature`s runs the concrete function the
SavedModel stored on a dict of arrays. Only the signatures' definitions are kept of the meta
graph (TF Serving's `--remove_unused_fields_from_bundle_metagraph`, its default).

A SavedModel that uses ops TensorFlow itself does not register (those of TensorFlow Text:
`CaseFoldUTF8`, `WhitespaceTokenizeWithOffsetsV2`..., which keras-hub's tokenizers put in
exports) has TensorFlow Text imported before it loads, which registers them; where TensorFlow
Text is not installed, the load fails with NOT_FOUND naming the ops and the package.

Example:

>>> import tempfile
>>> import tensorflow as tf
>>> class Double(tf.Module):
...     @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
...     def serve(self, x):
...         return {"y": 2 * x}
>>> path = f"{tempfile.mkdtemp()}/double/1"
>>> module = Double()
>>> tf.saved_model.save(module, path, signatures=module.serve)
>>> signature = Servable("double", 1, path).signatures[DEFAULT_SIGNATURE]
>>> signature.inputs["x"], signature({"x": [1.0, 2.5]})["y"].tolist()
(TensorSpec(dtype=1, shape=(-1,)), [2.0, 5.0])
"""

import dataclasses
import os
import threading

import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from tensorflow.core.protobuf import saved_model_pb2

from kzoo.serving.errors import from_tensorflow, invalid_argument, not_found

try:  # A private TensorFlow module: without it, ops are not looked up before a load.
    from tensorflow.python.framework import op_def_registry
except ImportError:  # pragma: no cover - another TensorFlow
    op_def_registry = None
from kzoo.serving.tensors import as_string_array, numpy_dtype, shape_from_proto

SERVE_TAG = "serve"
DEFAULT_SIGNATURE = "serving_default"
PREDICT_METHOD = "tensorflow/serving/predict"
CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"
# Where TF Serving reads a version's warm-up requests (a TFRecord of PredictionLogs); kzoo's
# export writes them there.
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")


@dataclasses.dataclass
class TensorSpec:
    """A signature input or output: its `DataType` enum value and shape (-1: any size)."""

    dtype: int
    shape: tuple  # None for an unknown rank


class Signature:
    """A callable signature of a loaded SavedModel, with its `SignatureDef`.

    Calling it with a dict of arrays runs the concrete function the SavedModel stored (no
    retracing) and returns a dict of NumPy arrays.

    Attributes:
        name: str. The signature key, e.g. `serving_default`.
        method_name: str. `tensorflow/serving/predict` for `tf.saved_model.save` signatures.
        inputs, outputs: dict. Name → `TensorSpec`.
        callable: bool. False for entries of the signature map that are not functions
            (`__saved_model_init_op`).
    """

    def __init__(self, name, signature_def, function):
        self.name = name
        self.signature_def = signature_def
        self.method_name = signature_def.method_name
        self.inputs = {
            key: TensorSpec(info.dtype, shape_from_proto(info.tensor_shape))
            for key, info in signature_def.inputs.items()
        }
        self.outputs = {
            key: TensorSpec(info.dtype, shape_from_proto(info.tensor_shape))
            for key, info in signature_def.outputs.items()
        }
        self._function = function
        self._input_dtypes = {
            key: tf.dtypes.as_dtype(spec.dtype)
            for key, spec in self.inputs.items()
            if spec.dtype != 0
        }
        self.callable = function is not None

    def __call__(self, inputs):
        if self._function is None:
            raise invalid_argument(f"Signature {self.name} cannot be run.")
        tensors = {}
        for key, value in inputs.items():
            dtype = self._input_dtypes.get(key)
            if dtype == tf.string:
                if not (isinstance(value, np.ndarray) and value.dtype == object):
                    value = as_string_array(value)
            elif dtype is not None:
                value = np.asarray(value, dtype=numpy_dtype(dtype.as_datatype_enum))
            tensors[key] = tf.constant(value, dtype=dtype)
        try:
            outputs = self._function(**tensors)
        except Exception as error:  # noqa: BLE001 - any model failure becomes a status
            raise from_tensorflow(error) from None
        return {key: value.numpy() for key, value in outputs.items()}


def _read_saved_model(path):
    for name, parse in (("saved_model.pb", "binary"), ("saved_model.pbtxt", "text")):
        file = os.path.join(path, name)
        if os.path.exists(file):
            with open(file, "rb") as handle:
                data = handle.read()
            if parse == "binary":
                return saved_model_pb2.SavedModel.FromString(data)
            return text_format.Parse(data.decode("utf-8"), saved_model_pb2.SavedModel())
    raise not_found(
        "Could not find SavedModel .pb or .pbtxt at supplied export directory path: "
        f"{path}. Check that the directory exists and that you have the right permissions "
        "for accessing it."
    )


_op_library_lock = threading.Lock()


def unregistered_ops(meta_graph):
    """The ops a meta graph uses that TensorFlow has not registered (empty where TensorFlow
    cannot be asked)."""
    if op_def_registry is None:
        return []
    names = {op.name for op in meta_graph.meta_info_def.stripped_op_list.op}
    return sorted(name for name in names if op_def_registry.get(name) is None)


def load_op_libraries(meta_graph, path):
    """Registers TensorFlow Text's ops when the SavedModel at `path` uses ops TensorFlow lacks.

    Raises:
        ServingError: NOT_FOUND when ops are still missing: TensorFlow Text is not installed
            (or fails to import), or the ops come from elsewhere.
    """
    missing = unregistered_ops(meta_graph)
    if not missing:
        return
    names = ", ".join(missing)
    with _op_library_lock:
        try:
            # Imported only for the SavedModels that need it: it costs seconds and memory.
            import tensorflow_text  # noqa: F401 - registers its ops
        except Exception as error:  # noqa: BLE001 - ImportError, or a broken install
            raise not_found(
                f"Op type not registered '{missing[0]}' in binary. The SavedModel at {path} "
                f"uses ops that TensorFlow does not have ({names}); kzoo serve loads TensorFlow "
                "Text for such ops, but importing it failed (pip install tensorflow-text): "
                f"{type(error).__name__}: {error}"
            ) from None
    missing = unregistered_ops(meta_graph)
    if missing:
        raise not_found(
            f"Op type not registered '{missing[0]}' in binary. The SavedModel at {path} uses ops "
            f"that neither TensorFlow nor TensorFlow Text has: {', '.join(missing)}"
        )


def is_complete(path):
    """Whether a version folder holds a SavedModel file yet."""
    return os.path.exists(os.path.join(path, "saved_model.pb")) or os.path.exists(
        os.path.join(path, "saved_model.pbtxt")
    )


class Servable:
    """One loaded version of a model: its signatures, ready to call.

    Args:
        name: str. The model name.
        version: int. The version number.
        path: str. The version folder.
        tags: sequence of str. The meta graph's tags. Defaults to `("serve",)`.

    Attributes:
        name, version, path: as given.
        signature_defs: dict. The meta graph's signature key → `SignatureDef`, as stored (what
            TF Serving's metadata API returns).
        signatures: dict. Signature key → `Signature`.
    """

    def __init__(self, name, version, path, tags=(SERVE_TAG,)):
        self.name = name
        self.version = version
        self.path = path
        tags = sorted(set(tags))
        saved_model = _read_saved_model(path)
        meta_graph = next(
            (
                graph
                for graph in saved_model.meta_graphs
                if sorted(graph.meta_info_def.tags) == tags
            ),
            None,
        )
        if meta_graph is None:
            raise not_found(
                f"Could not find meta graph def matching supplied tags: {{ {' '.join(tags)} }}. "
                "To inspect available tag-sets in the SavedModel, please use the SavedModel CLI: "
                "`saved_model_cli`"
            )
        # Copies: the rest of the SavedModel (graph and functions) is not kept.
        self.signature_defs = {
            key: type(value).FromString(value.SerializeToString())
            for key, value in meta_graph.signature_def.items()
        }
        load_op_libraries(meta_graph, path)
        del saved_model, meta_graph
        try:
            # Kept referenced: the signature functions read the loaded variables.
            self._loaded = tf.saved_model.load(path, tags=tags)
        except Exception as error:  # noqa: BLE001
            raise from_tensorflow(error) from None
        functions = getattr(self._loaded, "signatures", {})
        self.signatures = {
            key: Signature(key, signature_def, functions.get(key))
            for key, signature_def in self.signature_defs.items()
        }

    def __repr__(self):
        return f"Servable(name={self.name!r}, version={self.version})"
