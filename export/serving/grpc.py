"""The TF Serving gRPC API: `PredictionService` and `ModelService` on a ModelManager.

Like the real server, gRPC is synchronous: each request is parsed, validated, run and
answered on one of the gRPC server's threads; with a Batcher, a request's thread waits for
its batch. Regress and MultiInference answer UNIMPLEMENTED.
"""

import logging
import os
import time
from concurrent import futures

import grpc
from tensorflow_serving.apis import (
    model_management_pb2,
    model_service_pb2_grpc,
    prediction_service_pb2_grpc,
)

from export.serving import requests
from export.serving.core import ServingError

_MAX_MESSAGE = 2**31 - 1
# Threads answering gRPC requests. With batching each waiting request holds one, so this
# bounds the requests a batch can gather; beyond it requests queue inside gRPC.
_GRPC_THREADS = max(64, 8 * (os.cpu_count() or 1))


def _handle(context, stats, answer):
    """Returns `answer()`; ServingError becomes a gRPC status, anything else UNKNOWN."""
    start = time.monotonic()
    error = None
    try:
        return answer()
    except ServingError as e:
        error = (e.code, e.message)
    except Exception as e:  # The server keeps serving whatever a request does.
        logging.exception("Request failed")
        error = (grpc.StatusCode.UNKNOWN, str(e)[:1024])
    finally:
        if stats is not None:
            stats.record(time.monotonic() - start, error is None)
    context.abort(*error)


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """`tensorflow.serving.PredictionService` on a ModelManager (and a Batcher)."""

    def __init__(self, manager, batcher=None, stats=None):
        self._manager = manager
        self._batcher = batcher
        self._stats = stats

    def _runner(self, context):
        remaining = context.time_remaining()
        if remaining is not None and remaining <= 0:
            raise ServingError(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")
        if self._batcher is None:
            return None
        return lambda servable, signature_name, feeds: self._batcher.run(
            servable, signature_name, feeds, remaining
        )

    def Predict(self, request, context):
        return _handle(
            context,
            self._stats,
            lambda: requests.predict(self._manager, request, self._runner(context)),
        )

    def Classify(self, request, context):
        return _handle(
            context,
            self._stats,
            lambda: requests.classify(self._manager, request, self._runner(context)),
        )

    def GetModelMetadata(self, request, context):
        return _handle(context, None, lambda: requests.get_model_metadata(self._manager, request))

    def Regress(self, request, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "Regress is not implemented by export.server")

    def MultiInference(self, request, context):
        context.abort(
            grpc.StatusCode.UNIMPLEMENTED, "MultiInference is not implemented by export.server"
        )


class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    """`tensorflow.serving.ModelService`: model status and config reload."""

    def __init__(self, manager):
        self._manager = manager

    def GetModelStatus(self, request, context):
        def status():
            if not request.HasField("model_spec"):
                raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, "Missing ModelSpec")
            return self._manager.model_status(request.model_spec)

        return _handle(context, None, status)

    def HandleReloadConfigRequest(self, request, context):
        response = model_management_pb2.ReloadConfigResponse()
        try:
            self._manager.reload_config(request.config)
        except ServingError as e:
            response.status.error_code = e.code.value[0]
            response.status.error_message = e.message
            context.set_code(e.code)
            context.set_details(e.message)
        return response


def start_grpc_server(manager, host, port, batcher=None, stats=None):
    """Serves both services on `host:port` (0 picks a free port); returns (server, port).

    Raises:
      RuntimeError: the port cannot be bound.
    """
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=_GRPC_THREADS, thread_name_prefix="grpc"),
        options=[
            ("grpc.max_receive_message_length", _MAX_MESSAGE),
            ("grpc.max_send_message_length", _MAX_MESSAGE),
        ],
    )
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionServicer(manager, batcher, stats), server
    )
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(manager), server)
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError as e:  # grpcio raises "Failed to bind to address ..."
        raise RuntimeError(f"Could not bind gRPC port {host}:{port}: {e}") from e
    server.start()
    return server, bound
