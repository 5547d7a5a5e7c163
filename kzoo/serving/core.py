"""The serving operations shared by the REST and gRPC APIs: status, metadata, predict, classify,
regress and model warm-up, with TF Serving's checks and messages.

The checks follow TF Serving's `predict_util.cc` (signature lookup, input names, `output_filter`),
`get_model_status_impl.cc`, `get_model_metadata_impl.cc`, `classifier.cc` and `regressor.cc`.
Both APIs resolve a model with `ModelManager.get`, so they report the same errors.

Example:

>>> import tempfile
>>> import numpy as np
>>> import tensorflow as tf
>>> from kzoo.serving.manager import ModelManager
>>> from kzoo.serving.sources import BasePathSource
>>> class AddOne(tf.Module):
...     @tf.function(input_signature=[tf.TensorSpec([None], tf.int64, name="n")])
...     def serve(self, n):
...         return {"m": n + 1}
>>> base = tempfile.mkdtemp()
>>> module = AddOne()
>>> tf.saved_model.save(module, f"{base}/add_one/3", signatures=module.serve)
>>> core = ServingCore(ModelManager(BasePathSource(base), poll_wait_seconds=0).start())
>>> servable = core.manager.get("add_one")
>>> core.predict(servable, "", {"n": np.array([1, 2])})
('serving_default', {'m': array([2, 3])})
>>> core.status("add_one").model_version_status[0].version
3
"""

import os
import time

import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    predict_pb2,
    prediction_log_pb2,
    regression_pb2,
    status_pb2,
)

from kzoo.serving import inference
from kzoo.serving.deadlines import Deadline
from kzoo.serving.errors import ServingError, invalid_argument
from kzoo.serving.limits import RequestLimits
from kzoo.serving.memory import LARGE_REQUEST_BYTES
from kzoo.serving.metrics import ServingMetrics
from kzoo.serving.servables import (
    CLASSIFY_METHOD,
    DEFAULT_SIGNATURE,
    PREDICT_METHOD,
    REGRESS_METHOD,
    WARMUP_FILE,
)
from kzoo.serving.tensors import (
    dtype_name,
    from_tensor_proto,
    is_compatible,
    shape_from_proto,
    shape_string,
    to_tensor_proto,
)

SIGNATURE_DEF_FIELD = "signature_def"
# A client deadline further away than this is no deadline (gRPC's "infinite future").
_NO_DEADLINE_SECONDS = 10**7
# TF Serving reads at most this many warm-up records (WarmupConsts::kMaxNumRecords).
MAX_WARMUP_RECORDS = 1000

_STATE_NUMBERS = get_model_status_pb2.ModelVersionStatus.State
_ERROR_CODE_NUMBERS = status_pb2.StatusProto.DESCRIPTOR.fields_by_name[
    "error_code"
].enum_type.values_by_name


def _join(names):
    return ",".join(sorted(names))


def model_spec_version(model_spec):
    """The `(version, label)` a `ModelSpec` asks for; each None when not given."""
    choice = model_spec.WhichOneof("version_choice")
    if choice == "version":
        return model_spec.version.value, None
    if choice == "version_label":
        return None, model_spec.version_label
    return None, None


def to_json_dict(message):
    """A proto as TF Serving prints it in REST answers: every field, proto field names."""
    return json_format.MessageToDict(
        message, always_print_fields_with_no_presence=True, preserving_proto_field_name=True
    )


class ServingCore:
    """Serving operations on the models of a `ModelManager`, optionally batching predict calls.

    Args:
        manager: `ModelManager`. Where servables come from.
        batcher: `Batcher`, optional. Merges concurrent predict calls when given.
        limits: `RequestLimits`, optional. Instances and tensor elements a request may declare.
            Defaults to `RequestLimits()`.
        request_timeout: float, optional. Seconds a request may take before it is answered
            DEADLINE_EXCEEDED and its computation stopped; None: no limit but the client's.
        watch: `DeadlineWatch`, optional. Expires deadlines while computations run, cancels
            those of clients that went away and releases memory after large requests; without
            one, deadlines are only checked before and after a computation.
        metrics: `ServingMetrics`, optional. Where runtime latencies, example counts and
            warm-ups are recorded. Defaults to a new one.
        check_signature_methods: bool. Check signatures' `method_name` (TF Serving's
            `--enable_signature_method_name_check`). Defaults to False, as TF Serving.
        warmup_iterations: int. Times each warm-up record is replayed (TF Serving's
            `--num_request_iterations_for_warmup`). Defaults to 1.
        tensor_content: bool. Write gRPC predict outputs as `tensor_content` bytes (TF
            Serving's `--enable_serialization_as_tensor_content`). Defaults to False: the typed
            value fields.
    """

    def __init__(
        self,
        manager,
        batcher=None,
        limits=None,
        request_timeout=None,
        watch=None,
        *,
        metrics=None,
        check_signature_methods=False,
        warmup_iterations=1,
        tensor_content=False,
    ):
        self.manager = manager
        self.batcher = batcher
        self.limits = limits or RequestLimits()
        self.request_timeout = request_timeout
        self.watch = watch
        self.metrics = metrics if metrics is not None else ServingMetrics()
        self.check_signature_methods = check_signature_methods
        self.warmup_iterations = max(int(warmup_iterations), 1)
        self.tensor_content = tensor_content

    # === Requests ===

    def request_deadline(self, client_timeout=None):
        """A new request's `Deadline`: `request_timeout` or the client's own (a gRPC call's
        time remaining), whichever ends first; the server cancels it when the client goes away.

        Args:
            client_timeout: float, optional. Seconds the client still waits.
        """
        if client_timeout is not None and client_timeout > _NO_DEADLINE_SECONDS:
            client_timeout = None
        timeouts = [t for t in (self.request_timeout, client_timeout) if t is not None]
        return Deadline(min(timeouts) if timeouts else None, watch=self.watch)

    def request_done(self, size):
        """Called after each request with the bytes it carried and produced: after a large one,
        freed memory goes back to the system (in the background, `DeadlineWatch`)."""
        if size >= LARGE_REQUEST_BYTES and self.watch is not None:
            self.watch.release_memory_soon()

    # === Status and metadata ===

    def status(self, name, version=None, label=None):
        """Returns the `GetModelStatusResponse` for a model (all versions, or one)."""
        response = get_model_status_pb2.GetModelStatusResponse()
        for number, state in self.manager.status(name, version, label):
            entry = response.model_version_status.add()
            entry.version = number
            entry.state = _STATE_NUMBERS.Value(state.state)
            entry.status.error_code = _ERROR_CODE_NUMBERS[state.error_code].number
            entry.status.error_message = state.error_message
        return response

    def status_proto(self, request):
        """Answers a gRPC `GetModelStatusRequest`."""
        if not request.HasField("model_spec"):
            raise invalid_argument("Missing ModelSpec")
        version, label = model_spec_version(request.model_spec)
        return self.status(request.model_spec.name, version, label)

    def metadata(self, servable):
        """Returns the `GetModelMetadataResponse` of a servable, with its signature_def map."""
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = servable.name
        response.model_spec.version.value = servable.version
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for key, signature_def in servable.signature_defs.items():
            signature_map.signature_def[key].CopyFrom(signature_def)
        response.metadata[SIGNATURE_DEF_FIELD].Pack(signature_map)
        return response

    def metadata_proto(self, request):
        """Answers a gRPC `GetModelMetadataRequest` (only `signature_def` is supported)."""
        if not request.HasField("model_spec"):
            raise invalid_argument("Missing ModelSpec")
        if not request.metadata_field:
            raise invalid_argument(
                "GetModelMetadataRequest must specify at least one metadata_field"
            )
        for field in request.metadata_field:
            if field != SIGNATURE_DEF_FIELD:
                raise invalid_argument(f"Metadata field {field} is not supported")
        version, label = model_spec_version(request.model_spec)
        return self.metadata(self.manager.get(request.model_spec.name, version, label))

    @staticmethod
    def metadata_json(response):
        """The REST metadata answer: the response as a dict, `signature_def` unpacked.

        As TF Serving's REST API prints it: `{"model_spec": {...}, "metadata":
        {"signature_def": {"signature_def": {name: SignatureDef}}}}`.
        """
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata[SIGNATURE_DEF_FIELD].Unpack(signature_map)
        return {
            "model_spec": to_json_dict(response.model_spec),
            "metadata": {SIGNATURE_DEF_FIELD: to_json_dict(signature_map)},
        }

    # === Predict ===

    def prediction_signature(self, servable, signature_name):
        """The signature a predict request names, checked as TF Serving's RunPredict does."""
        key = signature_name or DEFAULT_SIGNATURE
        signature = servable.signatures.get(key)
        if signature is None:
            raise ServingError("FAILED_PRECONDITION", f'Serving signature key "{key}" not found.')
        if self.check_signature_methods and signature.method_name not in (
            PREDICT_METHOD,
            CLASSIFY_METHOD,
            REGRESS_METHOD,
        ):
            raise ServingError(
                "INTERNAL",
                "Expected prediction signature method_name to be one of "
                f"{{{PREDICT_METHOD}, {CLASSIFY_METHOD}, {REGRESS_METHOD}}}. "
                f"Was: {signature.method_name}",
            )
        return key, signature

    @staticmethod
    def check_input_names(signature, names):
        """Input names must be exactly the signature's (VerifyRequestInputsSize and lookup)."""
        names = set(names)
        expected = set(signature.inputs)
        if len(names) != len(expected):
            raise invalid_argument(
                f"input size does not match signature: {len(names)}!={len(expected)} "
                f"len({{{_join(names)}}}) != len({{{_join(expected)}}}). "
                f"Sent extra: {{{_join(names - expected)}}}. "
                f"Missing but required: {{{_join(expected - names)}}}."
            )
        for name in sorted(names):
            if name not in expected:
                raise invalid_argument(
                    f"input tensor alias not found in signature: {name}. Inputs expected to be "
                    f"in the set {{{_join(expected)}}}."
                )

    @staticmethod
    def check_output_filter(signature, output_filter):
        seen = set()
        for name in output_filter:
            if name not in signature.outputs:
                raise invalid_argument(
                    f"output tensor alias not found in signature: {name} Outputs expected to be "
                    f"in the set {{{_join(signature.outputs)}}}."
                )
            if name in seen:
                raise invalid_argument(f"duplicate output tensor alias: {name}")
            seen.add(name)

    def predict(
        self, servable, signature_name, inputs, output_filter=(), input_dtypes=None, deadline=None
    ):
        """Runs a signature of a servable on named input arrays.

        Args:
            servable: `Servable`. The model version to run.
            signature_name: str. The signature key, `""` for `serving_default`.
            inputs: dict. Input name → NumPy array.
            output_filter: sequence of str. Outputs to return; all when empty.
            input_dtypes: dict, optional. Input name → the `DataType` the client sent, checked
                against the signature (gRPC requests; REST inputs are parsed to the signature's
                types already).
            deadline: `Deadline`, optional. Stops the computation when it passes.

        Returns:
            A tuple `(signature key, {output name: array})`.
        """
        key, signature = self._checked_signature(
            servable, signature_name, inputs, output_filter, input_dtypes
        )
        deadline = deadline or Deadline()
        started = time.monotonic()
        if self.batcher is not None:
            outputs = self.batcher.run((servable, key), inputs, signature, deadline)
        else:
            with deadline.running():
                outputs = signature(inputs)
        return key, self._predicted(servable, started, outputs, output_filter)

    def submit_predict(self, servable, signature_name, inputs, deadline, callback):
        """Queues a predict call for the batcher without waiting for it (an event loop's way).

        Args:
            servable, signature_name, inputs, deadline: as `predict`.
            callback: callable. Called once, from another thread, with `(outputs, error)`:
                the outputs dict, or the `ServingError` (or other exception) of the call.

        Returns:
            Whether the call was queued; False when batching is off or the inputs cannot join a
            batch (the caller then runs `predict` in a thread of its own).

        Raises:
            ServingError: the request does not fit the signature (as `predict` raises it).
        """
        if self.batcher is None:
            return False
        key, signature = self._checked_signature(servable, signature_name, inputs)
        started = time.monotonic()

        def done(outputs, error):
            if error is None:
                try:
                    outputs = self._predicted(servable, started, outputs)
                except Exception as failure:  # noqa: BLE001 - reported to the caller
                    outputs, error = None, failure
            callback(outputs, error)

        return self.batcher.submit((servable, key), inputs, signature, deadline, done)

    def _checked_signature(
        self, servable, signature_name, inputs, output_filter=(), input_dtypes=None
    ):
        """The `(key, signature)` a predict request runs, after TF Serving's checks of it."""
        key, signature = self.prediction_signature(servable, signature_name)
        self.check_input_names(signature, inputs)
        self.check_output_filter(signature, output_filter)
        for index, name in enumerate(sorted(signature.inputs)):
            spec = signature.inputs[name]
            if input_dtypes is not None and input_dtypes[name] != spec.dtype:
                raise invalid_argument(
                    f"Expects arg[{index}] to be {dtype_name(spec.dtype)} but "
                    f"{dtype_name(input_dtypes[name])} is provided"
                )
            shape = np.shape(inputs[name])
            if not is_compatible(shape, spec.shape):
                raise invalid_argument(
                    f"The shape of input {name}: {shape_string(shape)} is not compatible with "
                    f"the shape the signature expects: {shape_string(spec.shape)}"
                )
        if not signature.callable:
            raise invalid_argument(f"Signature {key} has no function to run.")
        return key, signature

    def _predicted(self, servable, started, outputs, output_filter=()):
        """A predict call's outputs, filtered, and its runtime recorded."""
        self.metrics.runtime(servable.name, "Predict", time.monotonic() - started)
        if output_filter:
            outputs = {name: outputs[name] for name in output_filter}
        return outputs

    def predict_proto(self, request, servable=None, deadline=None):
        """Answers a gRPC `PredictRequest` with a `PredictResponse`.

        Args:
            request: `PredictRequest`.
            servable: `Servable`, optional. Run on this version instead of the one the request
                names (warm-up, where the request needs no model_spec).
            deadline: `Deadline`, optional. Stops the computation when it passes.
        """
        servable = self._servable_for(request, servable)
        key, signature = self.prediction_signature(servable, request.model_spec.signature_name)
        self.check_input_names(signature, request.inputs)
        self.check_output_filter(signature, request.output_filter)
        # From the declared shapes: a proto may send far fewer values than it declares.
        self.limits.check_shapes(
            {
                name: shape_from_proto(proto.tensor_shape) or ()
                for name, proto in request.inputs.items()
            }
        )
        inputs = {}
        for name, proto in request.inputs.items():
            try:
                inputs[name] = from_tensor_proto(proto)
            except ServingError:
                raise invalid_argument(f"tensor parsing error: {name}") from None
        key, outputs = self.predict(
            servable,
            key,
            inputs,
            list(request.output_filter),
            {name: proto.dtype for name, proto in request.inputs.items()},
            deadline,
        )
        response = predict_pb2.PredictResponse()
        response.model_spec.name = servable.name
        response.model_spec.version.value = servable.version
        response.model_spec.signature_name = key
        for name, value in outputs.items():
            response.outputs[name].CopyFrom(
                to_tensor_proto(value, signature.outputs[name].dtype, self.tensor_content)
            )
        return response

    # === Classify, regress and MultiInference ===

    def _example_signature(self, servable, signature_name, check):
        key = signature_name or DEFAULT_SIGNATURE
        signature = servable.signatures.get(key)
        if signature is None:
            raise invalid_argument(f"No signature was found with the name: {key}")
        check(signature, self.check_signature_methods)
        return key, signature

    def _run_on_examples(self, servable, api, signature, serialized, deadline):
        started = time.monotonic()
        with (deadline or Deadline()).running():
            outputs = signature({inference.INPUTS: serialized})
        self.metrics.runtime(servable.name, api, time.monotonic() - started)
        return outputs

    def classify(self, servable, signature_name, examples, context=None, deadline=None):
        """Runs a classification signature on `tf.train.Example`s.

        Returns:
            A tuple `(signature key, results)`: per example, a list of `(label, score)` pairs
            (label `b""` without a `classes` output, score 0.0 without `scores`).
        """
        key, signature = self._example_signature(
            servable, signature_name, inference.check_classification
        )
        serialized = inference.serialized_examples(examples, context, self.limits)
        outputs = self._run_on_examples(servable, "Classify", signature, serialized, deadline)
        return key, inference.classification_results(outputs, len(serialized))

    def regress(self, servable, signature_name, examples, context=None, deadline=None):
        """Runs a regression signature on `tf.train.Example`s.

        Returns:
            A tuple `(signature key, values)`: one float per example.
        """
        key, signature = self._example_signature(
            servable, signature_name, inference.check_regression
        )
        serialized = inference.serialized_examples(examples, context, self.limits)
        outputs = self._run_on_examples(servable, "Regress", signature, serialized, deadline)
        return key, inference.regression_results(outputs, len(serialized))

    def _servable_for(self, request, servable):
        if servable is not None:
            return servable
        if not request.HasField("model_spec"):
            raise invalid_argument("Missing ModelSpec")
        version, label = model_spec_version(request.model_spec)
        return self.manager.get(request.model_spec.name, version, label)

    def classify_proto(self, request, servable=None, deadline=None):
        """Answers a gRPC `ClassificationRequest`."""
        servable = self._servable_for(request, servable)
        examples, context = inference.examples_from_input(request.input)
        key, results = self.classify(
            servable, request.model_spec.signature_name, examples, context, deadline
        )
        response = classification_pb2.ClassificationResponse()
        response.model_spec.name = servable.name
        response.model_spec.version.value = servable.version
        response.model_spec.signature_name = key
        _fill_classifications(response.result, results)
        return response

    def regress_proto(self, request, servable=None, deadline=None):
        """Answers a gRPC `RegressionRequest`."""
        servable = self._servable_for(request, servable)
        examples, context = inference.examples_from_input(request.input)
        key, values = self.regress(
            servable, request.model_spec.signature_name, examples, context, deadline
        )
        response = regression_pb2.RegressionResponse()
        response.model_spec.name = servable.name
        response.model_spec.version.value = servable.version
        response.model_spec.signature_name = key
        response.result.regressions.extend(
            regression_pb2.Regression(value=value) for value in values
        )
        return response

    def multi_inference_proto(self, request, servable=None, deadline=None):
        """Answers a gRPC `MultiInferenceRequest`: classification and regression signatures of
        one model version on the same examples (TF Serving's RunMultiInference)."""
        if servable is None:
            spec = request.tasks[0].model_spec if request.tasks else None
            version, label = model_spec_version(spec) if spec is not None else (None, None)
            servable = self.manager.get(spec.name if spec is not None else "", version, label)
        tasks = inference.check_multi_inference(
            request, servable.signatures, self.check_signature_methods
        )
        examples, context = inference.examples_from_input(request.input)
        serialized = inference.serialized_examples(examples, context, self.limits)
        self.metrics.examples(servable.name, len(serialized))
        response = inference_pb2.MultiInferenceResponse()
        for task, (key, method, signature) in zip(request.tasks, tasks):
            outputs = self._run_on_examples(
                servable, "MultiInference", signature, serialized, deadline
            )
            result = response.results.add()
            result.model_spec.name = task.model_spec.name
            result.model_spec.signature_name = key
            result.model_spec.version.value = servable.version
            if method == CLASSIFY_METHOD:
                classifications = inference.classification_results(outputs, len(serialized))
                _fill_classifications(result.classification_result, classifications)
            else:
                values = inference.regression_results(outputs, len(serialized))
                result.regression_result.regressions.extend(
                    regression_pb2.Regression(value=value) for value in values
                )
        return response

    # === Warm-up ===

    def warmup(self, servable):
        """Replays `assets.extra/tf_serving_warmup_requests` against a version being loaded.

        The file is a TFRecord of `PredictionLog`s, as TF Serving reads it; predict, classify,
        regress and multi-inference logs are replayed (at most 1000 records, each
        `warmup_iterations` times). A failing request fails the load.
        """
        path = os.path.join(servable.path, WARMUP_FILE)
        if not os.path.exists(path):
            return
        handlers = {
            "predict_log": lambda log: self.predict_proto(log.request, servable),
            "classify_log": lambda log: self.classify_proto(log.request, servable),
            "regress_log": lambda log: self.regress_proto(log.request, servable),
            "multi_inference_log": lambda log: self.multi_inference_proto(log.request, servable),
        }
        started, records, status = time.monotonic(), 0, "OK"
        try:
            for record in tf.data.TFRecordDataset(path):
                if records >= MAX_WARMUP_RECORDS:
                    break
                records += 1
                log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
                kind = log.WhichOneof("log_type")
                if kind not in handlers:
                    raise ServingError("UNIMPLEMENTED", f"Unsupported log_type for warmup: {kind}")
                for _ in range(self.warmup_iterations):
                    handlers[kind](getattr(log, kind))
        except ServingError as error:
            status = str(error)
            raise ServingError(
                error.code, f"Failed to warm up model from {path}: {error.message}"
            ) from None
        except Exception as error:
            status = f"UNKNOWN: {error}"
            raise
        finally:
            self.metrics.warmup(servable.path, status, time.monotonic() - started, records)


def _fill_classifications(result, results):
    """Fills a `ClassificationResult` from `[(label, score), ...]` per example."""
    for pairs in results:
        classifications = result.classifications.add()
        for label, score in pairs:
            classifications.classes.add(label=label.decode("utf-8", "replace"), score=score)
