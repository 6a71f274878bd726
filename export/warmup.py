"""The warm-up file of a version, and its replay at load time, as `tensorflow_model_server
--enable_model_warmup` does it.

A version may carry `WARMUP_FILE`: a TFRecord file of `PredictionLog`s (`export.saved_model`
writes one). Before the version becomes AVAILABLE each record's request is replayed against
it, whatever model name and version the request names; any error fails that version's load
(reference §1.13). The first real request then finds the session's callables built and its
graph optimized.
"""

import logging
import os
import time

import grpc
import tensorflow as tf
from google.protobuf.message import DecodeError
from tensorflow_serving.apis import prediction_log_pb2

from export.serving import requests
from export.serving.core import ServingError

# The warm-up file of a version, relative to its directory (TF Serving's fixed name).
WARMUP_FILE = "assets.extra/tf_serving_warmup_requests"
MAX_RECORDS = 1000


class _ThisVersion:
    """Resolves every model spec to the version being warmed up."""

    def __init__(self, servable):
        self._servable = servable

    def resolve(self, model_spec):
        return self._servable


def read_warmup_logs(version_dir):
    """The PredictionLogs of a version's warm-up file; [] without one."""
    path = os.path.join(version_dir, WARMUP_FILE)
    if not tf.io.gfile.exists(path):
        return []
    logs = []
    try:
        for record in tf.data.TFRecordDataset(path):
            if len(logs) == MAX_RECORDS:
                raise ServingError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"Number of warmup records exceeds the maximum ({MAX_RECORDS}) at {path}",
                )
            logs.append(prediction_log_pb2.PredictionLog.FromString(record.numpy()))
    except (tf.errors.OpError, DecodeError) as e:
        raise ServingError(
            grpc.StatusCode.DATA_LOSS,
            f"Error reading warmup data {path}: {getattr(e, 'message', e)}. Please verify your "
            "warmup data is in TFRecord format.",
        ) from e
    return logs


def run_warmup(servable, iterations=1):
    """Replays `servable`'s warm-up records `iterations` times each; returns how many records.

    Raises ServingError (which fails the load) for any request that fails, and UNIMPLEMENTED
    for record types this server does not answer.
    """
    start = time.monotonic()
    logs = read_warmup_logs(servable.path)
    version = _ThisVersion(servable)
    for log in logs:
        kind = log.WhichOneof("log_type")
        if kind not in ("predict_log", "classify_log"):
            raise ServingError(
                grpc.StatusCode.UNIMPLEMENTED,
                f"Unsupported log_type for warmup: {kind} (export.server answers Predict and "
                "Classify)",
            )
        for _ in range(iterations):
            if kind == "predict_log":
                requests.predict(version, log.predict_log.request)
            else:
                requests.classify(version, log.classify_log.request)
    if logs:
        logging.info(
            "Finished reading warmup data for model at %s. Number of warmup records read: %d. "
            "Elapsed time (microseconds): %d.",
            os.path.join(servable.path, WARMUP_FILE),
            len(logs),
            (time.monotonic() - start) * 1e6,
        )
    return len(logs)
