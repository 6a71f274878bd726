"""Serving cost of a raw-text classifier: SavedModel in process, gRPC, batching, TFLite.

    python -m benchmarks.serving --model_dir=runs/cls        # any classification run
    python -m benchmarks.serving                              # fine-tunes BERT-tiny first

Exports the run (`export.saved_model`), converts it to float32 and dynamic-range int8
`.tflite` (`export.tflite`) and starts `export.server` as a child process (with and without
`--enable_batching`). Prints:

* batch-1 latency (median of interleaved calls) of the SavedModel signature in process (TF2
  `signatures[...]`), of the same SavedModel in a `Session` as `export.server` runs it (in
  this process TensorFlow's thread pools come from the eager runtime, which spins), over
  gRPC (target overhead <= 1.3x) and of the two TFLite files, with file sizes;
* QPS of `--clients` concurrent gRPC clients sending one text per request, without and with
  server-side batching (target >= 3x), and the same load in process without gRPC: the bound
  the machine's cores set for any server, batched or not.

`--tensorflow_intra_op_parallelism` applies to the servers and to everything in process.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import grpc  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from benchmarks.timing import interleaved_times, print_table  # noqa: E402
from tfbert.errors import run_program

_MODEL_DIR = flags.DEFINE_string("model_dir", None, "A classification run; default: fine-tune "
                                 "BERT-tiny on the sentiment split into --work_dir.")
_WORK_DIR = flags.DEFINE_string("work_dir", None, "Where exports and the default run go; "
                                "default: a temporary directory.")
_ROUNDS = flags.DEFINE_integer("rounds", 100, "Timed batch-1 calls per candidate.",
                               lower_bound=1)
_CLIENTS = flags.DEFINE_integer("clients", 16, "Concurrent gRPC clients for the QPS test.",
                                lower_bound=1)
_TIMEOUT = flags.DEFINE_integer("batch_timeout_micros", 1000, "Batching window of the "
                                "batching server (written to its batching_parameters_file).",
                                lower_bound=0)
_BATCH_THREADS = flags.DEFINE_integer("num_batch_threads", 1, "Batch threads of the batching "
                                      "server; one suits 2 cores, where each batch already "
                                      "uses both through TensorFlow's op threads.",
                                      lower_bound=1)
_SECONDS = flags.DEFINE_float("seconds", 10.0, "Duration of each QPS run.", lower_bound=0.5)
_INTRA_OP = flags.DEFINE_integer("tensorflow_intra_op_parallelism", 0, "Threads one op may "
                                 "use, in the servers and in process; 0 lets TensorFlow choose.",
                                 lower_bound=0)

_TEXTS = ["这个手机用起来很流畅，电池也耐用，很满意。", "质量太差了，用了两天就坏了，不推荐购买。",
          "物流很快，包装完好。", "客服态度不好，退货也麻烦。"]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dir_size(path):
    return sum(os.path.getsize(os.path.join(root, f))
               for root, _, files in os.walk(path) for f in files)


def start_server(config_file, batching_file=None, intra_op_parallelism=0):
    """`python -m export.server` as a child process; returns (process, port) once it answers."""
    from export import client
    port = _free_port()
    command = [sys.executable, "-m", "export.server", f"--port={port}",
               f"--model_config_file={config_file}", "--file_system_poll_wait_seconds=-1",
               "--stats_interval_seconds=0",
               f"--tensorflow_intra_op_parallelism={intra_op_parallelism}"]
    if batching_file:
        command += ["--enable_batching", f"--batching_parameters_file={batching_file}"]
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    command.append("--alsologtostderr")
    log = tempfile.TemporaryFile(mode="w+")
    process = subprocess.Popen(command, env=dict(os.environ, PYTHONPATH=repo),
                               stdout=subprocess.DEVNULL, stderr=log)
    process.log = log
    channel, stub = client.make_stub(f"127.0.0.1:{port}")
    deadline = time.time() + 180
    while True:
        try:
            stub.Predict(client.build_predict_request(_TEXTS[:1], "bert"), timeout=5)
            break
        except grpc.RpcError as error:
            if process.poll() is not None or time.time() > deadline:
                process.kill()
                raise RuntimeError(f"export.server did not start: {' '.join(command)}") from error
            time.sleep(0.5)
    channel.close()
    return process, port


def stop_server(process):
    """Stops the server; returns its shutdown statistics line (batches, mean batch size)."""
    process.terminate()
    process.wait()
    process.log.seek(0)
    lines = [line for line in process.log if "Serving stats at shutdown" in line]
    process.log.close()
    return lines[-1].split("shutdown:")[-1].strip() if lines else "?"


def measure_qps(port, clients, seconds):
    """Requests per second of `clients` channels, each keeping one request (one text) in
    flight; asynchronous calls, so the client process's GIL is not what is measured."""
    from export import client
    stubs = [client.make_stub(f"127.0.0.1:{port}") for _ in range(clients)]
    lock = threading.Lock()
    state = {"done": 0, "open": clients, "error": None}
    finished = threading.Event()
    stop = time.time() + seconds

    def issue(i):
        request = client.build_predict_request([_TEXTS[i % len(_TEXTS)]], "bert")
        stubs[i][1].Predict.future(request, timeout=30).add_done_callback(
            lambda future: on_done(i, future))

    def on_done(i, future):
        with lock:
            if future.exception() is not None:
                state["error"] = future.exception()
            else:
                state["done"] += 1
        if time.time() < stop and state["error"] is None:
            issue(i)
            return
        with lock:
            state["open"] -= 1
            if state["open"] == 0:
                finished.set()

    start = time.time()
    for i in range(clients):
        issue(i)
    finished.wait()
    elapsed = time.time() - start
    for channel, _ in stubs:
        channel.close()
    if state["error"] is not None:
        raise RuntimeError(f"a request failed: {state['error']}")
    return state["done"] / elapsed


def measure_in_process_qps(run_one, clients, seconds):
    """Calls per second of `clients` threads, each calling `run_one(i)` back to back."""
    stop = time.time() + seconds
    counts = [0] * clients

    def work(i):
        while time.time() < stop:
            run_one(i)
            counts[i] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    start = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.time() - start)


def in_process_qps(servable, batching, clients, seconds):
    """QPS of `clients` threads running one text each on `servable` (an export.serving.core
    Servable), directly and through the server's Batcher: no gRPC, no protos."""
    from export.serving.batching import Batcher
    feeds = [{"text": np.array([_TEXTS[i % len(_TEXTS)].encode()], dtype=object)}
             for i in range(clients)]
    direct = measure_in_process_qps(
        lambda i: servable.run("serving_default", feeds[i]), clients, seconds)
    batcher = Batcher(batching)
    try:
        run = lambda i: batcher.run(servable, "serving_default", feeds[i], 30.0)  # noqa: E731
        measure_in_process_qps(run, clients, min(seconds, 2.0))  # warm the batch shapes up
        batched = measure_in_process_qps(run, clients, seconds)
    finally:
        batcher.close()
    return direct, batched


def run_benchmark(model_dir, work_dir, rounds, clients, seconds, batch_timeout_micros=1000,
                  num_batch_threads=1, intra_op_parallelism=0):
    import tensorflow as tf
    import tensorflow_text  # noqa: F401

    from export import client, saved_model, server, tflite
    from export.serving import core
    from export.serving.batching import BatchingParameters

    tf.config.threading.set_intra_op_parallelism_threads(intra_op_parallelism)
    if model_dir is None:
        from tests.export_fixtures import sentiment_run
        model_dir, _ = sentiment_run(os.path.join(work_dir, "sentiment_run"))
    base = os.path.join(work_dir, "models")
    version_dir = saved_model.export_saved_model(model_dir, base, "bert")
    files = {q: tflite.convert_tflite(model_dir, os.path.join(work_dir, f"bert_{q}.tflite"), q)
             for q in ("none", "dynamic")}
    config_file = os.path.join(base, "models.config")

    signature = tf.saved_model.load(version_dir).signatures["serving_default"]
    session_config = server.read_session_config(None, intra_op_parallelism)  # as the server's
    servable = core.Servable("bert", 0, version_dir, session_config=session_config)
    one = tf.constant(_TEXTS[:1])
    one_feeds = {"text": np.array([_TEXTS[0].encode()], dtype=object)}
    runners = {q: tflite.TFLiteModel(path) for q, path in files.items()}
    process, port = start_server(config_file, None, intra_op_parallelism)
    try:
        channel, stub = client.make_stub(f"127.0.0.1:{port}")
        request = client.build_predict_request(_TEXTS[:1], "bert")
        times = interleaved_times({
            "saved_model": lambda: signature(text=one)["probabilities"].numpy(),
            "session": lambda: servable.run("serving_default", one_feeds),
            "grpc": lambda: stub.Predict(request, timeout=30),
            "tflite_f32": lambda: runners["none"].predict(_TEXTS[:1]),
            "tflite_int8": lambda: runners["dynamic"].predict(_TEXTS[:1]),
        }, rounds=rounds, warmup=5)
        channel.close()
        qps_plain = measure_qps(port, clients, seconds)
    finally:
        stop_server(process)
    batching = BatchingParameters(max_batch_size=max(clients, 1),
                                  batch_timeout_micros=batch_timeout_micros,
                                  num_batch_threads=num_batch_threads)
    batching_file = os.path.join(work_dir, "batching.config")
    with open(batching_file, "w") as f:
        f.write(f"max_batch_size {{ value: {batching.max_batch_size} }}\n"
                f"batch_timeout_micros {{ value: {batch_timeout_micros} }}\n"
                f"num_batch_threads {{ value: {num_batch_threads} }}\n")
    process, port = start_server(config_file, batching_file, intra_op_parallelism)
    try:
        measure_qps(port, clients, min(seconds, 2.0))  # warm the batch shapes up
        qps_batched = measure_qps(port, clients, seconds)
    finally:
        batch_stats = stop_server(process)
    # The same load without gRPC: what the cores allow any server.
    local_plain, local_batched = in_process_qps(servable, batching, clients, seconds)
    # One thread, whole batches of `clients` back to back: the model alone, no concurrency.
    batch = tf.constant([_TEXTS[i % len(_TEXTS)] for i in range(clients)])
    batch_seconds = float(np.median(interleaved_times(
        {"batch": lambda: signature(text=batch)["probabilities"].numpy()},
        rounds=max(rounds // 4, 3))["batch"]))

    median = {k: float(np.median(v)) * 1e3 for k, v in times.items()}
    sizes = {"saved_model": _dir_size(version_dir), "session": _dir_size(version_dir),
             "grpc": _dir_size(version_dir), "tflite_f32": os.path.getsize(files["none"]),
             "tflite_int8": os.path.getsize(files["dynamic"])}
    rows = [(name, f"{median[name]:.2f}", f"{median[name] / median['saved_model']:.2f}x",
             f"{sizes[name] / 1e6:.2f}") for name in median]
    threads = intra_op_parallelism or "TensorFlow's choice"
    print_table(f"Batch-1 latency ({rounds} interleaved calls, median), {model_dir}, "
                f"intra-op threads: {threads}",
                ("path", "ms", "vs SavedModel", "size MB"), rows)
    window = f"{batch_timeout_micros} us window, {num_batch_threads} batch thread(s)"
    qps_rows = [
        ("export.server", qps_plain),
        (f"export.server --enable_batching ({window})", qps_batched),
        ("in process, no gRPC: Session runs", local_plain),
        ("in process, no gRPC: Session runs through the Batcher", local_batched),
        (f"one thread, batches of {clients} back to back", clients / batch_seconds),
    ]
    print_table(f"QPS, {clients} concurrent clients, 1 text per request, {seconds:.0f} s",
                ("server", "QPS", "vs export.server"),
                [(name, f"{qps:.1f}", f"{qps / qps_plain:.2f}x") for name, qps in qps_rows])
    print(f"batching server: {batch_stats}")
    overhead = median["grpc"] / median["saved_model"]
    print(f"\ngRPC overhead {overhead:.2f}x vs the TF2 signature, "
          f"{median['grpc'] / median['session']:.2f}x vs the server's own Session run "
          f"(target <= 1.3x); batching speed-up {qps_batched / qps_plain:.2f}x (target >= 3x; "
          f"without gRPC the batcher gives {local_batched / local_plain:.2f}x over concurrent "
          f"Session runs).")
    return {"latency_ms": median, "sizes": sizes, "qps": qps_plain, "qps_batched": qps_batched,
            "in_process_qps": local_plain, "in_process_qps_batched": local_batched}


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    work_dir = _WORK_DIR.value or tempfile.mkdtemp(prefix="tfbert_serving_")
    try:
        run_benchmark(_MODEL_DIR.value, work_dir, _ROUNDS.value, _CLIENTS.value, _SECONDS.value,
                      _TIMEOUT.value, _BATCH_THREADS.value, _INTRA_OP.value)
    finally:
        if _WORK_DIR.value is None:
            shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    run_program(main)
