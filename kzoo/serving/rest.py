"""TF Serving's REST API over HTTP/1.1: model status, metadata, predict, classify and regress.

Routes, as TF Serving matches them (`http_rest_api_util.cc`; paths are case-insensitive):

    GET  /v1/models/{name}[/versions/{v}|/labels/{l}]             model status
    GET  /v1/models/{name}[/versions/{v}|/labels/{l}]/metadata    signature_def map
    POST /v1/models/{name}[/versions/{v}|/labels/{l}]:predict     predict (row or columnar)
    POST /v1/models/{name}[/versions/{v}|/labels/{l}]:classify     classify tf.Examples
    POST /v1/models/{name}[/versions/{v}|/labels/{l}]:regress      regress tf.Examples

An OPTIONS request under `/v1/` is a CORS preflight, answered 200 when it has an `Origin`
header (`--rest_api_enable_cors_support` adds TF Serving's CORS headers to every answer). Any
other request under `/v1/` is `400 {"error": "Malformed request: GET /v1/foo"}`, a path
outside `/v1/` is 404, TRACE and CONNECT (methods TF Serving's libevent server knows but does not
accept) are 501, an unknown method is 400, and a body over the size limit is 413.

Outside `/v1/`, the server also answers:

    GET  <prometheus path>                      TF Serving's metrics (--monitoring_config_file)
    GET  /v2/health/live                        200 {"live": true} while the server runs
    GET  /v2/health/ready                       200 {"ready": true} when every model serves
    GET  /v2/models/{name}[/versions/{v}]/ready 200 {"name": ..., "ready": true} when it serves

The health paths are those of the Open Inference Protocol (KServe V2), for readiness probes; a
model that has no available version yet is answered 503 (UNAVAILABLE), an unknown one 404.
Errors are `{"error": "<message>"}` with the HTTP status TF Serving gives their code
(`errors.HTTP_STATUS`). One event loop (`kzoo.serving.http_loop`) reads and answers every
connection; a predict request to a batching server is parsed there and waits for its batch
without a thread of its own (`RestApi.start`), other requests run `RestApi.handle` in worker
threads. A bad request never stops the server. A request past the server's `request_timeout`
is answered 504 `{"error": "Timed out waiting for notification"}` (TF Serving's
`--rest_api_timeout_in_ms`) and its computation stopped; a client that closes its connection
before the answer has its computation stopped too
(`kzoo.serving.deadlines`).

Example:

>>> api = RestApi(core=None)
>>> api.handle("GET", "/v1/models", b"")[:2]
(400, b'{"error": "Missing model name in request."}')
>>> api.handle("DELETE", "/v1/models/half", b"")[:2]
(400, b'{"error": "Malformed request: DELETE /v1/models/half"}')
"""

import json
import logging
import re
import time
from urllib.parse import unquote

from google.protobuf import json_format

from kzoo.serving.deadlines import Deadline
from kzoo.serving.errors import ServingError, invalid_argument
from kzoo.serving.json_examples import (
    make_classify_response,
    make_regress_response,
    parse_examples_request,
)
from kzoo.serving.json_predict import make_predict_response, parse_predict_request
from kzoo.serving.json_values import JSON_HEADERS, error_body
from kzoo.serving.manager import AVAILABLE
from kzoo.serving.servables import DEFAULT_SIGNATURE

logger = logging.getLogger("kzoo.serving")

_VERSION_OR_LABEL = r"(?:(?:/versions/([0-9]+))|(?:/labels/([^/:]+)))?"
_API_PATH = re.compile(r"/v1/.*", re.IGNORECASE | re.DOTALL)
_PREDICTION_PATH = re.compile(
    r"/v1/models/([^/:]+)" + _VERSION_OR_LABEL + r":(classify|regress|predict)", re.IGNORECASE
)
_MODEL_PATH = re.compile(
    r"/v1/models(?:/([^/:]+))?" + _VERSION_OR_LABEL + r"(?:/(metadata))?", re.IGNORECASE
)
_HEALTH_PATH = re.compile(
    r"/v2/(?:health/(live|ready)|models/([^/]+)(?:/versions/([0-9]+))?/ready)"
)
_INT64_MAX = 2**63 - 1
# TF Serving's AddCORSHeaders.
_CORS = [
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "POST, GET"),
    ("Access-Control-Allow-Headers", "Content-Type"),
]
_ORIGIN = re.compile(r"https?://")
# Predict bodies up to this size are parsed on the event loop.
_LOOP_BODY_BYTES = 64 * 1024


def _parse_version(text):
    if not text:
        return None
    version = int(text)
    if version > _INT64_MAX:
        raise invalid_argument(f"Failed to convert version: {text} to numeric.")
    return version


class _Request:
    """What the metrics say of a request: its model and API (TF Serving's `method`)."""

    __slots__ = ("model_name", "api")

    def __init__(self):
        self.model_name = ""
        self.api = ""


class RestApi:
    """Answers REST requests from a `ServingCore`; independent of the HTTP server.

    Args:
        core: `ServingCore`. The models to answer from.
        prometheus_path: str, optional. Where the metrics page is served; None: nowhere.
        cors: bool. Add TF Serving's CORS headers to API answers. Defaults to False.
    """

    def __init__(self, core, prometheus_path=None, cors=False):
        self.core = core
        self.prometheus_path = prometheus_path
        self.cors = cors

    def handle(self, method, path, body, deadline=None, headers=None):
        """Answers one request.

        Args:
            method: str. The HTTP method.
            path: str. The request path (a query string is ignored).
            body: bytes. The request body.
            deadline: `Deadline`, optional. When the answer is due; the computation stops then.
            headers: mapping, optional. The request's headers (`Origin` for CORS preflights).

        Returns:
            A tuple `(http_status, response_body, response_headers)`; the headers are a list of
            `(name, value)`.
        """
        path = path.split("?", 1)[0]
        if self.prometheus_path is not None and path == self.prometheus_path:
            return 200, self.core.metrics.render(), [("Content-Type", "text/plain")]
        health = _HEALTH_PATH.fullmatch(path)
        if health:
            return self._health(method, path, *health.groups())
        if not _API_PATH.fullmatch(path):
            return (
                404,
                error_body(f"Not found: {method} {path}. The API is under /v1/."),
                JSON_HEADERS,
            )
        request = _Request()
        if method == "OPTIONS":
            return self._answer(request, method, path, lambda: self._preflight(headers))
        return self._answer(
            request, method, path, lambda: self._route(method, path, body, deadline, request)
        )

    def start(self, method, path, body, deadline, headers, respond, offload):
        """Answers a request without blocking the calling thread (an event loop's).

        A predict request to a batching server is parsed here and queued for its batch; every
        other request (and a large body, whose parsing would hold the loop up) runs `handle`
        through `offload`.

        Args:
            method, path, body, deadline, headers: as `handle`.
            respond: callable. Called once, from any thread, with `handle`'s tuple.
            offload: callable. Runs a function of no arguments in a worker thread.
        """
        match = None
        if (
            method == "POST"
            and self.core is not None
            and self.core.batcher is not None
            and len(body) <= _LOOP_BODY_BYTES
        ):
            match = _PREDICTION_PATH.fullmatch(path.split("?", 1)[0])
        if match is None or match.group(4) != "predict":
            offload(lambda: respond(*self.handle(method, path, body, deadline, headers)))
            return
        request = _Request()
        started = time.monotonic()
        deadline = deadline or Deadline()
        try:
            name, version, label = self._prediction_target(match, request)
            servable, parsed = self._parse_predict(name, version, label, body)

            def finished(outputs, error):
                def answer():
                    if error is not None:
                        raise error
                    return make_predict_response(outputs, parsed.format)

                respond(*self._answer(request, method, path, answer, started))

            queued = self.core.submit_predict(
                servable, parsed.signature_name, parsed.inputs, deadline, finished
            )
        except Exception as error:  # noqa: BLE001 - answered as handle answers it

            def failed(error=error):
                raise error

            respond(*self._answer(request, method, path, failed, started))
            return
        if not queued:  # cannot join a batch: runs on its own, in a worker thread
            offload(
                lambda: respond(
                    *self._answer(
                        request,
                        method,
                        path,
                        lambda: self._run_predict(servable, parsed, deadline),
                        started,
                    )
                )
            )

    def _answer(self, request, method, path, produce, started=None):
        """`(status, body, headers)` of an API request whose body `produce()` returns; its
        errors become TF Serving's error bodies, and the request is counted in the metrics."""
        started = time.monotonic() if started is None else started
        headers = list(JSON_HEADERS)
        code = "OK"
        try:
            body = produce()
            status = 200
            if method == "OPTIONS":
                body, headers = b"", []
        except ServingError as error:
            status, body, code = error.http_status, error_body(error.message), error.code
        except Exception as error:  # noqa: BLE001 - the server keeps serving
            logger.error("Error processing %s %s", method, path, exc_info=error)
            code = "INTERNAL"
            status, body = 500, error_body(f"Internal error: {type(error).__name__}: {error}")
        if self.core is not None:
            seconds = time.monotonic() - started
            self.core.metrics.request(request.model_name, code, request.api, "REST", seconds)
        return status, body, headers + (_CORS if self.cors else [])

    @staticmethod
    def _preflight(headers):
        """A CORS preflight: OK with an `Origin` header, as TF Serving's HTTP server."""
        origin = (headers or {}).get("Origin") or ""
        if not _ORIGIN.match(origin):
            raise ServingError("FAILED_PRECONDITION", "Origin header is missing in CORS preflight")
        return b""

    def _health(self, method, path, server_check, name, version):
        """The Open Inference Protocol's liveness and readiness answers."""
        try:
            if method not in ("GET", "HEAD"):
                raise invalid_argument(f"Malformed request: {method} {path}")
            if server_check == "live":
                return 200, b'{"live": true}', JSON_HEADERS
            names = self.core.manager.model_names() if server_check else [unquote(name)]
            if server_check and not names:
                raise ServingError("UNAVAILABLE", "No model is configured yet.")
            for model in names:
                self._check_ready(model, _parse_version(version))
        except ServingError as error:
            return error.http_status, error_body(error.message), JSON_HEADERS
        if server_check:
            return 200, b'{"ready": true}', JSON_HEADERS
        return 200, json.dumps({"name": names[0], "ready": True}).encode("utf-8"), JSON_HEADERS

    def _check_ready(self, name, version):
        """Raises NOT_FOUND for an unknown model or version, UNAVAILABLE for one not served."""
        manager = self.core.manager
        try:
            states = manager.status(name, version)
        except ServingError as error:
            if (
                error.code != "NOT_FOUND"
                or version is not None
                or name not in manager.model_names()
            ):
                raise
            states = []  # configured, no version found yet
        if not any(state.state == AVAILABLE for _, state in states):
            described = ", ".join(f"version {number} is {state.state}" for number, state in states)
            raise ServingError(
                "UNAVAILABLE", f"Model {name} is not ready: {described or 'no version found yet'}."
            )

    def _route(self, method, path, body, deadline, request):
        malformed = invalid_argument(f"Malformed request: {method} {path}")
        if method == "POST":
            match = _PREDICTION_PATH.fullmatch(path)
            if match is None:
                raise malformed
            name, version, label = self._prediction_target(match, request)
            if request.api == "predict":
                servable, parsed = self._parse_predict(name, version, label, body)
                return self._run_predict(servable, parsed, deadline)
            if request.api == "classify":
                return self._examples(name, version, label, body, deadline, classify=True)
            if request.api == "regress":
                return self._examples(name, version, label, body, deadline, classify=False)
            raise malformed
        if method == "GET":
            match = _MODEL_PATH.fullmatch(path)
            if match is None:
                raise malformed
            name, version, label, subresource = match.groups()
            if not name:
                raise invalid_argument("Missing model name in request.")
            name = unquote(name)
            request.model_name = name
            version = _parse_version(version)
            label = unquote(label) if label else None
            if subresource == "metadata":
                servable = self.core.manager.get(name, version, label)
                metadata = self.core.metadata_json(self.core.metadata(servable))
                return json.dumps(metadata, indent=1).encode("utf-8")
            response = self.core.status(name, version, label)
            text = json_format.MessageToJson(response, always_print_fields_with_no_presence=True)
            return text.encode("utf-8")
        raise malformed

    @staticmethod
    def _prediction_target(match, request):
        """`(name, version, label)` of a `:predict`, `:classify` or `:regress` path."""
        name, version, label, verb = match.groups()
        request.model_name, request.api = unquote(name), verb
        return unquote(name), _parse_version(version), unquote(label) if label else None

    def _parse_predict(self, name, version, label, body):
        """A predict body parsed for the model version it names: `(servable, request)`."""
        resolved = []

        def input_dtypes(signature_name):
            # As TF Serving's GetInfoMap: the model is looked up once the body parses.
            servable = self.core.manager.get(name, version, label)
            key = signature_name or DEFAULT_SIGNATURE
            if key not in servable.signature_defs:
                raise invalid_argument(
                    f'Serving signature name: "{key}" not found in signature def'
                )
            resolved.append(servable)
            return {
                alias: info.dtype for alias, info in servable.signature_defs[key].inputs.items()
            }

        request = parse_predict_request(body, input_dtypes, self.core.limits)
        return resolved[0], request

    def _run_predict(self, servable, request, deadline):
        _, outputs = self.core.predict(
            servable, request.signature_name, request.inputs, deadline=deadline
        )
        return make_predict_response(outputs, request.format)

    def _examples(self, name, version, label, body, deadline, classify):
        signature_name, examples, context = parse_examples_request(body, self.core.limits)
        servable = self.core.manager.get(name, version, label)
        if classify:
            _, results = self.core.classify(servable, signature_name, examples, context, deadline)
            return make_classify_response(
                [[label for label, _ in row] for row in results],
                [[score for _, score in row] for row in results],
            )
        _, values = self.core.regress(servable, signature_name, examples, context, deadline)
        return make_regress_response(values)
