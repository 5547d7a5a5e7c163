"""The local model server: `kzoo serve`, TF Serving's REST and gRPC APIs on local SavedModels.

`kzoo serve` takes tensorflow_model_server's command line (`kzoo.serving.flags`):

    kzoo serve --port=8500 --rest_api_port=8501 --model_name=half --model_base_path=/models/half
    kzoo serve --model_config_file=models.config --monitoring_config_file=monitoring.config \\
        --enable_batching --batching_parameters_file=batching.txt \\
        --enable_grpc_healthcheck_service --grpc_socket_path=/tmp/kzoo.sock

and kzoo's own (`kzoo serve` alone serves every model under `saved_models/`, the layout
`kzoo train` exports, REST on 8501 and gRPC on 8500). It runs until SIGINT or SIGTERM and binds
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

import logging
import os
import signal
import sys
import threading

import tensorflow as tf

from kzoo.backends import require_tensorflow
from kzoo.serving.batching import DEFAULT_THREAD_POOL_NAME, Batcher
from kzoo.serving.core import ServingCore
from kzoo.serving.deadlines import DeadlineWatch
from kzoo.serving.flags import (
    DEFAULT_MAX_REQUEST_BYTES,
    DEFAULT_REQUEST_TIMEOUT,
    server_options,
    versions,
)
from kzoo.serving.grpc_service import create_grpc_server
from kzoo.serving.http_loop import RestServer
from kzoo.serving.limits import (
    DEFAULT_MAX_REQUEST_ELEMENTS,
    DEFAULT_MAX_REQUEST_INSTANCES,
    RequestLimits,
)
from kzoo.serving.manager import ModelManager
from kzoo.serving.metrics import DEFAULT_PROMETHEUS_PATH, ServingMetrics
from kzoo.serving.protos import BatchingParameters, MonitoringConfig, read_text_proto
from kzoo.serving.rest import RestApi
from kzoo.serving.servables import SERVE_TAG
from kzoo.serving.sources import BasePathSource, ConfigFileSource

logger = logging.getLogger("kzoo.serving")


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


def _batcher(path, max_batch_size, batch_timeout_micros, metrics):
    """A `Batcher` from a BatchingParameters file, kzoo's own settings over it."""
    parameters = read_text_proto(path, BatchingParameters) if path else BatchingParameters()
    if parameters.pad_variable_length_inputs:
        raise ValueError(
            f"Invalid value for setting --batching_parameters_file. kzoo serve cannot honour "
            "pad_variable_length_inputs (requests whose inputs differ past the first dimension "
            f"run on their own). Expected: false. Received: --batching_parameters_file={path}"
        )
    options = {
        name: getattr(parameters, name).value
        for name in (
            "max_batch_size",
            "batch_timeout_micros",
            "max_enqueued_batches",
            "num_batch_threads",
            "enable_large_batch_splitting",
            "max_execution_batch_size",
        )
        if parameters.HasField(name)
    }
    if max_batch_size is not None:
        options["max_batch_size"] = max_batch_size
    if batch_timeout_micros is not None:
        options["batch_timeout_micros"] = batch_timeout_micros
    name = parameters.thread_pool_name.value if parameters.HasField("thread_pool_name") else ""
    return Batcher(
        **options,
        allowed_batch_sizes=list(parameters.allowed_batch_sizes),
        thread_pool_name=name or DEFAULT_THREAD_POOL_NAME,
        metrics=metrics,
    )


def _prometheus_path(path):
    """Where a MonitoringConfig file serves the metrics, or None when it does not."""
    if not path:
        return None
    prometheus = read_text_proto(path, MonitoringConfig).prometheus_config
    if not prometheus.enable:
        return None
    if prometheus.path and not prometheus.path.startswith("/"):
        raise ValueError(
            "Invalid value for setting --monitoring_config_file. Expected a prometheus_config "
            f"path starting with /. Received: path: {prometheus.path!r} in {path}"
        )
    return prometheus.path or DEFAULT_PROMETHEUS_PATH


class ModelServer:
    """TF Serving's REST and gRPC APIs on local SavedModels, in background threads.

    The arguments are TF Serving's `Server::Options` where it has them (`kzoo.serving.flags`
    gives each one's flag).

    Args:
        model_base_path: str. A folder of model folders (`saved_models`), or one model's folder
            of versions. Defaults to `saved_models`. Ignored with `model_config_file`.
        model_config_file: str, optional. A TF Serving `model_config_list` text proto.
        model_name: str, optional. Serve `model_base_path` as this one model (TF Serving's
            `--model_name`).
        host: str. Address to bind. Defaults to `127.0.0.1`.
        rest_port: int or None. REST port; 0 picks a free one, None disables. Defaults to 8501.
        grpc_port: int or None. gRPC port; 0 picks a free one, None disables. Defaults to 8500.
        grpc_socket_path: str, optional. A Unix socket gRPC listens on too.
        enable_batching: bool. Merge concurrent predict calls (see `Batcher`). Defaults to False.
        batching_parameters_file: str, optional. A text `BatchingParameters` for the batcher;
            needs `enable_batching`.
        max_batch_size: int, optional. Most rows in a merged call, over the file's (TF Serving's
            default 1000).
        batch_timeout_micros: int, optional. How long a batch waits to fill, over the file's
            (default 0).
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
        warmup_iterations: int. Times each warm-up request is replayed. Defaults to 1.
        grpc_workers: int. Threads answering gRPC calls. Defaults to 32.
        grpc_channel_arguments: sequence of `(key, value)`. More gRPC server options.
        rest_workers: int, optional. REST requests processed at once; None: no limit.
        enable_cors: bool. Add CORS headers to REST answers. Defaults to False.
        monitoring_config_file: str, optional. A text `MonitoringConfig`; with
            `prometheus_config { enable: true }` the metrics are served on the REST port.
        enable_grpc_healthcheck_service: bool. Serve `grpc.health.v1.Health`. Defaults to False.
        check_signature_methods: bool. Check signatures' `method_name`. Defaults to False.
        saved_model_tags: sequence of str. The meta graph to load. Defaults to `["serve"]`.
        max_load_retries: int. Tries after a failed load. Defaults to 0.
        load_retry_interval: float. Seconds between tries. Defaults to 60.
        tensor_content: bool. gRPC predict outputs as `tensor_content`. Defaults to False.

    Attributes:
        metrics: `ServingMetrics`. The server's metrics (`metrics.registry` is its own
            `prometheus_client` registry).
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
        grpc_socket_path=None,
        enable_batching=False,
        batching_parameters_file=None,
        max_batch_size=None,
        batch_timeout_micros=None,
        file_system_poll_wait_seconds=1.0,
        model_config_file_poll_wait_seconds=0.0,
        max_request_bytes=DEFAULT_MAX_REQUEST_BYTES,
        max_request_instances=DEFAULT_MAX_REQUEST_INSTANCES,
        max_request_elements=DEFAULT_MAX_REQUEST_ELEMENTS,
        request_timeout=DEFAULT_REQUEST_TIMEOUT,
        warmup=True,
        warmup_iterations=1,
        grpc_workers=32,
        grpc_channel_arguments=(),
        rest_workers=None,
        enable_cors=False,
        monitoring_config_file=None,
        enable_grpc_healthcheck_service=False,
        check_signature_methods=False,
        saved_model_tags=(SERVE_TAG,),
        max_load_retries=0,
        load_retry_interval=60.0,
        tensor_content=False,
    ):
        require_tensorflow("kzoo serve (TF Serving's APIs on SavedModels)")
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
        if batching_parameters_file and not enable_batching:
            raise ValueError(
                "server_options.batching_parameters_file is set without setting "
                "server_options.enable_batching to true."
            )
        if rest_port and rest_port == grpc_port:
            raise ValueError(
                f"Invalid value for setting --rest_api_port. Expected a port other than --port "
                f"(the gRPC API's). Received: --rest_api_port={rest_port}"
            )
        self.prometheus_path = _prometheus_path(monitoring_config_file)
        if self.prometheus_path and rest_port is None:
            raise ValueError(
                "Invalid value for setting --monitoring_config_file. The metrics are served by "
                "the REST API: expected a --rest_api_port. Received: --rest_api_port=0"
            )
        self.host = host
        self.rest_port = rest_port
        self.grpc_port = grpc_port
        self.grpc_socket_path = grpc_socket_path
        self.max_request_bytes = max_request_bytes
        self.grpc_workers = grpc_workers
        self.grpc_channel_arguments = list(grpc_channel_arguments)
        self.rest_workers = rest_workers
        self.enable_cors = enable_cors
        self.health_check = enable_grpc_healthcheck_service
        self.metrics = ServingMetrics()
        batcher = None
        if enable_batching:
            batcher = _batcher(
                batching_parameters_file, max_batch_size, batch_timeout_micros, self.metrics
            )
        self.manager = ModelManager(
            self.source,
            file_system_poll_wait_seconds,
            tags=saved_model_tags,
            max_load_retries=max_load_retries,
            load_retry_interval=load_retry_interval,
            metrics=self.metrics,
        )
        limits = RequestLimits(
            max_instances=max_request_instances, max_elements=max_request_elements
        )
        self.watch = DeadlineWatch()
        self.core = ServingCore(
            self.manager,
            batcher,
            limits,
            request_timeout or None,
            watch=self.watch,
            metrics=self.metrics,
            check_signature_methods=check_signature_methods,
            warmup_iterations=warmup_iterations,
            tensor_content=tensor_content,
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
        """`host:port` of the gRPC API, or None when it is off or on a socket only."""
        if self._grpc is None or self._grpc.port is None:
            return None
        return _join_host_port(_client_host(self.host), self.grpc_port)

    def start(self):
        """Loads the models, then starts the APIs and the version polling. Returns self."""
        self.manager.start()
        self.watch.start()
        try:
            if self.grpc_port is not None or self.grpc_socket_path:
                self._grpc = create_grpc_server(
                    self.core,
                    self.host,
                    self.grpc_port,
                    self.max_request_bytes,
                    self.grpc_workers,
                    socket_path=self.grpc_socket_path,
                    health_check=self.health_check,
                    channel_arguments=self.grpc_channel_arguments,
                )
                if self._grpc.port is not None:
                    self.grpc_port = self._grpc.port
                    logger.info("Running gRPC ModelServer at %s ...", self.grpc_target)
                if self.grpc_socket_path:
                    logger.info(
                        "Running gRPC ModelServer at UNIX socket %s ...", self.grpc_socket_path
                    )
            if self.rest_port is not None:
                api = RestApi(self.core, self.prometheus_path, self.enable_cors)
                self._rest = RestServer(
                    self.host, self.rest_port, api, self.max_request_bytes, self.rest_workers
                )
                self.rest_port = self._rest.port
                self._rest_thread = threading.Thread(
                    target=self._rest.serve_forever,
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


def _set_threads(intra, inter):
    """TensorFlow's op thread pools, before anything runs (TF Serving's session config)."""
    if intra:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
    if inter:
        tf.config.threading.set_inter_op_parallelism_threads(inter)


def main(argv=None, prog="kzoo serve"):
    """Runs `kzoo serve` with command-line arguments; returns the exit status."""
    try:
        options, process = server_options(argv, prog)
    except (OSError, ValueError) as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 2
    if process["version"]:
        print(versions())
        return 0
    if not options["model_config_file"]:
        # A wrong path is a usage error: one line and status 2 now, not a warning every poll.
        path, flag = options["model_base_path"], process["base_path_flag"]
        problem = _folder_problem(path)
        if problem:
            print(
                f"{prog}: Invalid value for setting {flag}. Expected an existing folder "
                f"of models. Received: {flag}={path}, which {problem}",
                file=sys.stderr,
            )
            return 2
    logging.basicConfig(
        level=process["log_level"], format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logger.setLevel(process["log_level"])
    try:
        _set_threads(*process["threads"])
        serve(**options)
    except (OSError, ValueError, RuntimeError) as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 1
    return 0
