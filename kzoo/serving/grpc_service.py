"""TF Serving's gRPC API: `tensorflow.serving.PredictionService` and `ModelService`.

The servicers subclass the ones generated in `tensorflow-serving-api`, so any TF Serving client
(`prediction_service_pb2_grpc.PredictionServiceStub`...) talks to kzoo unchanged:

- `PredictionService.Predict` (with `output_filter`), `Classify`, `Regress`, `MultiInference`
  (classification and regression signatures of one model on the same examples) and
  `GetModelMetadata` (the `signature_def` field).
- `ModelService.GetModelStatus` and `HandleReloadConfigRequest` (a new `model_config_list`).

With `health=True` (TF Serving's `--enable_grpc_healthcheck_service`), the standard
`grpc.health.v1.Health` service answers SERVING for the server (`""`) and for `ModelService` and
`PredictionService`, the names TF Serving registers, and NOT_SERVING once the server stops. The
server listens on a TCP port, a Unix socket (`--grpc_socket_path`, as TF Serving's
`unix:<path>` address), or both. Predict, Classify and Regress are counted in the server's
metrics (`kzoo.serving.metrics`), entrypoint `GRPC`.

Failures abort the call with TF Serving's status code and message (NOT_FOUND for an unknown model
or version, INVALID_ARGUMENT for a bad request...). A message over the size limit is refused by
gRPC itself with RESOURCE_EXHAUSTED. A call's deadline is the client's or the server's
`request_timeout`, whichever ends first: past it the computation is stopped and the call fails
with DEADLINE_EXCEEDED; a call the client cancels (or whose deadline passes on the client's
side) has its computation stopped too (`kzoo.serving.deadlines`).

Example:

>>> server = create_grpc_server(core=None, host="127.0.0.1", port=0)
>>> server.port > 0
True
>>> server.stop(0).wait()
True
"""

import logging
import time
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from tensorflow_serving.apis import (
    model_management_pb2,
    model_service_pb2_grpc,
    prediction_service_pb2_grpc,
)

from kzoo.serving.errors import ServingError
from kzoo.serving.sources import StaticSource, configs_from_proto

logger = logging.getLogger("kzoo.serving")


# The services TF Serving's health service reports, beside the server's own "".
HEALTH_SERVICES = ("", "ModelService", "PredictionService")


def _answer(context, operation, request, core=None, api=None):
    """Runs `operation(request)`, aborting the call with the error's status code on failure.

    With a `core`, the operation is called as `operation(request, deadline=...)` under the
    call's deadline, cancelled when the call ends early (the client cancelled or gave up); with
    an `api` name too, the request is counted in the core's metrics.
    """
    response = None
    failure = None
    started = time.monotonic()
    try:
        if core is None:
            return operation(request)
        deadline = core.request_deadline(client_timeout=context.time_remaining())
        if not context.add_callback(deadline.cancel):
            deadline.cancel()  # the call has already ended
        response = operation(request, deadline=deadline)
        return response
    except ServingError as error:
        failure = error
    except Exception as error:  # noqa: BLE001 - the server keeps serving
        logger.exception("Error processing a gRPC request")
        failure = ServingError("INTERNAL", f"{type(error).__name__}: {error}")
    finally:
        if core is not None:
            core.request_done(request.ByteSize() + (response.ByteSize() if response else 0))
            if api is not None:
                code = "OK" if failure is None else failure.code
                seconds = time.monotonic() - started
                core.metrics.request(request.model_spec.name, code, api, "GRPC", seconds)
    context.abort(getattr(grpc.StatusCode, failure.code), failure.message)


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """`tensorflow.serving.PredictionService` on a `ServingCore`."""

    def __init__(self, core):
        self.core = core

    def Predict(self, request, context):  # noqa: N802 - gRPC's naming
        return _answer(context, self.core.predict_proto, request, self.core, "Predict")

    def GetModelMetadata(self, request, context):  # noqa: N802
        return _answer(context, self.core.metadata_proto, request)

    def Classify(self, request, context):  # noqa: N802
        return _answer(context, self.core.classify_proto, request, self.core, "Classify")

    def Regress(self, request, context):  # noqa: N802
        return _answer(context, self.core.regress_proto, request, self.core, "Regress")

    def MultiInference(self, request, context):  # noqa: N802
        return _answer(context, self.core.multi_inference_proto, request, self.core)


class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    """`tensorflow.serving.ModelService` on a `ServingCore`."""

    def __init__(self, core):
        self.core = core

    def GetModelStatus(self, request, context):  # noqa: N802
        return _answer(context, self.core.status_proto, request)

    def HandleReloadConfigRequest(self, request, context):  # noqa: N802
        def reload(request):
            try:
                configs = configs_from_proto(request.config)
            except ValueError as error:
                raise ServingError("INVALID_ARGUMENT", str(error)) from None
            self.core.manager.set_source(StaticSource(configs))
            return model_management_pb2.ReloadConfigResponse()

        return _answer(context, reload, request)


class GrpcServer:
    """A started gRPC server and where it listens.

    Attributes:
        server: the `grpc.Server`.
        port: int or None. The bound TCP port; None without one.
        socket_path: str or None. The Unix socket; None without one.
        health: `grpc_health.v1.health.HealthServicer` or None.
    """

    def __init__(self, server, port, socket_path=None, health_servicer=None):
        self.server = server
        self.port = port
        self.socket_path = socket_path
        self.health = health_servicer

    def stop(self, grace):
        """Stops the server (health checks answer NOT_SERVING first); returns an event set
        once in-flight calls are done."""
        if self.health is not None:
            self.health.enter_graceful_shutdown()
        return self.server.stop(grace)


def parse_channel_arguments(text):
    """TF Serving's `--grpc_channel_arguments`: `key=value,key=value`, integer values as ints.

    Example:

    >>> parse_channel_arguments("grpc.max_connection_age_ms=2000,grpc.primary_user_agent=kz")
    [('grpc.max_connection_age_ms', 2000), ('grpc.primary_user_agent', 'kz')]
    """
    arguments = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, separator, value = item.partition("=")
        if not separator or not key:
            raise ValueError(
                "Invalid value for setting --grpc_channel_arguments. Expected key=value pairs "
                f"separated by commas. Received: --grpc_channel_arguments={text}"
            )
        try:
            arguments.append((key, int(value)))
        except ValueError:
            arguments.append((key, value))
    return arguments


def create_grpc_server(
    core,
    host,
    port,
    max_message_bytes=64 * 2**20,
    max_workers=32,
    *,
    socket_path=None,
    health_check=False,
    channel_arguments=(),
):
    """Starts a gRPC server with the prediction and model services.

    Args:
        core: `ServingCore`. The models to answer from.
        host: str. Address to bind, e.g. `127.0.0.1`.
        port: int or None. Port to bind; 0 picks a free one; None: no TCP port.
        max_message_bytes: int. Largest request accepted (larger ones fail with
            RESOURCE_EXHAUSTED). Defaults to 64 MiB.
        max_workers: int. Threads answering calls in parallel. Defaults to 32.
        socket_path: str, optional. A Unix socket to listen on too (relative or absolute).
        health_check: bool. Add the standard health service. Defaults to False.
        channel_arguments: sequence of `(key, value)`. More gRPC server options.

    Returns:
        A started `GrpcServer`.
    """
    options = {
        "grpc.max_receive_message_length": max_message_bytes,
        "grpc.max_send_message_length": -1,
        "grpc.so_reuseport": 0,
    }
    options.update(dict(channel_arguments))
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="kzoo-serving-grpc"),
        options=list(options.items()),
    )
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionServicer(core), server
    )
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(core), server)
    health_servicer = None
    if health_check:
        health_servicer = health.HealthServicer()
        for service in HEALTH_SERVICES:
            health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    addresses = []
    if port is not None:
        addresses.append(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    if socket_path:
        addresses.append(f"unix:{socket_path}")
    bound = None
    for address in addresses:
        try:
            result = server.add_insecure_port(address)
        except RuntimeError:
            result = 0
        if result == 0:
            raise OSError(f"Could not bind the gRPC server to {address}")
        if not address.startswith("unix:"):
            bound = result
    server.start()
    return GrpcServer(server, bound, socket_path or None, health_servicer)
