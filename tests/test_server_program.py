"""export.server as a program, its REST API and the op audit."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import grpc
import numpy as np
import pytest
import tensorflow as tf
from absl import app, flags
from tensorflow_serving.apis import get_model_status_pb2

from export import op_audit, server
from export.serving import core
from tests.serving_fixtures import (
    MAIN,
    TEXTS,
    TinyClassifier,
    add_bogus_op,
    expected_outputs,
    publish_version,
    saved_model_template,
    start_server,
    stubs,
    text_request,
    wait_for,
)


def test_op_audit_refuses_unknown_op(tmp_path):
    assert op_audit.audit(saved_model_template(1.0), target="tf_serving") == []
    base = str(tmp_path / "m")
    publish_version(base, 1)
    add_bogus_op(os.path.join(base, "1"))
    assert op_audit.audit(os.path.join(base, "1")) == ["TfbertNoSuchOp"]
    with pytest.raises(op_audit.MissingOpsError, match="TfbertNoSuchOp"):
        op_audit.check(os.path.join(base, "1"))
    with pytest.raises(core.ServingError, match="did not become available.*TfbertNoSuchOp"):
        start_server(core.single_model_config("m", base))


def test_failed_new_version_keeps_old_serving(tmp_path):
    base = str(tmp_path / "m")
    publish_version(base, 1)
    srv = start_server(core.single_model_config("m", base))
    try:
        staging = os.path.join(base, ".tmp-2")
        shutil.copytree(saved_model_template(1.0), staging)
        add_bogus_op(staging)
        os.rename(staging, os.path.join(base, "2"))
        srv.manager.poll_once()
        stub, model_stub = stubs(srv.port)
        assert stub.Predict(text_request(["good"])).model_spec.version.value == 1
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = "m"
        request.model_spec.version.value = 2
        [status] = model_stub.GetModelStatus(request).model_version_status
        assert status.state == get_model_status_pb2.ModelVersionStatus.END
        assert status.status.error_code == grpc.StatusCode.NOT_FOUND.value[0]
        assert "TfbertNoSuchOp" in status.status.error_message
    finally:
        srv.stop()


def test_audit_tflite_flags_ops_without_kernels(tmp_path):
    module = TinyClassifier(1.0)
    path = str(tmp_path / "text_only")
    tf.saved_model.save(module, path, signatures={"serving_default": module.serve_text})
    # tf.where on strings has no TFLite builtin: it stays a custom op with no kernel; the
    # tf-text tokenizer ops have kernels in tf-text's registrar.
    assert op_audit.audit(path, target="tflite") == ["SelectV2"]


def test_audit_tflite_flags_resource_variables(tmp_path):
    module = tf.Module()
    module.counter = tf.Variable(0.0)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def step(x):
        module.counter.assign_add(1.0)
        return x * module.counter

    module.step = step
    tf.saved_model.save(module, str(tmp_path / "counter"), signatures={"serving_default": step})
    converter = tf.lite.TFLiteConverter.from_saved_model(str(tmp_path / "counter"))
    converter.experimental_enable_resource_variables = True
    path = tmp_path / "counter.tflite"
    path.write_bytes(converter.convert())
    builtins, _ = op_audit.tflite_op_names(str(path))
    assert "MUL" in builtins
    assert {"VAR_HANDLE", "READ_VARIABLE"} <= set(op_audit.audit_tflite(str(path)))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_server_program_serves_and_stops_on_sigterm(tmp_path):
    base = str(tmp_path / "m")
    publish_version(base, 1)
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "export.server",
            f"--port={port}",
            "--model_name=m",
            f"--model_base_path={base}",
            "--enable_batching",
            "--file_system_poll_wait_seconds=-1",
        ],
        cwd=MAIN,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=MAIN, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    try:
        stub, _ = stubs(port)

        def answers():
            try:
                return stub.Predict(text_request(["good"]), timeout=2).model_spec.version.value == 1
            except grpc.RpcError:
                return process.poll() is not None  # stop waiting if it died

        assert wait_for(answers, timeout=60) and process.poll() is None
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr[-2000:]
    assert "Serving stats at shutdown: requests=" in stderr


def _http(port, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, method="GET" if body is None else "POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_rest_api(tmp_path):
    base = str(tmp_path / "m")
    publish_version(base, 1)
    srv = start_server(core.single_model_config("m", base), rest_api_port=_free_port())
    try:
        port = srv.rest_port
        expected = expected_outputs(TEXTS[:2])
        code, body = _http(port, "/v1/models/m:predict", {"instances": TEXTS[:2]})
        assert code == 200 and [p["label"] for p in body["predictions"]] == ["positive", "negative"]
        np.testing.assert_allclose(
            [p["probabilities"] for p in body["predictions"]], expected["probabilities"], atol=1e-6
        )
        code, body = _http(
            port,
            "/v1/models/m/versions/1:predict",
            {"signature_name": "serving_default", "inputs": {"text": TEXTS[:2]}},
        )
        assert code == 200 and body["outputs"]["label"] == ["positive", "negative"]
        code, body = _http(port, "/v1/models/m:predict", {"inputs": []})
        assert code == 200 and body["outputs"]["probabilities"] == []
        code, body = _http(
            port,
            "/v1/models/m:predict",
            {"signature_name": "serve_ids", "instances": [[1, 2], [3, 4]]},
        )
        assert (code, body) == (200, {"predictions": [3, 7]})
        for path, request, status, message in [
            (
                "/v1/models/nope:predict",
                {"instances": ["x"]},
                404,
                "Servable not found for request: Latest(nope)",
            ),
            (
                "/v1/models/m/versions/4:predict",
                {"instances": ["x"]},
                404,
                "Servable not found for request: Specific(m, 4)",
            ),
            (
                "/v1/models/m:predict",
                {"signature_name": "x", "instances": ["x"]},
                400,
                'Serving signature name: "x" not found in signature def',
            ),
            ("/v1/models/m:predict", {"instances": []}, 400, "No values in 'instances' array"),
            ("/v1/models/m:predict", {"instances": [1.5]}, 400, "is not of expected type: string"),
            ("/v1/models/m:predict", {"inputs": "good"}, 400, "Shape of tensor text []"),
            ("/v1/foo", {"instances": ["x"]}, 400, "Malformed request: POST /v1/foo"),
        ]:
            code, body = _http(port, path, request)
            assert code == status and message in body["error"], (path, code, body)
        code, body = _http(port, "/v1/models/m")
        assert (code, body) == (
            200,
            {
                "model_version_status": [
                    {
                        "version": "1",
                        "state": "AVAILABLE",
                        "status": {"error_code": "OK", "error_message": ""},
                    }
                ]
            },
        )
        code, body = _http(port, "/v1/models/m/metadata")
        assert code == 200 and body["model_spec"] == {"name": "m", "version": "1"}
        assert "serving_default" in body["metadata"]["signature_def"]["signature_def"]
    finally:
        srv.stop()


def test_main_rejects_bad_flag_combinations(tmp_path, monkeypatch):
    flag_values = flags.FlagValues()
    server.define_flags(flag_values)
    monkeypatch.setattr(server, "_FLAGS", flag_values)
    flag_values(
        ["server", f"--model_base_path={tmp_path}", f"--batching_parameters_file={tmp_path}/b"]
    )
    with pytest.raises(
        app.UsageError, match="--batching_parameters_file=.* needs --enable_batching"
    ):
        server.main(["server"])
    flag_values.unparse_flags()
    flag_values(["server", "--port=8600", "--rest_api_port=8600", "--model_base_path=/x"])
    with pytest.raises(app.UsageError, match="--rest_api_port=8600 must differ from --port=8600"):
        server.main(["server"])
    flag_values.unparse_flags()
    flag_values(["server"])
    with pytest.raises(app.UsageError, match="--model_base_path"):
        server.main(["server"])


def test_session_config_file_and_parallelism_flags(tmp_path):
    path = tmp_path / "session.config"
    path.write_text(
        "intra_op_parallelism_threads: 3\n"
        "inter_op_parallelism_threads: 4\n"
        "experimental { disable_thread_spinning: true }\n"
    )
    config = server.read_session_config(str(path), intra_op_parallelism=1)
    assert config.intra_op_parallelism_threads == 1  # the flag wins
    assert config.inter_op_parallelism_threads == 4  # 0 keeps the file's
    assert config.experimental.disable_thread_spinning
    default = server.read_session_config()
    assert default.inter_op_parallelism_threads == 0
    assert default.experimental.disable_thread_spinning
    path.write_text("")
    assert not server.read_session_config(str(path)).experimental.disable_thread_spinning
    path.write_text("intra_op_parallelism_threads: 3\nno_such_field: 1\n")
    with pytest.raises(app.UsageError, match=r"session\.config: 2:1 .*no_such_field"):
        server.read_session_config(str(path))
    with pytest.raises(app.UsageError, match="missing.config"):
        server.read_session_config(str(tmp_path / "missing.config"))
