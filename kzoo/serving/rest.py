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
(`errors.HTTP_STATUS`). Each connection has its own thread, with keep-alive; a bad request never
stops the server. A request past the server's `request_timeout` is answered 504
`{"error": "Timed out waiting for notification"}` (TF Serving's `--rest_api_timeout_in_ms`) and
its computation stopped; a client that closes its connection before the answer has its
computation stopped too (`kzoo.serving.deadlines`).

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
import socket
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

from google.protobuf import json_format

from kzoo.serving.errors import HTTP_STATUS, ServingError, invalid_argument
from kzoo.serving.json_examples import (
    make_classify_response,
    make_regress_response,
    parse_examples_request,
)
from kzoo.serving.json_predict import make_predict_response, parse_predict_request
from kzoo.serving.json_values import error_body
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
# Methods libevent knows but TF Serving's server does not allow: evhttp answers 501.
_REFUSED_METHODS = ("TRACE", "CONNECT")
_JSON = [("Content-Type", "application/json")]
# TF Serving's AddCORSHeaders.
_CORS = [
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "POST, GET"),
    ("Access-Control-Allow-Headers", "Content-Type"),
]
_ORIGIN = re.compile(r"https?://")


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
            return 404, error_body(f"Not found: {method} {path}. The API is under /v1/."), _JSON
        started = time.monotonic()
        request = _Request()
        answer_headers = list(_JSON)
        code = "OK"
        try:
            if method == "OPTIONS":
                status, body, answer_headers = self._preflight(headers), b"", []
            else:
                status, body = 200, self._route(method, path, body, deadline, request)
        except ServingError as error:
            status, body, code = error.http_status, error_body(error.message), error.code
        except Exception as error:  # noqa: BLE001 - the server keeps serving
            logger.exception("Error processing %s %s", method, path)
            code = "INTERNAL"
            status, body = 500, error_body(f"Internal error: {type(error).__name__}: {error}")
        if self.core is not None:
            seconds = time.monotonic() - started
            self.core.metrics.request(request.model_name, code, request.api, "REST", seconds)
        return status, body, answer_headers + (_CORS if self.cors else [])

    @staticmethod
    def _preflight(headers):
        """A CORS preflight: OK with an `Origin` header, as TF Serving's HTTP server."""
        origin = (headers or {}).get("Origin") or ""
        if not _ORIGIN.match(origin):
            raise ServingError("FAILED_PRECONDITION", "Origin header is missing in CORS preflight")
        return 200

    def _health(self, method, path, server_check, name, version):
        """The Open Inference Protocol's liveness and readiness answers."""
        try:
            if method not in ("GET", "HEAD"):
                raise invalid_argument(f"Malformed request: {method} {path}")
            if server_check == "live":
                return 200, b'{"live": true}', _JSON
            names = self.core.manager.model_names() if server_check else [unquote(name)]
            if server_check and not names:
                raise ServingError("UNAVAILABLE", "No model is configured yet.")
            for model in names:
                self._check_ready(model, _parse_version(version))
        except ServingError as error:
            return error.http_status, error_body(error.message), _JSON
        if server_check:
            return 200, b'{"ready": true}', _JSON
        return 200, json.dumps({"name": names[0], "ready": True}).encode("utf-8"), _JSON

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
            name, version, label, verb = match.groups()
            request.model_name, request.api = unquote(name), verb
            name = unquote(name)
            version = _parse_version(version)
            label = unquote(label) if label else None
            if verb == "predict":
                return self._predict(name, version, label, body, deadline)
            if verb == "classify":
                return self._examples(name, version, label, body, deadline, classify=True)
            if verb == "regress":
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

    def _predict(self, name, version, label, body, deadline):
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
        _, outputs = self.core.predict(
            resolved[0], request.signature_name, request.inputs, deadline=deadline
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


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kzoo-serving"
    # Idle keep-alive connections are closed after this many seconds.
    timeout = 300

    def setup(self):
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def __getattr__(self, name):
        if name.startswith("do_"):
            return self._refuse_method
        raise AttributeError(name)

    def do_GET(self):  # noqa: N802 - http.server's naming
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_GET

    def log_message(self, format, *args):  # noqa: A002 - http.server's signature
        logger.debug("%s - %s", self.address_string(), format % args)

    def _refuse_method(self):
        if self.command in _REFUSED_METHODS:
            self._reply(501, error_body(f"Method not implemented: {self.command}"), close=True)
        else:
            self._reply(400, error_body(f"Unknown method: {self.command}"), close=True)

    def _reply(self, status, body, close=False, headers=_JSON):
        if close:
            self.close_connection = True
        reason = self.responses.get(status, ("",))[0]
        head = [
            f"{self.protocol_version} {status} {reason}",
            f"Server: {self.version_string()}",
            f"Date: {self.date_time_string()}",
            *(f"{name}: {value}" for name, value in headers),
            f"Content-Length: {len(body)}",
        ]
        if self.close_connection:
            head.append("Connection: close")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        if self.command != "HEAD":
            data += body
        # One write: headers and body in separate packets meet delayed ACKs.
        self.wfile.write(data)
        self.log_request(status, len(body))

    def _read_body(self):
        limit = self.server.max_request_bytes
        encoding = self.headers.get("Transfer-Encoding", "").lower()
        if "chunked" in encoding:
            chunks, size = [], 0
            while True:
                line = self.rfile.readline(65537)
                chunk_size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if chunk_size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                size += chunk_size
                if size > limit:
                    return None
                chunks.append(self.rfile.read(chunk_size))
                self.rfile.readline(3)
            body = b"".join(chunks)
        else:
            length = int(self.headers.get("Content-Length") or 0)
            if length < 0:
                raise ValueError("negative Content-Length")
            if length > limit:
                return None
            body = self.rfile.read(length) if length else b""
        if self.headers.get("Content-Encoding", "").lower() == "gzip" and body:
            decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
            body = decompressor.decompress(body, limit + 1)
            if len(body) > limit:
                return None
        return body

    def _dispatch(self):
        core = self.server.api.core
        # Started once the headers are in: reading the body counts, as the client waits for it.
        deadline = core.request_deadline(connection=self.connection) if core else None
        try:
            body = self._read_body()
        except (ValueError, zlib.error) as error:
            self._reply(400, error_body(f"Malformed request body: {error}"), close=True)
            return
        if body is None:
            limit = self.server.max_request_bytes
            self._reply(
                413,
                error_body(f"Request body is larger than the limit of {limit} bytes"),
                close=True,
            )
            return
        workers = self.server.workers
        if workers is not None:
            workers.acquire()
        try:
            status, payload, headers = self.server.api.handle(
                self.command, self.path, body, deadline, self.headers
            )
        finally:
            if workers is not None:
                workers.release()
        if status == HTTP_STATUS["CANCELLED"] and deadline is not None and deadline.cancelled:
            # The client closed the connection: nobody reads an answer.
            self.close_connection = True
        else:
            self._reply(status, payload, close=self.server.stopping, headers=headers)
        if core:
            core.request_done(len(body) + len(payload))


class RestServer(ThreadingHTTPServer):
    """A threaded HTTP server for a `RestApi`, with a body size limit and a clean stop.

    Args:
        host: str. Address to bind, e.g. `127.0.0.1` (IPv6 addresses work too).
        port: int. Port to bind; 0 picks a free one (see `port`).
        api: `RestApi`.
        max_request_bytes: int. Largest accepted body (after gzip decompression).
        max_workers: int, optional. Requests processed at once (TF Serving's
            `--rest_api_num_threads`); others wait their turn. None: no limit.
    """

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, host, port, api, max_request_bytes, max_workers=None):
        if ":" in host:
            self.address_family = socket.AF_INET6
        self.api = api
        self.max_request_bytes = max_request_bytes
        self.workers = threading.BoundedSemaphore(max_workers) if max_workers else None
        self.stopping = False
        self._connections = {}
        self._connections_lock = threading.Lock()
        super().__init__((host, port), _RequestHandler)

    @property
    def port(self):
        """The bound port."""
        return self.server_address[1]

    def process_request(self, request, client_address):
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name="kzoo-serving-http",
            daemon=True,
        )
        with self._connections_lock:
            self._connections[request] = thread
        thread.start()

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.pop(request, None)

    def stop(self, grace=5.0):
        """Stops accepting, lets requests in progress answer, then closes every connection."""
        self.stopping = True
        self.shutdown()
        self.server_close()
        with self._connections_lock:
            connections = list(self._connections.items())
        for connection, _ in connections:
            try:
                # Idle keep-alive connections read end-of-file and end; busy ones still answer.
                connection.shutdown(socket.SHUT_RD)
            except OSError:
                pass
        for _, thread in connections:
            thread.join(grace)
