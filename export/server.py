r"""A TF-Serving-compatible gRPC (and REST) server, for machines without `tensorflow_model_server`.

Takes the real server's flags and answers `tensorflow.serving.PredictionService` and
`ModelService` with the same status codes and messages (see
`/work/shared/reference/serving-tflite-distribute.md` §1). Any SavedModel in TF Serving layout
(`<model_base_path>/<integer version>/saved_model.pb`) is served; tf-text ops are registered
before loading. Differences from the real server: Regress and MultiInference answer
UNIMPLEMENTED, failed loads are not retried, request dtypes/shapes are checked against the
SignatureDef before running (the real server lets a scalar string crash tf-text kernels), and
versions that fail the `tf_serving` op audit are refused (`--skip_op_audit` turns that off).

Like the real server, gRPC is synchronous: each request is parsed, validated, run and answered
on one of the gRPC server's threads, each model version runs in its own `Session` (TensorFlow
builds its thread pools once per process, from the first session's config: the flags' and the
session config file's), and with `--enable_batching` a request's thread waits for its batch (the
batcher schedules on an asyncio loop of its own). One thread per request measured 0.4 ms less
per call than `grpc.aio` with signatures on worker threads, at the same batched throughput.

Example:

  python -m export.server --port=8500 --rest_api_port=8501 \
      --model_name=bert --model_base_path=/srv/models/bert
"""

import asyncio
import functools
import logging
import os
import signal
import threading
import time
from concurrent import futures

import grpc
import tensorflow as tf
from absl import app, flags
from google.protobuf import text_format
from tensorflow_serving.apis import (
    model_management_pb2,
    model_service_pb2_grpc,
    prediction_service_pb2_grpc,
)

from export import serving_core, serving_requests, warmup
from export.batching import Batcher, BatchingParameters, ServingStats, parse_batching_parameters
from export.serving_core import ModelManager, ServingError

_FLAGS = flags.FLAGS


def define_flags(flag_values=flags.FLAGS):
    """Defines the program's flags (called under __main__ so that the server and client
    modules can be imported into one process)."""
    flags.DEFINE_integer(
        "port", 8500, "Port to listen on for gRPC.", lower_bound=0, flag_values=flag_values
    )
    flags.DEFINE_integer(
        "rest_api_port",
        0,
        "Port to listen on for the HTTP/REST API; 0 disables it.",
        lower_bound=0,
        flag_values=flag_values,
    )
    flags.DEFINE_string(
        "host",
        "127.0.0.1",
        "Address to bind. The default serves loopback only; pass 0.0.0.0 to serve other machines.",
        flag_values=flag_values,
    )
    flags.DEFINE_string(
        "model_name",
        "default",
        "Name of the model (ignored with --model_config_file).",
        flag_values=flag_values,
    )
    flags.DEFINE_string(
        "model_base_path",
        None,
        "Directory holding the model's numeric version "
        "directories (ignored with --model_config_file).",
        flag_values=flag_values,
    )
    flags.DEFINE_string(
        "model_config_file",
        None,
        "A text-format ModelServerConfig listing one or "
        "more models; overrides --model_name and --model_base_path.",
        flag_values=flag_values,
    )
    flags.DEFINE_float(
        "file_system_poll_wait_seconds",
        1.0,
        "Seconds between polls of the model "
        "directories for new versions; 0 polls once at startup, negative never.",
        flag_values=flag_values,
    )
    flags.DEFINE_boolean(
        "enable_batching",
        False,
        "Merge concurrent requests to the same model version and signature into one batch.",
        flag_values=flag_values,
    )
    flags.DEFINE_string(
        "batching_parameters_file",
        None,
        "A text-format BatchingParameters file "
        "(max_batch_size, batch_timeout_micros, ...); needs --enable_batching.",
        flag_values=flag_values,
    )
    flags.DEFINE_string(
        "saved_model_tags",
        "serve",
        "Comma-separated MetaGraph tags to load.",
        flag_values=flag_values,
    )
    flags.DEFINE_boolean(
        "skip_op_audit",
        False,
        "Load SavedModels even when they use ops that "
        "the official tensorflow_model_server binary does not have.",
        flag_values=flag_values,
    )
    flags.DEFINE_integer(
        "tensorflow_intra_op_parallelism",
        0,
        "Threads one op may use (as the real server's flag); 0 lets TensorFlow choose.",
        lower_bound=0,
        flag_values=flag_values,
    )
    flags.DEFINE_integer(
        "tensorflow_inter_op_parallelism",
        0,
        "Ops run in parallel (as the real server's flag); 0 lets TensorFlow choose.",
        lower_bound=0,
        flag_values=flag_values,
    )
    flags.DEFINE_boolean(
        "enable_model_warmup",
        True,
        "Replay each version's assets.extra/tf_serving_warmup_requests before it serves; a "
        "failing record fails that version's load.",
        flag_values=flag_values,
    )
    flags.DEFINE_integer(
        "num_request_iterations_for_warmup",
        1,
        "Times each warm-up record is replayed; values < 1 mean 1.",
        flag_values=flag_values,
    )
    flags.DEFINE_string(
        "tensorflow_session_config_file",
        None,
        "A text-format tf ConfigProto for every model's Session (as the real server's flag); "
        "non-zero --tensorflow_*_op_parallelism flags override its thread counts. Without "
        "it, sessions run with `experimental { disable_thread_spinning: true }`: TensorFlow's "
        "idle threads then sleep instead of taking the cores gRPC needs (on 2 cores: 0.6 ms "
        "less per call, twice the unbatched QPS). A file stating nothing spins, as TF does.",
        flag_values=flag_values,
    )
    flags.DEFINE_float(
        "stats_interval_seconds",
        60.0,
        "Seconds between request statistics log "
        "lines (requests, QPS, p50/p99 latency); 0 logs only at shutdown.",
        flag_values=flag_values,
    )


_MAX_MESSAGE = 2**31 - 1
# Threads answering gRPC requests. With batching each waiting request holds one, so this
# bounds the requests a batch can gather; beyond it requests queue inside gRPC.
_GRPC_THREADS = max(64, 8 * (os.cpu_count() or 1))


async def _new_batcher(params, stats):
    return Batcher(params, stats)  # binds the running loop


def read_session_config(config_file=None, intra_op_parallelism=0, inter_op_parallelism=0):
    """The models' Session ConfigProto: `config_file` (text format) if given, else one whose
    idle threads do not spin; thread counts replaced by the non-zero parallelism flags.
    Raises app.UsageError naming the file."""
    config = tf.compat.v1.ConfigProto()
    if not config_file:
        config.experimental.disable_thread_spinning = True
    else:
        try:
            with open(config_file) as f:
                text_format.Parse(f.read(), config)
        except (OSError, text_format.ParseError) as e:
            raise app.UsageError(f"--tensorflow_session_config_file={config_file}: {e}")
    if intra_op_parallelism:
        config.intra_op_parallelism_threads = intra_op_parallelism
    if inter_op_parallelism:
        config.inter_op_parallelism_threads = inter_op_parallelism
    return config


def tf_serving_audit(saved_model_dir):
    """Missing ops for the official server: `export.saved_model.audit` if present, else ours."""
    try:
        from export import saved_model as _sm
    except ImportError:
        _sm = None
    if _sm is not None and hasattr(_sm, "audit"):
        return list(_sm.audit(saved_model_dir, target="tf_serving"))
    from export import op_audit

    return op_audit.audit(saved_model_dir, target="tf_serving")


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
        return lambda servable, signature_name, feeds: self._batcher.run_blocking(
            servable, signature_name, feeds, remaining
        )

    def Predict(self, request, context):
        return _handle(
            context,
            self._stats,
            lambda: serving_requests.predict(self._manager, request, self._runner(context)),
        )

    def Classify(self, request, context):
        return _handle(
            context,
            self._stats,
            lambda: serving_requests.classify(self._manager, request, self._runner(context)),
        )

    def GetModelMetadata(self, request, context):
        return _handle(
            context, None, lambda: serving_requests.get_model_metadata(self._manager, request)
        )

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


class ModelServer:
    """Loads the models, then serves gRPC (and REST) until `stop()`.

    Args:
      config: ModelServerConfig (`serving_core.single_model_config` or a parsed config file).
      port: gRPC port; 0 picks a free one (see `.port`).
      rest_api_port: REST port; 0 disables REST.
      host: address to bind.
      poll_wait_seconds: `--file_system_poll_wait_seconds`.
      batching: BatchingParameters, or None for no batching.
      op_audit: refuse versions failing the tf_serving op audit.
      tags: MetaGraph tags.
      stats_interval_seconds: period of the statistics log line; 0 = only at stop.
      session_config: tf.compat.v1.ConfigProto of the models' Sessions (threading); default
        `read_session_config()`, as the program without session flags.
      warmup_iterations: replays of each warm-up record at load (`export.warmup`); 0 skips
        warm-up.
    """

    def __init__(
        self,
        config,
        port=8500,
        rest_api_port=0,
        host="127.0.0.1",
        poll_wait_seconds=1.0,
        batching=None,
        op_audit=True,
        tags=("serve",),
        stats_interval_seconds=60.0,
        session_config=None,
        warmup_iterations=1,
    ):
        self.stats = ServingStats()
        self.manager = ModelManager(
            config,
            poll_wait_seconds,
            audit_fn=tf_serving_audit if op_audit else None,
            tags=tags,
            session_config=read_session_config() if session_config is None else session_config,
            warmup_fn=(
                functools.partial(warmup.run_warmup, iterations=warmup_iterations)
                if warmup_iterations > 0
                else None
            ),
        )
        self._batching = batching
        self._host, self._port, self._rest_port = host, port, rest_api_port
        self._stats_interval = stats_interval_seconds
        self._stopped = threading.Event()
        self.batcher = None
        self._loop = None
        self._grpc = None
        self._rest = None
        self.port = None
        self.rest_port = None

    def start(self):
        """Loads every model (blocking, fail-fast like the real server), then opens the ports."""
        self.manager.start()
        if self._batching is not None:
            self._loop = asyncio.new_event_loop()
            self._loop_thread = threading.Thread(
                target=self._loop.run_forever, name="batching", daemon=True
            )
            self._loop_thread.start()
            self.batcher = asyncio.run_coroutine_threadsafe(
                _new_batcher(self._batching, self.stats), self._loop
            ).result()
        options = [
            ("grpc.max_receive_message_length", _MAX_MESSAGE),
            ("grpc.max_send_message_length", _MAX_MESSAGE),
        ]
        self._grpc = grpc.server(
            futures.ThreadPoolExecutor(max_workers=_GRPC_THREADS, thread_name_prefix="grpc"),
            options=options,
        )
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            PredictionServicer(self.manager, self.batcher, self.stats), self._grpc
        )
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(
            ModelServicer(self.manager), self._grpc
        )
        try:
            self.port = self._grpc.add_insecure_port(f"{self._host}:{self._port}")
        except RuntimeError as e:  # grpcio raises "Failed to bind to address ..."
            self._stop_batching()
            raise RuntimeError(f"Could not bind gRPC port {self._host}:{self._port}: {e}")
        self._grpc.start()
        logging.info("Running gRPC ModelServer at %s:%d ...", self._host, self.port)
        if self._rest_port:
            from export import rest

            self._rest = rest.start_rest_server(
                self.manager, self._host, self._rest_port, self.batcher, self.stats
            )
            self.rest_port = self._rest.server_address[1]
            logging.info("Exporting HTTP/REST API at:%s:%d ...", self._host, self.rest_port)
        if self._stats_interval > 0:
            threading.Thread(target=self._stats_loop, daemon=True, name="stats").start()
        return self

    def _stop_batching(self):
        """Runs what the batcher holds, then stops its loop."""
        if self._loop is None:
            return
        if self.batcher is not None:
            asyncio.run_coroutine_threadsafe(self.batcher.close(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._loop_thread.join(timeout=10)
        self._loop = None

    def _stats_loop(self):
        while not self._stopped.wait(self._stats_interval):
            logging.info("Serving stats: %s", self.stats.log_line())

    def stop(self, grace=2.0):
        """Stops accepting requests, finishes in-flight ones, logs the statistics line."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self._rest is not None:
            self._rest.shutdown()
            self._rest.server_close()
        if self._grpc is not None:
            self._grpc.stop(grace).wait()
        self._stop_batching()
        self.manager.stop()
        logging.info("Serving stats at shutdown: %s", self.stats.log_line())


def serve(
    config,
    port,
    rest_api_port,
    host,
    poll_wait_seconds,
    batching,
    op_audit,
    tags,
    stats_interval_seconds,
    session_config=None,
    warmup_iterations=1,
):
    """Runs a ModelServer until SIGTERM/SIGINT."""
    server = ModelServer(
        config,
        port,
        rest_api_port,
        host,
        poll_wait_seconds,
        batching,
        op_audit,
        tags,
        stats_interval_seconds,
        session_config,
        warmup_iterations,
    )
    try:
        server.start()
    except ServingError as e:
        raise SystemExit(f"Failed to start server. Error: {e.message}")
    stop_requested = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop_requested.set())
    while not stop_requested.wait(0.5):  # short waits so the signal handler gets to run
        pass
    logging.info("Shutting down: finishing in-flight requests")
    server.stop()


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    if _FLAGS.model_config_file:
        config = serving_core.parse_model_config_file(_FLAGS.model_config_file)
    elif _FLAGS.model_base_path:
        config = serving_core.single_model_config(_FLAGS.model_name, _FLAGS.model_base_path)
    else:
        raise app.UsageError(
            "Pass --model_base_path=DIR (with --model_name) or --model_config_file=FILE."
        )
    if _FLAGS.batching_parameters_file and not _FLAGS.enable_batching:
        raise app.UsageError(
            f"--batching_parameters_file={_FLAGS.batching_parameters_file} needs --enable_batching."
        )
    if _FLAGS.rest_api_port and _FLAGS.rest_api_port == _FLAGS.port:
        raise app.UsageError(
            f"--rest_api_port={_FLAGS.rest_api_port} must differ from --port={_FLAGS.port}."
        )
    sessions = read_session_config(
        _FLAGS.tensorflow_session_config_file,
        _FLAGS.tensorflow_intra_op_parallelism,
        _FLAGS.tensorflow_inter_op_parallelism,
    )
    batching = None
    if _FLAGS.enable_batching:
        batching = (
            parse_batching_parameters(_FLAGS.batching_parameters_file)
            if _FLAGS.batching_parameters_file
            else BatchingParameters()
        )
    serve(
        config,
        _FLAGS.port,
        _FLAGS.rest_api_port,
        _FLAGS.host,
        _FLAGS.file_system_poll_wait_seconds,
        batching,
        not _FLAGS.skip_op_audit,
        tuple(_FLAGS.saved_model_tags.split(",")),
        _FLAGS.stats_interval_seconds,
        sessions,
        max(_FLAGS.num_request_iterations_for_warmup, 1) if _FLAGS.enable_model_warmup else 0,
    )


if __name__ == "__main__":
    define_flags()
    app.run(main)
