"""One loaded version of a model: its SavedModel, signatures and their input and output specs.

A version folder holds `saved_model.pb` (or `.pbtxt`) and `variables/`, and optionally
`assets.extra/tf_serving_warmup_requests` (`WARMUP_FILE`), the requests TF Serving replays
before the version serves. A `Servable` loads the `serve` meta graph; each of its `Signature`s
runs the concrete function the SavedModel stored on a dict of arrays.

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

import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from tensorflow.core.protobuf import saved_model_pb2

from kzoo.serving.errors import from_tensorflow, invalid_argument, not_found
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


def is_complete(path):
    """Whether a version folder holds a SavedModel file yet."""
    return os.path.exists(os.path.join(path, "saved_model.pb")) or os.path.exists(
        os.path.join(path, "saved_model.pbtxt")
    )


class Servable:
    """One loaded version of a model: its signatures, ready to call.

    Attributes:
        name: str. The model name.
        version: int. The version number.
        path: str. The version folder.
        signature_defs: the SavedModel's `SignatureDef` map for the `serve` tag, as stored
            (what TF Serving's metadata API returns).
        signatures: dict. Signature key → `Signature`.
    """

    def __init__(self, name, version, path):
        self.name = name
        self.version = version
        self.path = path
        saved_model = _read_saved_model(path)
        meta_graph = next(
            (
                graph
                for graph in saved_model.meta_graphs
                if set(graph.meta_info_def.tags) == {SERVE_TAG}
            ),
            None,
        )
        if meta_graph is None:
            raise not_found(
                "Could not find meta graph def matching supplied tags: { serve }. To inspect "
                "available tag-sets in the SavedModel, please use the SavedModel CLI: "
                "`saved_model_cli`"
            )
        self.signature_defs = meta_graph.signature_def
        try:
            # Kept referenced: the signature functions read the loaded variables.
            self._loaded = tf.saved_model.load(path, tags=[SERVE_TAG])
        except Exception as error:  # noqa: BLE001
            raise from_tensorflow(error) from None
        functions = getattr(self._loaded, "signatures", {})
        self.signatures = {
            key: Signature(key, signature_def, functions.get(key))
            for key, signature_def in self.signature_defs.items()
        }

    def __repr__(self):
        return f"Servable(name={self.name!r}, version={self.version})"
