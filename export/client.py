r"""gRPC client for a TF Serving model (the real `tensorflow_model_server` or `export.server`).

Sends texts to a classifier signature (`text` tf.string [batch]) and prints one JSON line per
text with every output the server returns.

Example:

  python -m export.client --server=localhost:8500 --model_name=bert \
      --text="the cat sat on the mat" --text="what a great film"

`make_stub`, `build_predict_request`, `decode_outputs`, `predictions_as_rows` and `run` are the
importable pieces (tests and the benchmark call them).
"""

import json
import sys

import grpc
import numpy as np
from absl import app, flags
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from export.serving import codec
from tfbert.data.files import check_file, read_lines
from tfbert.errors import UsageError, run_program

_FLAGS = flags.FLAGS


def define_flags(flag_values=flags.FLAGS):
    """Defines the program's flags (called under __main__: the server, the client and the
    exporter share flag names, and tests import them into one process)."""
    fv = {"flag_values": flag_values}
    flags.DEFINE_multi_string("text", None, "A text to send; repeat the flag for a batch.", **fv)
    flags.DEFINE_string("input_file", None, "A UTF-8 file with one text per line (empty lines "
                        "are skipped); used instead of --text.", **fv)
    flags.DEFINE_string("server", "localhost:8500", "host:port of the TF Serving gRPC endpoint.",
                        **fv)
    flags.DEFINE_string("model_name", "default", "Name of the model on the server.", **fv)
    flags.DEFINE_string("signature_name", "serving_default", "Signature to call.", **fv)
    flags.DEFINE_integer("model_version", None, "Version to call; default: the latest "
                         "available.", lower_bound=0, **fv)
    flags.DEFINE_string("input_name", "text", "Signature input alias that receives the texts.",
                        **fv)
    flags.DEFINE_float("timeout_seconds", 10.0, "Deadline of each request in seconds.",
                       lower_bound=0.001, **fv)
    flags.DEFINE_alias("timeout", "timeout_seconds", **fv)
    flags.DEFINE_integer("batch_size", 64, "Texts per request.", lower_bound=1, **fv)


_MAX_MESSAGE = 2**31 - 1

class ServingClientError(UsageError):
    """A failed call, with the gRPC status code and a message that says what to do (the
    program prints it as one `error: CODE: ...` line)."""

    def __init__(self, code, message):
        super().__init__(message, exit_code=1)
        self.code = code


def string_tensor_proto(texts):
    """A rank-1 DT_STRING TensorProto (typed `string_val`, as TF Serving clients send)."""
    return codec.to_proto(np.array(list(texts), dtype=object))


def build_predict_request(
    texts, model_name, signature_name="serving_default", model_version=None, input_name="text"
):
    """A PredictRequest carrying `texts` as `input_name` (tf.string [len(texts)])."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    if model_version is not None:
        request.model_spec.version.value = model_version
    request.inputs[input_name].CopyFrom(string_tensor_proto(list(texts)))
    return request


def decode_outputs(response):
    """{output alias: numpy array} of a PredictResponse."""
    return {alias: codec.to_numpy(proto) for alias, proto in response.outputs.items()}


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        return value.item()
    return value


def predictions_as_rows(texts, outputs):
    """One dict per text: {"text": ..., <alias>: row value} (outputs with a batch dimension)."""
    rows = []
    for i, text in enumerate(texts):
        row = {"text": text}
        for alias in sorted(outputs):
            value = outputs[alias]
            row[alias] = _jsonable(
                value[i] if value.ndim and value.shape[0] == len(texts) else value
            )
        rows.append(row)
    return rows


def make_stub(server):
    options = [
        ("grpc.max_receive_message_length", _MAX_MESSAGE),
        ("grpc.max_send_message_length", _MAX_MESSAGE),
    ]
    channel = grpc.insecure_channel(server, options=options)
    return channel, prediction_service_pb2_grpc.PredictionServiceStub(channel)


def explain_rpc_error(error, server, model_name, timeout_seconds, model_version=None):
    """ServingClientError for a grpc.RpcError: the status code, what it means here, and what
    to do."""
    code = error.code()
    details = " ".join(str(error.details()).split())
    if code == grpc.StatusCode.UNAVAILABLE:
        message = (
            f"no TF Serving server answers at {server} ({details}). Start one, e.g. "
            f"`python -m export.server --port={server.rsplit(':', 1)[-1]} "
            f"--model_name={model_name} --model_base_path=DIR`, or pass --server=host:port."
        )
    elif code == grpc.StatusCode.DEADLINE_EXCEEDED:
        message = (
            f"the server at {server} did not answer within {timeout_seconds} s "
            "(raise --timeout, or send fewer texts per request)."
        )
    elif code == grpc.StatusCode.NOT_FOUND:
        wanted = f"--model_name={model_name}" + (
            f" --model_version={model_version}" if model_version is not None else "")
        message = (f"the server at {server} serves no such model or version ({wanted}): "
                   f"{details}. Check the name and version the server was started with.")
    elif code == grpc.StatusCode.FAILED_PRECONDITION:
        message = f"the model cannot answer this request: {details} (check --signature_name)."
    elif code == grpc.StatusCode.INVALID_ARGUMENT:
        message = f"the server refused the request: {details} (check --input_name)."
    else:
        message = f"server error: {details}"
    return ServingClientError(code, f"{code.name}: {message}")


def read_texts(input_file):
    check_file(input_file, "--input_file")
    return [line for _, line in read_lines(input_file) if line.strip()]


def run(texts, server, *, model_name, signature_name="serving_default", model_version=None,
        input_name="text", timeout_seconds=10.0, batch_size=64, out=sys.stdout):
    """Predicts `texts` in requests of `batch_size` and writes one JSON line per text to
    `out`; returns the rows. Raises ServingClientError."""
    channel, stub = make_stub(server)
    rows = []
    try:
        for start in range(0, len(texts), batch_size):
            chunk = texts[start : start + batch_size]
            request = build_predict_request(
                chunk, model_name, signature_name, model_version, input_name
            )
            try:
                response = stub.Predict(request, timeout=timeout_seconds)
            except grpc.RpcError as e:
                raise explain_rpc_error(e, server, model_name, timeout_seconds,
                                        model_version) from None
            rows.extend(predictions_as_rows(chunk, decode_outputs(response)))
    finally:
        channel.close()
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return rows


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    if bool(_FLAGS.text) == bool(_FLAGS.input_file):
        raise app.UsageError("Pass texts with --text (repeatable) or --input_file=FILE, not both.")
    texts = _FLAGS.text or read_texts(_FLAGS.input_file)
    run(  # a ServingClientError becomes one `error:` line (tfbert.errors.run_program)
        texts,
        _FLAGS.server,
        model_name=_FLAGS.model_name,
        signature_name=_FLAGS.signature_name,
        model_version=_FLAGS.model_version,
        input_name=_FLAGS.input_name,
        timeout_seconds=_FLAGS.timeout_seconds,
        batch_size=_FLAGS.batch_size,
    )


if __name__ == "__main__":
    define_flags()
    run_program(main)
