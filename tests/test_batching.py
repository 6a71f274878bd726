"""The batcher's scheduling, as TF Serving's SharedBatchScheduler: sizes, growth, limits."""

import threading
import time

import grpc
import numpy as np
import pytest
import tensorflow as tf

from export.serving.batching import Batcher, BatchingParameters, ServingStats
from export.serving.core import ServingError


class SlowServable:
    """Doubles its input; each run takes `seconds` and is recorded."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.runs = []
        self.lock = threading.Lock()

    def run(self, signature_name, feeds):
        time.sleep(self.seconds)
        x = feeds["x"]
        with self.lock:
            self.runs.append(len(x))
        return {"y": 2 * x}


def feeds(*values):
    return {"x": np.array(values, np.float32)}


def _submit_all(batcher, servable, requests, gap=0.0):
    """Submits `requests` in order, `gap` seconds apart; their outputs or errors."""
    pending = []
    for request in requests:
        pending.append(batcher.submit(servable, "sig", request))
        time.sleep(gap)
    return [f.exception() or f.result() for f in pending]


def test_open_batch_grows_while_the_batch_thread_is_busy():
    stats = ServingStats()
    params = BatchingParameters(max_batch_size=8, batch_timeout_micros=0, num_batch_threads=1)
    batcher = Batcher(params, stats)
    servable = SlowServable(0.2)
    # The first request runs alone at once (no window); the next six arrive while it runs and
    # leave together when the thread is free, although each timed out long ago.
    results = _submit_all(batcher, servable, [feeds(float(i)) for i in range(7)], gap=0.01)
    batcher.close()
    assert servable.runs == [1, 6]
    assert [r["y"].tolist() for r in results] == [[2.0 * i] for i in range(7)]
    summary = stats.summary()
    assert summary["batches"] == 2 and summary["mean_batch_size"] == 3.5


def test_batches_split_at_max_batch_size_and_multi_row_requests_stay_whole():
    batcher = Batcher(BatchingParameters(max_batch_size=4, batch_timeout_micros=50_000,
                                         num_batch_threads=1))
    servable = SlowServable(0.01)
    requests = [feeds(1.0, 2.0), feeds(3.0), feeds(4.0, 5.0), feeds(6.0)]
    results = _submit_all(batcher, servable, requests)
    batcher.close()
    assert servable.runs == [3, 3]  # [1,2]+[3] fill 3 of 4; [4,5] opens the next batch
    assert [r["y"].tolist() for r in results] == [[2.0, 4.0], [6.0], [8.0, 10.0], [12.0]]


def test_full_queue_is_unavailable_and_oversized_task_invalid():
    params = BatchingParameters(max_batch_size=2, batch_timeout_micros=1_000_000,
                                max_enqueued_batches=2, num_batch_threads=1)
    batcher = Batcher(params)
    servable = SlowServable(0.2)
    # Two full batches wait (the window is long, and full batches close at once but the first
    # still needs its thread); a fifth row would need a third batch.
    pending = [batcher.submit(servable, "sig", f) for f in
               (feeds(1.0, 2.0), feeds(3.0, 4.0), feeds(5.0, 6.0), feeds(7.0, 8.0), feeds(9.0))]
    with pytest.raises(ServingError) as oversized:
        batcher.run(servable, "sig", feeds(1.0, 2.0, 3.0))
    results = [f.exception() or f.result() for f in pending]
    batcher.close()
    errors = [r for r in results if isinstance(r, ServingError)]
    assert len(errors) == 2  # [7, 8] and [9]
    assert all(e.code == grpc.StatusCode.UNAVAILABLE for e in errors)
    assert errors[0].message == (
        "The batch scheduling queue to which this task was submitted is full")
    assert oversized.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert oversized.value.message == "Task size 3 is larger than maximum input batch size 2"


def test_a_failing_batch_fails_its_requests_and_the_batcher_lives_on():
    class Failing(SlowServable):
        def run(self, signature_name, feeds):
            if feeds["x"].shape[0] > 1:
                raise tf.errors.InvalidArgumentError(None, None, "bad batch")
            return super().run(signature_name, feeds)

    batcher = Batcher(BatchingParameters(max_batch_size=8, batch_timeout_micros=50_000))
    servable = Failing(0.0)
    merged = _submit_all(batcher, servable, [feeds(1.0), feeds(2.0)])
    alone = batcher.run(servable, "sig", feeds(3.0))
    batcher.close()
    assert all(isinstance(r, tf.errors.InvalidArgumentError) for r in merged)
    np.testing.assert_array_equal(alone["y"], [6.0])
