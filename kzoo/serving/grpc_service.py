"""TF Serving's gRPC API: `tensorflow.serving.PredictionService` and `ModelService`.

The servicers subclass the ones generated in `tensorflow-serving-api`, so any TF Serving client
(`prediction_service_pb2_grpc.PredictionServiceStub`...) talks to kzoo unchanged:

- `PredictionService.Predict` (with `output_filter`), `Classify`, `Regress`, `MultiInference`
  (classification and regression signatures of one model on the same examples) and
  `GetModelMetadata` (the `signature_def` field).
- `ModelService.GetModelStatus` and `HandleReloadConfigRequest` (a new `model_config_list`).

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
from concurrent import futures

import grpc
from tensorflow_serving.apis import (
    model_management_pb2,
    model_service_pb2_grpc,
    prediction_service_pb2_grpc,
)

from kzoo.serving.errors import ServingError
from kzoo.serving.sources import StaticSource, configs_from_proto

logger = logging.getLogger("kzoo.serving")


def _answer(context, operation, request, core=None):
    """Runs `operation(request)`, aborting the call with the error's status code on failure.

    With a `core`, the operation is called as `operation(request, deadline=...)` under the
    call's deadline, cancelled when the call ends early (the client cancelled or gave up).
    """
    response = None
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
    context.abort(getattr(grpc.StatusCode, failure.code), failure.message)


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """`tensorflow.serving.PredictionService` on a `ServingCore`."""

    def __init__(self, core):
        self.core = core

    def Predict(self, request, context):  # noqa: N802 - gRPC's naming
        return _answer(context, self.core.predict_proto, request, self.core)

    def GetModelMetadata(self, request, context):  # noqa: N802
        return _answer(context, self.core.metadata_proto, request)

    def Classify(self, request, context):  # noqa: N802
        return _answer(context, self.core.classify_proto, request, self.core)

    def Regress(self, request, context):  # noqa: N802
        return _answer(context, self.core.regress_proto, request, self.core)

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
    """A started gRPC server and the port it listens on.

    Attributes:
        server: the `grpc.Server`.
        port: int. The bound port.
    """

    def __init__(self, server, port):
        self.server = server
        self.port = port

    def stop(self, grace):
        """Stops the server; returns an event set once in-flight calls are done."""
        return self.server.stop(grace)


def create_grpc_server(core, host, port, max_message_bytes=64 * 2**20, max_workers=32):
    """Starts a gRPC server with the prediction and model services.

    Args:
        core: `ServingCore`. The models to answer from.
        host: str. Address to bind, e.g. `127.0.0.1`.
        port: int. Port to bind; 0 picks a free one.
        max_message_bytes: int. Largest request accepted (larger ones fail with
            RESOURCE_EXHAUSTED). Defaults to 64 MiB.
        max_workers: int. Threads answering calls in parallel. Defaults to 32.

    Returns:
        A started `GrpcServer`.
    """
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="kzoo-serving-grpc"),
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", -1),
            ("grpc.so_reuseport", 0),
        ],
    )
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionServicer(core), server
    )
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(core), server)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:
        bound = 0
    if bound == 0:
        raise OSError(f"Could not bind the gRPC server to {address}")
    server.start()
    return GrpcServer(server, bound)
