"""A Python client for TF Serving's REST and gRPC APIs, kzoo's local server or the real one.

    client = Client("http://localhost:8501")     # REST
    client = Client("grpc://localhost:8500")     # gRPC, or Client("localhost:8500", grpc=True)
    client = Client("unix:/tmp/kzoo.sock")       # gRPC on a Unix socket (--grpc_socket_path)
    client.status("text_model")                  # [{"version": 1, "state": "AVAILABLE", ...}]
    client.metadata("text_model")                # TF Serving's metadata JSON
    client.predict("text_model", {"text": ["a b", "c"]})   # {"length": array([3, 1]), ...}
    client.predict("versioned", [1.0, 2.0], label="stable")

`predict` returns a dict of NumPy arrays for both transports, strings as object arrays of
bytes (as TensorFlow returns them). Inputs are converted to the data types the signature
declares (read once from the model's metadata), so a list of Python ints reaches a float input
as floats over gRPC too; floats for an integer input are sent as they are, and refused by the
server as TF Serving refuses them, never truncated. Failures raise `ServingError` with TF
Serving's code and message. The client is thread-safe: REST requests reuse one keep-alive
connection per thread.

Example (a running server, here kzoo's):

>>> import tempfile
>>> import tensorflow as tf
>>> from kzoo.serving import ModelServer
>>> class Sum(tf.Module):
...     @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
...     def serve(self, x):
...         return {"total": tf.reduce_sum(x, axis=1)}
>>> base = tempfile.mkdtemp()
>>> module = Sum()
>>> tf.saved_model.save(module, f"{base}/sum/1", signatures=module.serve)
>>> with ModelServer(base, rest_port=0, grpc_port=0) as server:
...     for client in (Client(server.rest_url), Client(f"grpc://{server.grpc_target}")):
...         print(client.transport, client.predict("sum", [[1, 2], [3, 4.5]])["total"])
rest [3.  7.5]
grpc [3.  7.5]
"""

import base64
import http.client
import json
import threading
from urllib.parse import quote, urlsplit

import numpy as np

# By name: `Client`'s `grpc` argument would hide the module inside `__init__`.
from grpc import RpcError, insecure_channel
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    status_pb2,
)

from kzoo.serving.core import ServingCore
from kzoo.serving.errors import ServingError
from kzoo.serving.servables import DEFAULT_SIGNATURE
from kzoo.serving.tensors import (
    DT_STRING,
    as_string_array,
    from_tensor_proto,
    numpy_dtype,
    to_tensor_proto,
)


def _json_input(array):
    """A NumPy array as nested JSON lists; bytes as `{"b64": ...}`."""

    def convert(value):
        if isinstance(value, list):
            return [convert(item) for item in value]
        if isinstance(value, bytes):
            return {"b64": base64.b64encode(value).decode("ascii")}
        return value

    return convert(array.tolist())


def _array_from_json(value, dtype):
    """A JSON output value as a NumPy array of the signature's data type."""
    if dtype == DT_STRING:

        def convert(item):
            if isinstance(item, list):
                return [convert(element) for element in item]
            if isinstance(item, dict):
                return base64.b64decode(item["b64"])
            return item.encode("utf-8", "surrogateescape")

        converted = convert(value)
        if not isinstance(converted, list):
            array = np.empty((), dtype=object)
            array[()] = converted
            return array
        return np.array(converted, dtype=object)
    if dtype is None:
        return np.asarray(value)
    return np.asarray(value, dtype=numpy_dtype(dtype))


class _Signature:
    """Input and output data types of one signature, read from metadata."""

    def __init__(self, signature_def):
        self.inputs = {
            name: _dtype_number(info.get("dtype")) for name, info in signature_def["inputs"].items()
        }
        self.outputs = {
            name: _dtype_number(info.get("dtype"))
            for name, info in signature_def["outputs"].items()
        }


def _dtype_number(name):
    try:
        return types_pb2.DataType.Value(name)
    except (TypeError, ValueError):
        return None


class Client:
    """A client for TF Serving's REST or gRPC API.

    Args:
        url: str. `http://host:port` for REST, `grpc://host:port` for gRPC, `host:port`
            (REST unless `grpc=True`), or `unix:/path` for gRPC on a Unix socket.
        grpc: bool. Use gRPC for a `host:port` url. Defaults to False.
        timeout: float. Seconds to wait for each answer. Defaults to 30.
        max_message_bytes: int. Largest gRPC message sent or received. Defaults to 64 MiB.

    Attributes:
        transport: str. `"rest"` or `"grpc"`.
    """

    def __init__(self, url, *, grpc=False, timeout=30.0, max_message_bytes=64 * 2**20):
        socket_path = url[len("unix:") :] if url.startswith("unix:") else None
        if socket_path is None and "://" not in url:
            url = ("grpc://" if grpc else "http://") + url
        parts = urlsplit("grpc://localhost" if socket_path else url)
        if parts.scheme not in ("http", "https", "grpc") or not parts.hostname or socket_path == "":
            raise ValueError(
                "Invalid value for argument url. Expected http://host:port, grpc://host:port, "
                f"host:port or unix:/path/to/socket. Received: url={url}"
            )
        self.transport = "grpc" if parts.scheme == "grpc" else "rest"
        self.timeout = timeout
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._local = threading.local()
        self._signatures = {}
        self._channel = None
        if self.transport == "grpc":
            host = f"[{self._host}]" if ":" in self._host else self._host
            self._channel = insecure_channel(
                f"unix:{socket_path}" if socket_path else f"{host}:{parts.port or 8500}",
                options=[
                    ("grpc.max_receive_message_length", max_message_bytes),
                    ("grpc.max_send_message_length", max_message_bytes),
                ],
            )
            self._prediction = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
            self._model = model_service_pb2_grpc.ModelServiceStub(self._channel)

    def close(self):
        """Closes the connections."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
        if self._channel is not None:
            self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # === REST plumbing ===

    def _connection(self, fresh=False):
        connection = getattr(self._local, "connection", None)
        if connection is None or fresh:
            if connection is not None:
                connection.close()
            if self._scheme == "https":
                kind = http.client.HTTPSConnection
            else:
                kind = http.client.HTTPConnection
            connection = kind(self._host, self._port, timeout=self.timeout)
            self._local.connection = connection
        return connection

    def request(self, method, path, body=None):
        """Sends one REST request; returns `(http_status, parsed JSON or text)`.

        Args:
            method: str. `GET` or `POST`.
            path: str. E.g. `/v1/models/half:predict`.
            body: dict, str or bytes, optional. A dict is sent as JSON.
        """
        if isinstance(body, dict):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode("utf-8")
        headers = {"Content-Type": "application/json"} if body is not None else {}
        for attempt in range(2):
            connection = self._connection(fresh=attempt > 0)
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                break
            except Exception as error:
                # Whatever went wrong (a timeout, a refused or reset connection), this connection
                # is in an unknown state: drop it so the next request starts on a new one.
                connection.close()
                self._local.connection = None
                # A kept-alive connection the server closed meanwhile: retry once on a new one.
                stale = (http.client.RemoteDisconnected, ConnectionError, http.client.BadStatusLine)
                if attempt or not isinstance(error, stale):
                    raise
        if response.getheader("Connection", "").lower() == "close":
            connection.close()
            self._local.connection = None
        text = data.decode("utf-8", "surrogateescape")
        try:
            return response.status, json.loads(text)
        except json.JSONDecodeError:
            return response.status, text

    def _rest(self, method, path, body=None):
        status, payload = self.request(method, path, body)
        if status != 200:
            message = payload.get("error", "") if isinstance(payload, dict) else payload
            raise ServingError.from_http(status, message)
        return payload

    @staticmethod
    def _path(name, version, label):
        if version is not None and label is not None:
            raise ValueError("Pass a version or a label, not both.")
        path = f"/v1/models/{quote(name, safe='')}"
        if version is not None:
            path += f"/versions/{int(version)}"
        elif label is not None:
            path += f"/labels/{quote(label, safe='')}"
        return path

    # === gRPC plumbing ===

    def _call(self, method, request):
        try:
            return method(request, timeout=self.timeout)
        except RpcError as error:
            raise ServingError(error.code().name, error.details() or "") from None

    @staticmethod
    def _model_spec(spec, name, version, label, signature_name=None):
        if version is not None and label is not None:
            raise ValueError("Pass a version or a label, not both.")
        spec.name = name
        if version is not None:
            spec.version.value = int(version)
        elif label is not None:
            spec.version_label = label
        if signature_name:
            spec.signature_name = signature_name

    # === API ===

    def status(self, name, version=None, label=None):
        """The status of a model's versions, highest first.

        Returns:
            A list of dicts `{"version": int, "state": "AVAILABLE", "error_code": "OK",
            "error_message": ""}`.
        """
        if self.transport == "rest":
            payload = self._rest("GET", self._path(name, version, label))
            entries = payload.get("model_version_status", [])
            return [
                {
                    "version": int(entry["version"]),
                    "state": entry["state"],
                    "error_code": entry.get("status", {}).get("error_code", "OK"),
                    "error_message": entry.get("status", {}).get("error_message", ""),
                }
                for entry in entries
            ]
        request = get_model_status_pb2.GetModelStatusRequest()
        self._model_spec(request.model_spec, name, version, label)
        response = self._call(self._model.GetModelStatus, request)
        codes = status_pb2.StatusProto.DESCRIPTOR.fields_by_name["error_code"].enum_type
        return [
            {
                "version": entry.version,
                "state": get_model_status_pb2.ModelVersionStatus.State.Name(entry.state),
                "error_code": codes.values_by_number[entry.status.error_code].name,
                "error_message": entry.status.error_message,
            }
            for entry in response.model_version_status
        ]

    def metadata(self, name, version=None, label=None):
        """The model's metadata as TF Serving's REST API prints it.

        Returns:
            `{"model_spec": {"name", "version", ...}, "metadata": {"signature_def":
            {"signature_def": {signature name: SignatureDef as JSON}}}}`.
        """
        if self.transport == "rest":
            return self._rest("GET", self._path(name, version, label) + "/metadata")
        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        self._model_spec(request.model_spec, name, version, label)
        return ServingCore.metadata_json(self._call(self._prediction.GetModelMetadata, request))

    def signatures(self, name, version=None, label=None):
        """The model's signatures: `{signature name: {"inputs": {...}, "outputs": {...}}}`."""
        metadata = self.metadata(name, version, label)
        return metadata["metadata"]["signature_def"]["signature_def"]

    def _signature(self, name, version, label, signature_name):
        key = (name, version, label, signature_name or DEFAULT_SIGNATURE)
        signature = self._signatures.get(key)
        if signature is None:
            signature_def = self.signatures(name, version, label).get(key[3])
            if signature_def is None:
                return None
            signature = self._signatures[key] = _Signature(signature_def)
        return signature

    def predict(
        self, name, inputs, signature_name=None, version=None, label=None, output_filter=None
    ):
        """Runs a signature of a served model.

        Args:
            name: str. Model name.
            inputs: dict of input name → array-like, or one array-like for a signature with a
                single input. Strings may be str or bytes.
            signature_name: str, optional. Defaults to `serving_default`.
            version: int, optional. A version number; the latest when omitted.
            label: str, optional. A version label (`stable`, `canary`...).
            output_filter: list of str, optional. Outputs to return; all when omitted.

        Returns:
            A dict of output name → NumPy array.

        Raises:
            ServingError: what the server answered, e.g. NOT_FOUND for an unknown model.
        """
        signature = self._signature(name, version, label, signature_name)
        if not isinstance(inputs, dict):
            if signature is None or len(signature.inputs) != 1:
                raise ValueError(
                    "Pass a dict of named inputs: the signature has several inputs, or none "
                    "could be read from the model's metadata."
                )
            inputs = {next(iter(signature.inputs)): inputs}
        arrays = {}
        for input_name, value in inputs.items():
            dtype = signature.inputs.get(input_name) if signature is not None else None
            arrays[input_name] = _as_array(value, dtype)
        if self.transport == "grpc":
            return self._predict_grpc(
                name, arrays, signature, signature_name, version, label, output_filter
            )
        body = {"inputs": {key: _json_input(value) for key, value in arrays.items()}}
        if signature_name:
            body["signature_name"] = signature_name
        payload = self._rest("POST", self._path(name, version, label) + ":predict", body)
        outputs = payload["outputs"]
        output_types = signature.outputs if signature is not None else {}
        if len(output_types) == 1:
            outputs = {next(iter(output_types)): outputs}
        elif not isinstance(outputs, dict):
            outputs = {"outputs": outputs}
        result = {
            key: _array_from_json(value, output_types.get(key)) for key, value in outputs.items()
        }
        if output_filter:
            result = {key: result[key] for key in output_filter}
        return result

    def _predict_grpc(self, name, arrays, signature, signature_name, version, label, output_filter):
        request = predict_pb2.PredictRequest()
        self._model_spec(request.model_spec, name, version, label, signature_name)
        for input_name, value in arrays.items():
            request.inputs[input_name].CopyFrom(to_tensor_proto(value))
        if output_filter:
            request.output_filter.extend(output_filter)
        response = self._call(self._prediction.Predict, request)
        return {key: from_tensor_proto(proto) for key, proto in response.outputs.items()}


def _as_array(value, dtype):
    """An input as an array of the signature's type; as given when it does not convert, or
    would lose its value (floats for an integer input), so the server answers with its own
    error instead of running on truncated numbers."""
    if dtype == DT_STRING or (dtype is None and _is_text(value)):
        return as_string_array(value)
    if dtype is not None:
        target = numpy_dtype(dtype)
        try:
            given = np.asarray(value)
        except (TypeError, ValueError, OverflowError):
            given = None
        if given is not None and target.kind in "iub" and given.dtype.kind in "fc":
            return given
        try:
            return np.asarray(value, dtype=target)
        except (TypeError, ValueError, OverflowError):
            pass
    if _is_text(value):
        return as_string_array(value)
    return np.asarray(value)


def _is_text(value):
    array = np.asarray(value, dtype=object) if not isinstance(value, np.ndarray) else value
    if array.dtype.kind in "SU":
        return True
    if array.dtype == object and array.size:
        first = array.ravel()[0]
        return isinstance(first, (str, bytes))
    return False
