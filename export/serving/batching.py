"""Server-side batching (`--enable_batching`) and request statistics.

Concurrent Predict calls to the same model version and signature are merged along dimension
0 into one call and the outputs are split back, as TF Serving's BatchingSession does
(reference §1.12), scheduled as its `SharedBatchScheduler` does (see `Batcher`). The scheduler
runs on an asyncio loop of its own (timers without a thread per batch); request threads wait
on it with `Batcher.run`.
Requests whose non-batch dimensions differ are queued separately (TF Serving would need
padding for them).
"""

import asyncio
import collections
import concurrent.futures
import dataclasses
import logging
import re
import threading
import time

import grpc
import numpy as np

from export.serving.core import ServingError


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
        self.batch_seconds = 0.0

    def record(self, seconds, ok=True):
        with self._lock:
            self._latencies.append(seconds)
            self._errors += 0 if ok else 1

    def record_batch(self, size, seconds):
        with self._lock:
            self.batches += 1
            self.batched_items += size
            self.batch_seconds += seconds

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
                "mean_batch_ms": (1000.0 * self.batch_seconds / self.batches
                                  if self.batches else 0.0),
            }

    def log_line(self):
        s = self.summary()
        return (
            f"requests={s['requests']} errors={s['errors']} qps={s['qps']:.1f} "
            f"p50={s['p50_ms']:.1f}ms p99={s['p99_ms']:.1f}ms batches={s['batches']} "
            f"mean_batch_size={s['mean_batch_size']:.2f} mean_batch_ms={s['mean_batch_ms']:.1f}"
        )


class _Queue:
    """Requests for one servable signature with one input layout: closed batches waiting for
    a batch thread, then the open batch at the back."""

    def __init__(self, servable, signature_name):
        self.servable = servable
        self.signature_name = signature_name
        self.batches = collections.deque([[]])  # each a list of (feeds, size, future)
        self.open_since = 0.0
        self.timer = None


class Batcher:
    """Merges concurrent runs of one servable signature; `close()` when done.

    Scheduling follows TF Serving's `SharedBatchScheduler`: a request joins the open batch
    of its queue (a new batch is opened when it would overflow `max_batch_size`; more than
    `max_enqueued_batches` is UNAVAILABLE); a free batch thread takes the oldest closed batch,
    or the open batch once it is full or `batch_timeout_micros` old. So while every batch
    thread is busy the open batch keeps growing. Request threads call `run` (or `submit`).
    """

    def __init__(self, params=None, stats=None):
        self.params = params or BatchingParameters()
        self.stats = stats
        self._loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(
            target=self._loop.run_forever, name="batching", daemon=True
        )
        self._loop_thread.start()
        self._queues = collections.OrderedDict()  # key -> _Queue, in round-robin order
        self._free_threads = max(self.params.num_batch_threads, 1)
        self._closed = False
        self._running = set()
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=self._free_threads, thread_name_prefix="batch"
        )

    def _task_size(self, feeds):
        sizes = set()
        for tensor in feeds.values():
            if tensor.ndim == 0:
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
        return size

    def submit(self, servable, signature_name, feeds, timeout=None):
        """Enqueues one request's feeds (in call order); a concurrent.futures.Future of its
        slice of the batch's outputs."""
        return asyncio.run_coroutine_threadsafe(
            self._enqueue(servable, signature_name, feeds, timeout), self._loop
        )

    def run(self, servable, signature_name, feeds, timeout=None):
        """Waits for `submit`'s outputs; DEADLINE_EXCEEDED after `timeout` seconds."""
        return self.submit(servable, signature_name, feeds, timeout).result()

    async def _enqueue(self, servable, signature_name, feeds, timeout):
        size = self._task_size(feeds)
        if self._closed:
            raise ServingError(grpc.StatusCode.UNAVAILABLE, "Server is shutting down")
        key = (
            id(servable),
            signature_name,
            tuple((alias, t.dtype.name, tuple(t.shape[1:])) for alias, t in sorted(feeds.items())),
        )
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = _Queue(servable, signature_name)
        if _rows(queue.batches[-1]) + size > self.params.max_batch_size:
            if len(queue.batches) >= self.params.max_enqueued_batches:
                raise ServingError(
                    grpc.StatusCode.UNAVAILABLE,
                    "The batch scheduling queue to which this task was submitted is full",
                )
            queue.batches.append([])
        if not queue.batches[-1]:
            queue.open_since = time.monotonic()
            if queue.timer is not None:
                queue.timer.cancel()
            queue.timer = self._loop.call_later(
                self.params.batch_timeout_micros / 1e6, self._schedule
            )
        future = self._loop.create_future()
        queue.batches[-1].append((feeds, size, future))
        self._schedule()
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            raise ServingError(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded") from None

    def _take_batch(self, queue):
        """The batch a free thread would take from `queue` now (`SharedBatchScheduler`), or
        None."""
        if len(queue.batches) == 1:
            open_batch = queue.batches[0]
            ready = open_batch and (
                self._closed
                or _rows(open_batch) >= self.params.max_batch_size
                or time.monotonic() >= queue.open_since + self.params.batch_timeout_micros / 1e6
            )
            if not ready:
                return None
            queue.batches.append([])
        return queue.batches.popleft()

    def _next_batch(self):
        """`(queue, batch)` for a free thread, visiting the queues in turn; `(None, None)`."""
        for key in list(self._queues):
            queue = self._queues[key]
            batch = self._take_batch(queue)
            if len(queue.batches) == 1 and not queue.batches[0]:
                del self._queues[key]  # nothing waits: forget it (versions come and go)
            elif batch:
                self._queues.move_to_end(key)
            if batch:
                return queue, batch
        return None, None

    def _schedule(self):
        """Hands ready batches to free batch threads."""
        while self._free_threads > 0:
            queue, batch = self._next_batch()
            if batch is None:
                return
            self._free_threads -= 1
            job = self._loop.create_task(
                self._run_batch(queue.servable, queue.signature_name, batch)
            )
            self._running.add(job)
            job.add_done_callback(self._running.discard)

    async def _run_batch(self, servable, signature_name, tasks):
        try:
            start = time.monotonic()
            outputs = await self._loop.run_in_executor(
                self._pool, _run_merged, servable, signature_name, [t[0] for t in tasks]
            )
            total = _rows(tasks)
            if self.stats is not None:
                self.stats.record_batch(len(tasks), time.monotonic() - start)
            offset = 0
            for _, size, future in tasks:
                piece = {}
                for alias, value in outputs.items():
                    if value.ndim == 0 or value.shape[0] != total:
                        raise ServingError(
                            grpc.StatusCode.FAILED_PRECONDITION,
                            "Batched output tensor's 0th dimension does not equal the sum of "
                            "the 0th dimension sizes of the input tensors",
                        )
                    piece[alias] = value[offset : offset + size]
                offset += size
                if not future.done():
                    future.set_result(piece)
        except Exception as e:  # Every waiting request gets the error; the batcher lives on.
            for _, _, future in tasks:
                if not future.done():
                    future.set_exception(e)
        finally:
            self._free_threads += 1
            self._schedule()

    def close(self):
        """Runs what is queued, waits for the batches, stops the batch threads and the loop."""
        if self._loop.is_closed():
            return
        asyncio.run_coroutine_threadsafe(self._drain(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._loop_thread.join(timeout=10)
        self._loop.close()
        self._pool.shutdown(wait=True)

    async def _drain(self):
        self._closed = True
        self._schedule()
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)


def _rows(tasks):
    """Rows (0th-dimension size) of a batch's tasks together."""
    return sum(size for _, size, _ in tasks)


def _run_merged(servable, signature_name, feeds_list):
    """One signature run on the requests' inputs concatenated along dimension 0."""
    if len(feeds_list) == 1:
        return servable.run(signature_name, feeds_list[0])
    merged = {
        alias: np.concatenate([feeds[alias] for feeds in feeds_list], axis=0)
        for alias in feeds_list[0]
    }
    return servable.run(signature_name, merged)
