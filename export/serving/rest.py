"""The TF Serving REST API (`--rest_api_port`): predict, model status and metadata.

Routes (reference §1.11):
  POST /v1/models/<name>[/versions/<v>|/labels/<label>]:predict   row or columnar JSON
  GET  /v1/models/<name>[/versions/<v>|/labels/<label>]            GetModelStatus as JSON
  GET  /v1/models/<name>[/versions/<v>|/labels/<label>]/metadata   GetModelMetadata as JSON
Errors are `{"error": "<message>"}` with the absl-to-HTTP status mapping. JSON values are
converted with the signature's dtypes; DT_STRING accepts a string or `{"b64": ...}`, and string
outputs whose alias ends in `_bytes` are written as `{"b64": ...}`. Classify/regress over REST
answer 501 here.
"""

import base64
import http.server
import json
import re
import threading
import urllib.parse

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2, predict_pb2

from export.serving import codec, requests
from export.serving.core import ServingError

_ROUTE = re.compile(
    r"^/v1/models/([^/:]+)(?:/versions/(\d+)|/labels/([^/:]+))?"
    r"(?::(predict|classify|regress)|(/metadata))?$",
    re.IGNORECASE,
)
_HTTP = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}

def _bad(message):
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, message)


def _json_value(value, dtype):
    """Checks/converts one JSON scalar to the signature dtype (json_tensor.cc rules)."""
    if dtype == types_pb2.DT_STRING:
        if isinstance(value, dict) and list(value) == ["b64"]:
            return base64.b64decode(value["b64"])
        if isinstance(value, str):
            return value.encode("utf-8")
    elif dtype == types_pb2.DT_BOOL:
        if isinstance(value, bool):
            return value
    elif dtype in (types_pb2.DT_FLOAT, types_pb2.DT_DOUBLE):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
    elif isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _bad(
        f"JSON Value: {json.dumps(value)} Type: {type(value).__name__} is not of expected "
        f"type: {codec.dtype_string(dtype)}"
    )


def _to_array(value, dtype):
    def convert(v):
        return [convert(x) for x in v] if isinstance(v, list) else _json_value(v, dtype)

    converted = convert(value)
    try:
        return np.array(converted, dtype=tf.dtypes.as_dtype(dtype).as_numpy_dtype)
    except ValueError as e:
        raise _bad(f"Failed to process element with inconsistent shapes: {e}") from e


def _inputs_from_json(body, sig):
    """{alias: ndarray} and whether the request used the row format."""
    names = sorted(sig.inputs)
    if "instances" in body and "inputs" in body:
        raise _bad("Not both 'instances' and 'inputs' can be specified in a request")
    if "instances" in body:
        instances = body["instances"]
        if not isinstance(instances, list) or not instances:
            raise _bad(
                "Failed to process element: 0 of 'instances' list. No values in 'instances' array"
            )
        if len(names) == 1 and not all(
            isinstance(i, dict) and set(i) == set(names) for i in instances
        ):
            return {names[0]: _to_array(instances, sig.inputs[names[0]].dtype)}, True
        arrays = {}
        for name in names:
            if not all(isinstance(i, dict) and name in i for i in instances):
                raise _bad(
                    f"Failed to process element: 0 key: {name} of 'instances' list. Error: "
                    "Missing named input"
                )
            arrays[name] = _to_array([i[name] for i in instances], sig.inputs[name].dtype)
        return arrays, True
    if "inputs" in body:
        inputs = body["inputs"]
        if isinstance(inputs, dict) and not (list(inputs) == ["b64"]):
            return {
                k: _to_array(v, sig.inputs[k].dtype if k in sig.inputs else types_pb2.DT_FLOAT)
                for k, v in inputs.items()
            }, False
        if len(names) != 1:
            raise _bad(
                "'inputs' must be an object keyed by input name for a signature with several inputs"
            )
        return {names[0]: _to_array(inputs, sig.inputs[names[0]].dtype)}, False
    raise _bad("Missing 'inputs' or 'instances' key")


def _json_output(array, alias):
    if array.dtype == object:
        if alias.endswith("_bytes"):
            return (
                np.vectorize(lambda b: {"b64": base64.b64encode(b).decode()}, otypes=[object])(
                    array
                ).tolist()
                if array.size
                else array.tolist()
            )
        return (
            np.vectorize(lambda b: b.decode("utf-8", "replace"), otypes=[object])(array).tolist()
            if array.size
            else array.tolist()
        )
    return array.tolist()


def _format_response(outputs, row_format):
    if not row_format:
        if len(outputs) == 1:
            [(alias, array)] = outputs.items()
            return {"outputs": _json_output(array, alias)}
        return {"outputs": {a: _json_output(v, a) for a, v in outputs.items()}}
    sizes = set()
    for alias, array in outputs.items():
        if array.ndim == 0:
            raise _bad(f"Tensor name: {alias} has no shape information ")
        sizes.add(array.shape[0])
    if len(sizes) > 1:
        raise _bad("Tensor name: " + ",".join(outputs) + " has inconsistent batch size")
    columns = {a: _json_output(v, a) for a, v in outputs.items()}
    if len(columns) == 1:
        return {"predictions": next(iter(columns.values()))}
    n = sizes.pop() if sizes else 0
    return {"predictions": [{a: columns[a][i] for a in columns} for i in range(n)]}


class _Handler(http.server.BaseHTTPRequestHandler):
    manager = None
    runner = None
    stats = None

    def log_message(self, fmt, *args):  # quiet: the gRPC side logs what matters
        pass

    def _send(self, code, payload):
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _dispatch(self, method):
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        try:
            match = _ROUTE.match(path)
            if (
                not match
                or (method == "POST") != bool(match.group(4))
                or (match.group(4) and match.group(5))
            ):
                raise _bad(f"Malformed request: {method} {self.path}")
            name, version, label, verb, metadata = match.groups()
            spec = predict_pb2.PredictRequest().model_spec
            spec.name = name
            if version is not None:
                spec.version.value = int(version)
            elif label is not None:
                spec.version_label = label
            if method == "GET" and metadata:
                request = get_model_metadata_pb2.GetModelMetadataRequest(
                    metadata_field=["signature_def"]
                )
                request.model_spec.CopyFrom(spec)
                response = requests.get_model_metadata(self.manager, request)
                signature_map = get_model_metadata_pb2.SignatureDefMap()
                response.metadata["signature_def"].Unpack(signature_map)
                payload = {
                    "model_spec": json_format.MessageToDict(
                        response.model_spec, preserving_proto_field_name=True
                    ),
                    "metadata": {
                        "signature_def": json_format.MessageToDict(
                            signature_map, preserving_proto_field_name=True
                        )
                    },
                }
                return self._send(200, payload)
            if method == "GET":
                status_spec = get_model_status_pb2.GetModelStatusRequest().model_spec
                status_spec.name = name
                if version is not None:
                    status_spec.version.value = int(version)
                response = self.manager.model_status(status_spec)
                return self._send(
                    200,
                    json_format.MessageToDict(
                        response,
                        preserving_proto_field_name=True,
                        always_print_fields_with_no_presence=True,
                    ),
                )
            if verb.lower() != "predict":
                raise ServingError(grpc.StatusCode.UNIMPLEMENTED, f"{verb} is not implemented")
            return self._predict(spec)
        except ServingError as e:
            return self._send(_HTTP.get(e.code, 500), {"error": e.message})
        except Exception as e:  # Keep serving whatever a request does.
            return self._send(500, {"error": str(e)[:1024]})

    def _predict(self, spec):
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError as e:
            raise _bad(f"JSON Parse error: {e}") from e
        if not isinstance(body, dict):
            raise _bad("JSON Parse error: request body must be a JSON object")
        servable = self.manager.resolve(spec)
        signature_name = body.get("signature_name") or requests.DEFAULT_SIGNATURE
        if signature_name not in servable.signature_defs:
            raise _bad(f'Serving signature name: "{signature_name}" not found in signature def')
        arrays, row_format = _inputs_from_json(body, servable.signature_defs[signature_name])
        request = predict_pb2.PredictRequest()
        request.model_spec.CopyFrom(spec)
        request.model_spec.signature_name = signature_name
        for alias, array in arrays.items():
            request.inputs[alias].CopyFrom(codec.to_proto(array))
        response = requests.predict(self.manager, request, self.runner)
        outputs = {a: codec.to_numpy(p) for a, p in response.outputs.items()}
        return self._send(200, _format_response(outputs, row_format))

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")


def start_rest_server(manager, host, port, batcher=None, stats=None):
    """Starts the REST server on a daemon thread; returns the ThreadingHTTPServer."""
    def batched(servable, sig, feeds):
        return batcher.run(servable, sig, feeds, 30.0)

    runner = batched if batcher is not None else None
    handler = type(
        "Handler",
        (_Handler,),
        {"manager": manager, "runner": staticmethod(runner) if runner else None, "stats": stats},
    )
    httpd = http.server.ThreadingHTTPServer((host, port), handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, name="rest", daemon=True).start()
    return httpd
