"""The local model server: `kzoo serve`, TF Serving's REST and gRPC APIs on local SavedModels.

    kzoo serve [--model-base-path saved_models] [--model-name NAME]
               [--model-config-file models.config] [--model-config-file-poll-wait-seconds N]
               [--host 127.0.0.1] [--rest-port 8501] [--grpc-port 8500]
               [--enable-batching --max-batch-size N --batch-timeout-micros N]
               [--file-system-poll-wait-seconds N] [--max-request-bytes N]
               [--max-request-instances N] [--max-request-elements N]
               [--request-timeout SECONDS]

It serves every model under `--model-base-path` (each subfolder with integer version folders,
the layout `kzoo train` exports), or the models a TF Serving `--model-config-file` lists, and
runs until SIGINT or SIGTERM. The flags mean what TF Serving's flags of the same names mean;
`--rest-port 0` (and, unlike TF Serving, `--grpc-port 0`) turns that API off. It binds
127.0.0.1 unless `--host` says otherwise.

Unlike TF Serving, one request may not take the server's memory: besides `--max-request-bytes`
(the body or message as sent), a request may have at most `--max-request-instances` instances
(the first, batch dimension of each input; default 1024) and `--max-request-elements` tensor
elements in all (default 2**24), counted from the shapes it declares before any tensor is built:
a gRPC `TensorProto` that sends fewer values than its shape declares (TensorFlow repeats the last
one) counts as the dense tensor it declares. A request over a limit is answered INVALID_ARGUMENT
(REST 400) with TF Serving's error body (`kzoo.serving.limits`). A request still running after
`--request-timeout` seconds (default 30, TF Serving's `--rest_api_timeout_in_ms`; for gRPC, the
client's deadline when it is earlier) is answered DEADLINE_EXCEEDED (REST 504) and its
computation stopped; so is the computation of a client that goes away (`kzoo.serving.deadlines`).
After a request of 1 MiB or more in or out, freed memory goes back to the system
(`kzoo.serving.memory`).

In Python, `ModelServer` starts the same server in background threads, e.g. in tests:

>>> import tempfile
>>> import tensorflow as tf
>>> from kzoo.serving import Client
>>> class Echo(tf.Module):
...     @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
...     def serve(self, text):
...         return {"upper": tf.strings.upper(text)}
>>> base = tempfile.mkdtemp()
>>> module = Echo()
>>> tf.saved_model.save(module, f"{base}/echo/1", signatures=module.serve)
>>> with ModelServer(base, rest_port=0, grpc_port=0) as server:
...     client = Client(server.rest_url)
...     client.predict("echo", {"text": ["hi"]})["upper"]
array([b'HI'], dtype=object)
"""

import argparse
import logging
import os
import signal
import sys
import threading

from kzoo.serving.batching import Batcher
from kzoo.serving.core import ServingCore
from kzoo.serving.deadlines import DeadlineWatch
from kzoo.serving.grpc_service import create_grpc_server
from kzoo.serving.limits import (
    DEFAULT_MAX_REQUEST_ELEMENTS,
    DEFAULT_MAX_REQUEST_INSTANCES,
    RequestLimits,
)
from kzoo.serving.manager import ModelManager
from kzoo.serving.rest import RestApi, RestServer
from kzoo.serving.sources import BasePathSource, ConfigFileSource

logger = logging.getLogger("kzoo.serving")

DEFAULT_MAX_REQUEST_BYTES = 64 * 2**20
# TF Serving's --rest_api_timeout_in_ms default.
DEFAULT_REQUEST_TIMEOUT = 30.0


def _folder_problem(path):
    """Why `path` cannot be a model base path ("does not exist"...), or None."""
    if not os.path.exists(path):
        return "does not exist"
    if not os.path.isdir(path):
        return "is not a folder"
    return None


def _client_host(host):
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def _join_host_port(host, port):
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class ModelServer:
    """TF Serving's REST and gRPC APIs on local SavedModels, in background threads.

    Args:
        model_base_path: str. A folder of model folders (`saved_models`), or one model's folder
            of versions. Defaults to `saved_models`. Ignored with `model_config_file`.
        model_config_file: str, optional. A TF Serving `model_config_list` text proto.
        model_name: str, optional. Serve `model_base_path` as this one model (TF Serving's
            `--model_name`).
        host: str. Address to bind. Defaults to `127.0.0.1`.
        rest_port: int or None. REST port; 0 picks a free one, None disables. Defaults to 8501.
        grpc_port: int or None. gRPC port; 0 picks a free one, None disables. Defaults to 8500.
        enable_batching: bool. Merge concurrent predict calls (see `Batcher`). Defaults to False.
        max_batch_size: int. Most rows in a merged call. Defaults to 32.
        batch_timeout_micros: int. How long a batch waits to fill. Defaults to 1000.
        file_system_poll_wait_seconds: float. Seconds between looks for new versions; 0 looks
            once at start. Defaults to 1, as TF Serving.
        model_config_file_poll_wait_seconds: float. Seconds between looks at the config file;
            0 reads it once. Defaults to 0, as TF Serving.
        max_request_bytes: int. Largest REST body or gRPC message accepted. Defaults to 64 MiB.
        max_request_instances: int. Most instances (first-dimension rows of each input, or
            examples) in one request. Defaults to 1024.
        max_request_elements: int. Most tensor elements one request may declare, all inputs
            together, counted from their shapes. Defaults to 2**24.
        request_timeout: float or None. Seconds a request may run before it is answered
            DEADLINE_EXCEEDED and its computation stopped (a gRPC client's earlier deadline
            wins); None or 0: no limit but the client's. Defaults to 30, as TF Serving's REST API.
        warmup: bool. Replay each version's `assets.extra/tf_serving_warmup_requests` before it
            serves. Defaults to True.
        grpc_workers: int. Threads answering gRPC calls. Defaults to 32.
    """

    def __init__(
        self,
        model_base_path="saved_models",
        *,
        model_config_file=None,
        model_name=None,
        host="127.0.0.1",
        rest_port=8501,
        grpc_port=8500,
        enable_batching=False,
        max_batch_size=32,
        batch_timeout_micros=1000,
        file_system_poll_wait_seconds=1.0,
        model_config_file_poll_wait_seconds=0.0,
        max_request_bytes=DEFAULT_MAX_REQUEST_BYTES,
        max_request_instances=DEFAULT_MAX_REQUEST_INSTANCES,
        max_request_elements=DEFAULT_MAX_REQUEST_ELEMENTS,
        request_timeout=DEFAULT_REQUEST_TIMEOUT,
        warmup=True,
        grpc_workers=32,
    ):
        if model_config_file:
            self.source = ConfigFileSource(model_config_file, model_config_file_poll_wait_seconds)
        else:
            problem = _folder_problem(model_base_path)
            if problem:
                raise ValueError(
                    "Invalid value for argument model_base_path. Expected an existing folder of "
                    f"models. Received: model_base_path={model_base_path}, which {problem}"
                )
            self.source = BasePathSource(model_base_path, model_name)
        if max_request_bytes < 1:
            raise ValueError(
                "Invalid value for argument max_request_bytes. Expected a positive integer. "
                f"Received: max_request_bytes={max_request_bytes}"
            )
        if request_timeout is not None and not request_timeout >= 0:
            raise ValueError(
                "Invalid value for argument request_timeout. Expected a number of seconds >= 0 "
                f"or None. Received: request_timeout={request_timeout}"
            )
        self.host = host
        self.rest_port = rest_port
        self.grpc_port = grpc_port
        self.max_request_bytes = max_request_bytes
        self.grpc_workers = grpc_workers
        batcher = Batcher(max_batch_size, batch_timeout_micros) if enable_batching else None
        self.manager = ModelManager(self.source, file_system_poll_wait_seconds)
        limits = RequestLimits(
            max_instances=max_request_instances, max_elements=max_request_elements
        )
        self.watch = DeadlineWatch()
        self.core = ServingCore(
            self.manager, batcher, limits, request_timeout or None, watch=self.watch
        )
        if warmup:
            self.manager.warmup = self.core.warmup
        self._rest = None
        self._rest_thread = None
        self._grpc = None
        self._stopped = threading.Event()

    @property
    def batcher(self):
        """The `Batcher`, or None when batching is off."""
        return self.core.batcher

    @property
    def rest_url(self):
        """`http://host:port` of the REST API, or None when it is off."""
        if self._rest is None:
            return None
        return f"http://{_join_host_port(_client_host(self.host), self.rest_port)}"

    @property
    def grpc_target(self):
        """`host:port` of the gRPC API, or None when it is off."""
        if self._grpc is None:
            return None
        return _join_host_port(_client_host(self.host), self.grpc_port)

    def start(self):
        """Loads the models, then starts the APIs and the version polling. Returns self."""
        self.manager.start()
        self.watch.start()
        try:
            if self.grpc_port is not None:
                self._grpc = create_grpc_server(
                    self.core, self.host, self.grpc_port, self.max_request_bytes, self.grpc_workers
                )
                self.grpc_port = self._grpc.port
                logger.info("Running gRPC ModelServer at %s ...", self.grpc_target)
            if self.rest_port is not None:
                self._rest = RestServer(
                    self.host, self.rest_port, RestApi(self.core), self.max_request_bytes
                )
                self.rest_port = self._rest.port
                self._rest_thread = threading.Thread(
                    target=self._rest.serve_forever,
                    kwargs={"poll_interval": 0.1},
                    name="kzoo-serving-rest",
                    daemon=True,
                )
                self._rest_thread.start()
                logger.info("Exporting HTTP/REST API at:%s ...", self.rest_url)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, grace=5.0):
        """Stops the APIs (requests in progress get `grace` seconds to answer) and unloads."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self._rest is not None:
            self._rest.stop(grace)
            self._rest_thread.join()
        if self._grpc is not None:
            self._grpc.stop(grace).wait()
        if self.batcher is not None:
            self.batcher.stop()
        self.watch.stop()
        self.manager.stop()
        logger.info("Server stopped.")

    def wait(self, timeout=None):
        """Blocks until `stop()` is called; returns whether it was."""
        return self._stopped.wait(timeout)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


def serve(**options):
    """Runs a `ModelServer` until SIGINT or SIGTERM (or `stop()` from another thread).

    Args:
        **options: `ModelServer` arguments.

    Returns:
        The stopped `ModelServer`.
    """
    server = ModelServer(**options)
    stop_requested = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for number in (signal.SIGINT, signal.SIGTERM):
            previous[number] = signal.signal(number, lambda *_: stop_requested.set())
    try:
        server.start()
        while not stop_requested.is_set() and not server.wait(0.2):
            pass
        logger.info("Shutting down ...")
    finally:
        server.stop()
        for number, handler in previous.items():
            signal.signal(number, handler)
    return server


def _port(text):
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"Expected a port from 0 to 65535. Received: {text}")
    return port


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"Expected a positive integer. Received: {text}")
    return value


def _seconds(text):
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"Expected a number of seconds >= 0. Received: {text}")
    return value


def build_parser(prog="kzoo serve"):
    """The `kzoo serve` argument parser."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Serve SavedModels with TensorFlow Serving's REST and gRPC APIs.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    models = parser.add_argument_group("models")
    models.add_argument(
        "--model-base-path",
        default="saved_models",
        help="folder of model folders (<name>/<version>/saved_model.pb), or one model's folder",
    )
    models.add_argument("--model-name", help="serve --model-base-path as this one model")
    models.add_argument(
        "--model-config-file",
        help="TF Serving model_config_list text proto (instead of the base path)",
    )
    models.add_argument(
        "--model-config-file-poll-wait-seconds",
        type=float,
        default=0.0,
        help="seconds between re-reads of the config file; 0 reads it once",
    )
    models.add_argument(
        "--file-system-poll-wait-seconds",
        type=float,
        default=1.0,
        help="seconds between looks for new versions; 0 looks once at start",
    )
    network = parser.add_argument_group("network")
    network.add_argument("--host", default="127.0.0.1", help="address to bind")
    network.add_argument("--rest-port", type=_port, default=8501, help="REST port, 0 to turn off")
    network.add_argument("--grpc-port", type=_port, default=8500, help="gRPC port, 0 to turn off")
    network.add_argument(
        "--max-request-bytes",
        type=_positive,
        default=DEFAULT_MAX_REQUEST_BYTES,
        help="largest REST body or gRPC message accepted",
    )
    limits = parser.add_argument_group("request limits")
    limits.add_argument(
        "--max-request-instances",
        type=_positive,
        default=DEFAULT_MAX_REQUEST_INSTANCES,
        help="most instances in one request: the first (batch) dimension of each input, or the "
        "examples of classify and regress; larger requests are answered 400 / INVALID_ARGUMENT",
    )
    limits.add_argument(
        "--max-request-elements",
        type=_positive,
        default=DEFAULT_MAX_REQUEST_ELEMENTS,
        help="most tensor elements in one request, all inputs together, counted from the shapes "
        "it declares before any tensor is built (a TensorProto sending fewer values than its "
        "shape, which TensorFlow fills by repeating the last one, counts as the dense tensor); "
        "larger requests are answered 400 / INVALID_ARGUMENT",
    )
    limits.add_argument(
        "--request-timeout",
        type=_seconds,
        default=DEFAULT_REQUEST_TIMEOUT,
        help="seconds a request may run before it is answered DEADLINE_EXCEEDED (REST 504) and "
        "its computation stopped, as TF Serving's --rest_api_timeout_in_ms; a gRPC client's "
        "earlier deadline wins; 0: no limit",
    )
    batching = parser.add_argument_group("batching")
    batching.add_argument(
        "--enable-batching", action="store_true", help="merge concurrent predict requests"
    )
    batching.add_argument(
        "--max-batch-size", type=_positive, default=32, help="most rows in a merged call"
    )
    batching.add_argument(
        "--batch-timeout-micros", type=int, default=1000, help="how long a batch waits to fill"
    )
    parser.add_argument(
        "--no-warmup",
        action="store_true",
        help="skip assets.extra/tf_serving_warmup_requests when loading",
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    return parser


def main(argv=None, prog="kzoo serve"):
    """Runs `kzoo serve` with command-line arguments; returns the exit status."""
    args = build_parser(prog).parse_args(argv)
    if not args.model_config_file:
        # A wrong path is a usage error: one line and status 2 now, not a warning every poll.
        problem = _folder_problem(args.model_base_path)
        if problem:
            print(
                f"{prog}: Invalid value for setting --model-base-path. Expected an existing folder "
                f"of models. Received: --model-base-path={args.model_base_path}, which {problem}",
                file=sys.stderr,
            )
            return 2
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logger.setLevel(args.log_level)
    try:
        serve(
            model_base_path=args.model_base_path,
            model_config_file=args.model_config_file,
            model_name=args.model_name,
            host=args.host,
            rest_port=args.rest_port or None,
            grpc_port=args.grpc_port or None,
            enable_batching=args.enable_batching,
            max_batch_size=args.max_batch_size,
            batch_timeout_micros=args.batch_timeout_micros,
            file_system_poll_wait_seconds=args.file_system_poll_wait_seconds,
            model_config_file_poll_wait_seconds=args.model_config_file_poll_wait_seconds,
            max_request_bytes=args.max_request_bytes,
            max_request_instances=args.max_request_instances,
            max_request_elements=args.max_request_elements,
            request_timeout=args.request_timeout,
            warmup=not args.no_warmup,
        )
    except (OSError, ValueError) as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 1
    return 0
