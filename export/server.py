r"""A TF-Serving-compatible gRPC (and REST) server, for machines without `tensorflow_model_server`.

Takes the real server's flags and answers `tensorflow.serving.PredictionService` and
`ModelService` with the same status codes and messages (reference §1; the code is in
`export/serving/`). Any SavedModel in TF Serving layout
(`<model_base_path>/<integer version>/saved_model.pb`) is served; tf-text ops are registered
before loading. Differences from the real server: Regress and MultiInference answer
UNIMPLEMENTED, failed loads are not retried, request dtypes/shapes are checked against the
SignatureDef before running (the real server lets a scalar string crash tf-text kernels), and
versions that fail the `tf_serving` op audit are refused (`--skip_op_audit` turns that off).

Each model version runs in its own `Session`; TensorFlow builds its thread pools once per
process, from the first session's config (the flags' and the session config file's).

Example:

  python -m export.server --port=8500 --rest_api_port=8501 \
      --model_name=bert --model_base_path=exports/bert
"""

import functools
import logging
import signal
import threading

import tensorflow as tf
from absl import app, flags
from google.protobuf import text_format

from export import op_audit, warmup
from export.serving import core, rest
from export.serving.batching import (
    Batcher,
    BatchingParameters,
    ServingStats,
    parse_batching_parameters,
)
from export.serving.core import ModelManager, ServingError
from export.serving.grpc import start_grpc_server
from tfbert.errors import run_program

_FLAGS = flags.FLAGS


def define_flags(flag_values=flags.FLAGS):
    """Defines the program's flags (called under __main__: the server, the client and the
    exporter share flag names, and tests import them into one process)."""
    fv = {"flag_values": flag_values}
    flags.DEFINE_integer("port", 8500, "Port to listen on for gRPC.", lower_bound=0, **fv)
    flags.DEFINE_integer("rest_api_port", 0, "Port to listen on for the HTTP/REST API; 0 "
                         "disables it.", lower_bound=0, **fv)
    flags.DEFINE_string("host", "127.0.0.1", "Address to bind. The default serves loopback "
                        "only; pass 0.0.0.0 to serve other machines.", **fv)
    flags.DEFINE_string("model_name", "default", "Name of the model (ignored with "
                        "--model_config_file).", **fv)
    flags.DEFINE_string("model_base_path", None, "Directory holding the model's numeric version "
                        "directories (ignored with --model_config_file).", **fv)
    flags.DEFINE_string("model_config_file", None, "A text-format ModelServerConfig listing one "
                        "or more models; overrides --model_name and --model_base_path.", **fv)
    flags.DEFINE_float("file_system_poll_wait_seconds", 1.0, "Seconds between polls of the "
                       "model directories for new versions; 0 polls once at startup, negative "
                       "never.", **fv)
    flags.DEFINE_boolean("enable_batching", False, "Merge concurrent requests to the same model "
                         "version and signature into one batch.", **fv)
    flags.DEFINE_string("batching_parameters_file", None, "A text-format BatchingParameters file "
                        "(max_batch_size, batch_timeout_micros, ...); needs --enable_batching.",
                        **fv)
    flags.DEFINE_string("saved_model_tags", "serve", "Comma-separated MetaGraph tags to load.",
                        **fv)
    flags.DEFINE_boolean("skip_op_audit", False, "Load SavedModels even when they use ops that "
                         "the official tensorflow_model_server binary does not have.", **fv)
    flags.DEFINE_integer("tensorflow_intra_op_parallelism", 0, "Threads one op may use (as the "
                         "real server's flag); 0 lets TensorFlow choose.", lower_bound=0, **fv)
    flags.DEFINE_integer("tensorflow_inter_op_parallelism", 0, "Ops run in parallel (as the "
                         "real server's flag); 0 lets TensorFlow choose.", lower_bound=0, **fv)
    flags.DEFINE_boolean("enable_model_warmup", True, "Replay each version's "
                         "assets.extra/tf_serving_warmup_requests before it serves; a failing "
                         "record fails that version's load.", **fv)
    flags.DEFINE_integer("num_request_iterations_for_warmup", 1, "Times each warm-up record is "
                         "replayed; values < 1 mean 1.", **fv)
    flags.DEFINE_string("tensorflow_session_config_file", None, "A text-format tf ConfigProto "
                        "for every model's Session (as the real server's flag); non-zero "
                        "--tensorflow_*_op_parallelism flags override its thread counts. Without "
                        "it, sessions run with `experimental { disable_thread_spinning: true }`: "
                        "TensorFlow's idle threads then sleep instead of taking the cores gRPC "
                        "needs. A file stating nothing spins, as TF does.", **fv)
    flags.DEFINE_float("stats_interval_seconds", 60.0, "Seconds between request statistics log "
                       "lines (requests, QPS, p50/p99 latency); 0 logs only at shutdown.", **fv)


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
            raise app.UsageError(f"--tensorflow_session_config_file={config_file}: {e}") from e
    if intra_op_parallelism:
        config.intra_op_parallelism_threads = intra_op_parallelism
    if inter_op_parallelism:
        config.inter_op_parallelism_threads = inter_op_parallelism
    return config


class ModelServer:
    """Loads the models, then serves gRPC (and REST) until `stop()`.

    Args:
      config: ModelServerConfig (`core.single_model_config` or a parsed config file).
      port: gRPC port; 0 picks a free one (see `.port`).
      rest_api_port: REST port; 0 disables REST.
      host: address to bind.
      poll_wait_seconds: `--file_system_poll_wait_seconds`.
      batching: BatchingParameters, or None for no batching.
      audit_ops: refuse versions failing the tf_serving op audit (`export.op_audit`).
      tags: MetaGraph tags.
      stats_interval_seconds: period of the statistics log line; 0 = only at stop.
      session_config: tf.compat.v1.ConfigProto of the models' Sessions (threading); default
        `read_session_config()`, as the program without session flags.
      warmup_iterations: replays of each warm-up record at load (`export.warmup`); 0 skips
        warm-up.
    """

    def __init__(self, config, *, port=8500, rest_api_port=0, host="127.0.0.1",
                 poll_wait_seconds=1.0, batching=None, audit_ops=True, tags=("serve",),
                 stats_interval_seconds=60.0, session_config=None, warmup_iterations=1):
        self.stats = ServingStats()
        self.manager = ModelManager(
            config,
            poll_wait_seconds,
            audit_fn=functools.partial(op_audit.audit, target="tf_serving") if audit_ops else None,
            tags=tags,
            session_config=read_session_config() if session_config is None else session_config,
            warmup_fn=(functools.partial(warmup.run_warmup, iterations=warmup_iterations)
                       if warmup_iterations > 0 else None),
        )
        self._batching = batching
        self._host, self._port, self._rest_port = host, port, rest_api_port
        self._stats_interval = stats_interval_seconds
        self._stopped = threading.Event()
        self.batcher = self._grpc = self._rest = self.port = self.rest_port = None

    def start(self):
        """Loads every model (blocking, fail-fast like the real server), then opens the ports."""
        self.manager.start()
        if self._batching is not None:
            self.batcher = Batcher(self._batching, self.stats)
        try:
            self._grpc, self.port = start_grpc_server(
                self.manager, self._host, self._port, self.batcher, self.stats
            )
        except RuntimeError:
            if self.batcher is not None:
                self.batcher.close()
            raise
        logging.info("Running gRPC ModelServer at %s:%d ...", self._host, self.port)
        if self._rest_port:
            self._rest = rest.start_rest_server(
                self.manager, self._host, self._rest_port, self.batcher, self.stats
            )
            self.rest_port = self._rest.server_address[1]
            logging.info("Exporting HTTP/REST API at:%s:%d ...", self._host, self.rest_port)
        if self._stats_interval > 0:
            threading.Thread(target=self._stats_loop, daemon=True, name="stats").start()
        return self

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
        if self.batcher is not None:
            self.batcher.close()  # runs what it holds
        self.manager.stop()
        logging.info("Serving stats at shutdown: %s", self.stats.log_line())


def serve(config, **options):
    """Runs a ModelServer (`options` are its keyword arguments) until SIGTERM/SIGINT."""
    server = ModelServer(config, **options)
    try:
        server.start()
    except ServingError as e:
        raise SystemExit(f"Failed to start server. Error: {e.message}") from None
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
        config = core.parse_model_config_file(_FLAGS.model_config_file)
    elif _FLAGS.model_base_path:
        config = core.single_model_config(_FLAGS.model_name, _FLAGS.model_base_path)
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
    session_config = read_session_config(
        _FLAGS.tensorflow_session_config_file,
        _FLAGS.tensorflow_intra_op_parallelism,
        _FLAGS.tensorflow_inter_op_parallelism,
    )
    batching = None
    if _FLAGS.enable_batching:
        batching = (parse_batching_parameters(_FLAGS.batching_parameters_file)
                    if _FLAGS.batching_parameters_file else BatchingParameters())
    serve(
        config,
        port=_FLAGS.port,
        rest_api_port=_FLAGS.rest_api_port,
        host=_FLAGS.host,
        poll_wait_seconds=_FLAGS.file_system_poll_wait_seconds,
        batching=batching,
        audit_ops=not _FLAGS.skip_op_audit,
        tags=tuple(_FLAGS.saved_model_tags.split(",")),
        stats_interval_seconds=_FLAGS.stats_interval_seconds,
        session_config=session_config,
        warmup_iterations=(max(_FLAGS.num_request_iterations_for_warmup, 1)
                           if _FLAGS.enable_model_warmup else 0),
    )


if __name__ == "__main__":
    define_flags()
    run_program(main)
