"""Server-side batching (`--enable_batching`) and request statistics.

Concurrent Predict calls to the same model version and signature are merged along dimension
0 into one call and the outputs are split back, as TF Serving's BatchingSession does
(reference §1.12). A batch closes when it reaches `max_batch_size` or when
`batch_timeout_micros` have passed since its first request. Requests whose non-batch
dimensions differ are queued separately (TF Serving would need padding for them).
"""

import collections
import concurrent.futures
import dataclasses
import logging
import re
import threading
import time

import grpc
import numpy as np
import tensorflow as tf

from export.serving_core import ServingError


@dataclasses.dataclass
class BatchingParameters:
    """The fields of TF Serving's `BatchingParameters` this server honours (same defaults)."""

    max_batch_size: int = 1000
    batch_timeout_micros: int = 0
    max_enqueued_batches: int = 10
    num_batch_threads: int = 2


def parse_batching_parameters(path):
    """Reads a text-format BatchingParameters file (`max_batch_size { value: 32 }` ...)."""
    params = BatchingParameters()
    names = {f.name for f in dataclasses.fields(BatchingParameters)}
    with open(path) as f:
        text = re.sub(r"#.*", "", f.read())
    for name, value in re.findall(r"(\w+)\s*\{\s*value\s*:\s*([^}\s]+)\s*\}", text):
        if name in names:
            setattr(params, name, int(value))
        else:
            logging.warning("%s: batching parameter %s is not supported; ignored", path, name)
    if params.max_batch_size < 1:
        raise ValueError(f"{path}: `max_batch_size` ({params.max_batch_size}) must be >= 1")
    return params


class ServingStats:
    """Counts requests and latencies; `summary()` gives requests, QPS and p50/p99 latency."""

    def __init__(self):
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._latencies = []
        self._errors = 0
        self.batches = 0
        self.batched_items = 0

    def record(self, seconds, ok=True):
        with self._lock:
            self._latencies.append(seconds)
            self._errors += 0 if ok else 1

    def record_batch(self, size):
        with self._lock:
            self.batches += 1
            self.batched_items += size

    def summary(self):
        with self._lock:
            latencies = np.asarray(self._latencies or [0.0]) * 1000.0
            count, elapsed = len(self._latencies), max(time.monotonic() - self._start, 1e-9)
            return {
                "requests": count,
                "errors": self._errors,
                "qps": count / elapsed,
                "p50_ms": float(np.percentile(latencies, 50)),
                "p99_ms": float(np.percentile(latencies, 99)),
                "batches": self.batches,
                "mean_batch_size": self.batched_items / self.batches if self.batches else 0.0,
            }

    def log_line(self):
        s = self.summary()
        return (
            f"requests={s['requests']} errors={s['errors']} qps={s['qps']:.1f} "
            f"p50={s['p50_ms']:.1f}ms p99={s['p99_ms']:.1f}ms batches={s['batches']} "
            f"mean_batch_size={s['mean_batch_size']:.2f}"
        )


class _Task:
    def __init__(self, feeds, size):
        self.feeds = feeds
        self.size = size
        self.future = concurrent.futures.Future()


class Batcher:
    """Merges concurrent runs of one servable signature.

    Use `batcher.run` as the `runner` of `serving_requests.predict`.
    """

    def __init__(self, params=None, stats=None):
        self.params = params or BatchingParameters()
        self.stats = stats
        self._lock = threading.Condition()
        self._queues = collections.OrderedDict()  # key -> (servable, signature, [tasks], t_first)
        self._closed = False
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(self.params.num_batch_threads, 1), thread_name_prefix="batch"
        )
        self._thread = threading.Thread(
            target=self._schedule_loop, name="batch-scheduler", daemon=True
        )
        self._thread.start()

    def run(self, servable, signature_name, feeds, timeout=None):
        """Enqueues one request's feeds and blocks until its slice of the batch result is back."""
        sizes = set()
        for tensor in feeds.values():
            if tensor.shape.rank == 0:
                raise ServingError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    "Batching Run() input tensors must have at least one dimension",
                )
            sizes.add(int(tensor.shape[0]))
        if len(sizes) > 1:
            raise ServingError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "Batching Run() input tensors must have equal 0th-dimension size",
            )
        size = sizes.pop() if sizes else 0
        if size > self.params.max_batch_size:
            raise ServingError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Task size {size} is larger than maximum input batch size "
                f"{self.params.max_batch_size}",
            )
        key = (
            id(servable),
            signature_name,
            tuple((alias, t.dtype.name, tuple(t.shape[1:])) for alias, t in sorted(feeds.items())),
        )
        task = _Task(feeds, size)
        with self._lock:
            if self._closed:
                raise ServingError(grpc.StatusCode.UNAVAILABLE, "Server is shutting down")
            entry = self._queues.get(key)
            if entry is None:
                entry = self._queues[key] = [servable, signature_name, [], time.monotonic()]
            queued = sum(t.size for t in entry[2])
            limit = self.params.max_batch_size * self.params.max_enqueued_batches
            if queued + size > limit:
                raise ServingError(
                    grpc.StatusCode.UNAVAILABLE,
                    "The batch scheduling queue to which this task was submitted is full",
                )
            entry[2].append(task)
            self._lock.notify_all()
        try:
            return task.future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            raise ServingError(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")

    def close(self):
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=True)

    def _schedule_loop(self):
        timeout = self.params.batch_timeout_micros / 1e6
        while True:
            with self._lock:
                ready = []
                wait = None
                now = time.monotonic()
                for key, entry in list(self._queues.items()):
                    total = sum(t.size for t in entry[2])
                    if (
                        total >= self.params.max_batch_size
                        or now - entry[3] >= timeout
                        or self._closed
                    ):
                        ready.append((key, entry))
                    else:
                        remaining = entry[3] + timeout - now
                        wait = remaining if wait is None else min(wait, remaining)
                for key, entry in ready:
                    batch, rest, total = [], [], 0
                    for task in entry[2]:
                        if not rest and total + task.size <= self.params.max_batch_size:
                            batch.append(task)
                            total += task.size
                        else:
                            rest.append(task)
                    if rest:
                        entry[2], entry[3] = rest, time.monotonic()
                    else:
                        del self._queues[key]
                    self._pool.submit(self._run_batch, entry[0], entry[1], batch)
                if self._closed and not self._queues:
                    return
                if not ready:
                    self._lock.wait(timeout=wait)

    def _run_batch(self, servable, signature_name, tasks):
        try:
            if len(tasks) == 1:
                outputs = servable.run(signature_name, tasks[0].feeds)
            else:
                merged = {
                    alias: tf.concat([t.feeds[alias] for t in tasks], axis=0)
                    for alias in tasks[0].feeds
                }
                outputs = servable.run(signature_name, merged)
            total = sum(t.size for t in tasks)
            if self.stats is not None:
                self.stats.record_batch(len(tasks))
            offset = 0
            for task in tasks:
                piece = {}
                for alias, value in outputs.items():
                    if value.ndim == 0 or value.shape[0] != total:
                        raise ServingError(
                            grpc.StatusCode.FAILED_PRECONDITION,
                            "Batched output tensor's 0th dimension does not equal the sum of "
                            "the 0th dimension sizes of the input tensors",
                        )
                    piece[alias] = value[offset : offset + task.size]
                offset += task.size
                task.future.set_result(piece)
        except Exception as e:  # Every waiting request gets the error; the scheduler lives on.
            for task in tasks:
                if not task.future.done():
                    task.future.set_exception(e)
