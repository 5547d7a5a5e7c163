"""Classify, regress and MultiInference: signatures that take serialized `tf.train.Example`s.

The checks and messages are TF Serving's (`classifier.cc`, `regressor.cc`, `multi_inference.cc`):
a classification signature has one input, `inputs` (the serialized examples), and one or two
outputs among `classes` (strings) and `scores` (floats), each `[batch_size, num_classes]`; a
regression signature has one input, `inputs`, and one output, `outputs`, `[batch_size]` or
`[batch_size, 1]` floats. As in TF Serving (2.4 on), a signature's `method_name` is checked only
when `--enable_signature_method_name_check` asks for it, so the signatures Keras and
`tf.saved_model.save` write (all `tensorflow/serving/predict`) classify and regress when their
inputs and outputs have these names.

A MultiInference request runs several classification and regression signatures of one model
version on the same examples, which are parsed once; each task answers as Classify or Regress
would.

Example:

>>> import numpy as np
>>> from kzoo.serving.servables import TensorSpec
>>> class Spec:  # a stand-in for a loaded Signature
...     method_name = "tensorflow/serving/predict"
...     inputs = {"inputs": TensorSpec(7, (-1,))}
...     outputs = {"scores": TensorSpec(1, (-1, 2))}
...     signature_def = "..."
>>> check_classification(Spec(), check_method=False)
>>> classification_results({"scores": np.array([[0.25, 0.75]], np.float32)}, 1)
[[(b'', 0.25), (b'', 0.75)]]
"""

import numpy as np
from tensorflow.core.example import example_pb2
from tensorflow.core.framework import types_pb2

from kzoo.serving.errors import ServingError, invalid_argument
from kzoo.serving.servables import CLASSIFY_METHOD, REGRESS_METHOD
from kzoo.serving.tensors import dtype_enum, shape_string

INPUTS = "inputs"
CLASSES = "classes"
SCORES = "scores"
OUTPUTS = "outputs"


def _check_method(signature, method, kind, check_method):
    if check_method and signature.method_name != method:
        raise invalid_argument(
            f"Expected {kind} signature method_name to be {method}. Was: {signature.method_name}"
        )


def check_classification(signature, check_method):
    """TF Serving's PreProcessClassification checks on a signature; raises INVALID_ARGUMENT."""
    _check_method(signature, CLASSIFY_METHOD, "classification", check_method)
    if len(signature.inputs) != 1:
        raise invalid_argument("Expected one input Tensor.")
    if len(signature.outputs) not in (1, 2):
        raise invalid_argument(
            f"Expected one or two output Tensors, found {len(signature.outputs)}"
        )
    if INPUTS not in signature.inputs:
        raise invalid_argument(
            f"No classification inputs found in SignatureDef: {signature.signature_def}"
        )
    if CLASSES not in signature.outputs and SCORES not in signature.outputs:
        raise invalid_argument(
            'Expected classification signature outputs to contain at least one of "classes" '
            f'or "scores". Signature was: {signature.signature_def}'
        )


def check_regression(signature, check_method):
    """TF Serving's PreProcessRegression checks on a signature; raises INVALID_ARGUMENT."""
    _check_method(signature, REGRESS_METHOD, "regression", check_method)
    if len(signature.inputs) != 1:
        raise invalid_argument("Expected one input Tensor.")
    if len(signature.outputs) != 1:
        raise invalid_argument("Expected one output Tensor.")
    if INPUTS not in signature.inputs:
        raise invalid_argument(
            f"No regression inputs found in SignatureDef: {signature.signature_def}"
        )
    if OUTPUTS not in signature.outputs:
        raise invalid_argument(
            f"No regression outputs found in SignatureDef: {signature.signature_def}"
        )


def serialized_examples(examples, context, limits):
    """The examples (each merged over `context`) serialized, as a string array for `inputs`.

    Raises:
        ServingError: INVALID_ARGUMENT `Input is empty.`, or over the request limits.
    """
    if not examples:
        raise invalid_argument("Input is empty.")
    limits.check_instances(len(examples))
    serialized = []
    for example in examples:
        if context is not None:
            merged = example_pb2.Example()
            merged.MergeFrom(context)
            merged.MergeFrom(example)
            example = merged
        serialized.append(example.SerializeToString())
    array = np.empty(len(serialized), dtype=object)
    array[:] = serialized
    return array


def examples_from_input(input_proto):
    """A `tensorflow.serving.Input`'s `(examples, context)`; context None without one."""
    kind = input_proto.WhichOneof("kind")
    if kind == "example_list":
        return list(input_proto.example_list.examples), None
    if kind == "example_list_with_context":
        with_context = input_proto.example_list_with_context
        return list(with_context.examples), with_context.context
    raise invalid_argument("Input is empty.")


def classification_results(outputs, count):
    """Per example, a list of `(label, score)` (PostProcessClassificationResult): label `b""`
    without a `classes` output, score 0.0 without `scores`."""
    classes, scores = outputs.get(CLASSES), outputs.get(SCORES)
    for name, value in ((CLASSES, classes), (SCORES, scores)):
        if value is None:
            continue
        if value.ndim != 2:
            raise invalid_argument(
                "Expected Tensor shape: [batch_size num_classes] but got "
                f"{shape_string(value.shape)}"
            )
        if name == CLASSES and value.dtype != object:
            raise invalid_argument(
                f"Expected classes Tensor of DT_STRING. Got: {_numpy_dtype_name(value)}"
            )
        if name == SCORES and value.dtype != np.float32:
            raise invalid_argument(
                f"Expected scores Tensor of DT_FLOAT. Got: {_numpy_dtype_name(value)}"
            )
        if value.shape[0] != count:
            raise invalid_argument(
                f"Expected {name} output batch size of {count}. Got: {value.shape[0]}"
            )
    if classes is not None and scores is not None and classes.shape[1] != scores.shape[1]:
        raise invalid_argument(
            "Tensors class and score should match in dim_size(1). Got "
            f"{classes.shape[1]} vs. {scores.shape[1]}"
        )
    width = (classes if classes is not None else scores).shape[1]
    results = []
    for row in range(count):
        labels = classes[row] if classes is not None else [b""] * width
        values = scores[row] if scores is not None else [0.0] * width
        results.append([(bytes(label), float(score)) for label, score in zip(labels, values)])
    return results


def regression_results(outputs, count):
    """One float per example (PostProcessRegressionResult)."""
    value = outputs[OUTPUTS]
    if not (value.ndim == 1 or (value.ndim == 2 and value.shape[1] == 1)):
        raise invalid_argument(
            "Expected output Tensor shape to be either [batch_size] or [batch_size, 1] but "
            f"got {shape_string(value.shape)}"
        )
    if value.shape[0] != count:
        raise invalid_argument(
            f"Input batch size did not match output batch size: {count} vs. {value.shape[0]}"
        )
    if value.dtype != np.float32:
        raise invalid_argument(
            f"Expected output Tensor of DT_FLOAT.  Got: {_numpy_dtype_name(value)}"
        )
    return [float(item) for item in value.reshape(-1)]


def _numpy_dtype_name(array):
    # DataType_Name, as TF Serving's messages print it: DT_DOUBLE...
    return types_pb2.DataType.Name(dtype_enum(array))


def check_multi_inference(request, signatures, check_method):
    """TF Serving's checks of a MultiInferenceRequest's tasks (TensorFlowMultiInferenceRunner).

    Args:
        request: `MultiInferenceRequest`.
        signatures: dict. The servable's signature key → `Signature`.
        check_method: bool. Check each signature's `method_name`.

    Returns:
        A list of `(signature key, method, Signature)`, one per task.
    """
    model_name = ""
    seen = set()
    tasks = []
    for task in request.tasks:
        if not task.model_spec.name:
            raise invalid_argument("Found ModelSpec with an empty model name.")
        if not model_name:
            model_name = task.model_spec.name
        elif task.model_spec.name != model_name:
            raise invalid_argument(
                "All ModelSpecs in a MultiInferenceRequest must access the same model name."
            )
        key = task.model_spec.signature_name or "serving_default"
        if key in seen:
            raise invalid_argument(f"Duplicate evaluation of signature: {key}")
        seen.add(key)
        signature = signatures.get(key)
        if signature is None:
            raise invalid_argument(f"Requested signature not found in model graph: {key}")
        if task.method_name == CLASSIFY_METHOD:
            check_classification(signature, check_method)
        elif task.method_name == REGRESS_METHOD:
            check_regression(signature, check_method)
        else:
            raise ServingError(
                "UNIMPLEMENTED", f"Unsupported signature method_name: {task.method_name}"
            )
        tasks.append((key, task.method_name, signature))
    return tasks
