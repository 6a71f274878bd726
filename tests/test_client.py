"""export.client: request building, response decoding, live and dead servers."""

import io
import json
import os
import socket
import subprocess
import sys
import tempfile

import grpc
import numpy as np
import pytest
import tensorflow as tf

from export import client
from export.serving import core
from export.serving.batching import BatchingParameters
from export.serving.codec import to_numpy, to_proto
from tests.serving_fixtures import MAIN, TEXTS, expected_outputs, publish_version, start_server


@pytest.fixture(scope="module")
def live_port():
    base = os.path.join(tempfile.mkdtemp(prefix="tfbert_client_"), "m")
    publish_version(base, 3)
    srv = start_server(core.single_model_config("m", base))
    yield srv.port
    srv.stop()


def test_build_predict_request():
    request = client.build_predict_request(
        ["a", "é"], "bert", "sig", model_version=4, input_name="q"
    )
    assert request.model_spec.name == "bert" and request.model_spec.signature_name == "sig"
    assert request.model_spec.version.value == 4
    proto = request.inputs["q"]
    assert proto.dtype == tf.string.as_datatype_enum
    assert [d.size for d in proto.tensor_shape.dim] == [2]
    assert list(proto.string_val) == [b"a", "é".encode()]
    latest = client.build_predict_request(["a"], "bert")
    assert not latest.model_spec.HasField("version")


@pytest.mark.parametrize(
    "value",
    [
        np.array([[1.5, -2.0], [0.0, 3.25]], np.float32),
        np.array([[1, 2, 3]], np.int32),
        np.array([7], np.int64),
        np.array([True, False]),
        np.array([b"x", b"yz"], object),
        np.zeros((0, 2), np.float32),
    ],
)
def test_decode_typed_fields_and_tensor_content(value):
    typed = to_proto(value)
    assert not typed.tensor_content
    np.testing.assert_array_equal(to_numpy(typed), value)
    np.testing.assert_array_equal(to_numpy(tf.make_tensor_proto(value)), value)


def test_predictions_as_rows():
    outputs = {
        "probabilities": np.array([[0.25, 0.75], [0.5, 0.5]], np.float32),
        "label": np.array([b"positive", b"negative"], object),
    }
    rows = client.predictions_as_rows(["a", "b"], outputs)
    assert rows == [
        {"text": "a", "label": "positive", "probabilities": [0.25, 0.75]},
        {"text": "b", "label": "negative", "probabilities": [0.5, 0.5]},
    ]


def test_run_against_live_server_prints_json_lines(live_port, tmp_path):
    input_file = tmp_path / "texts.txt"
    input_file.write_text("\n".join(TEXTS[:3]) + "\n\n")
    texts = client.read_texts(str(input_file))
    assert texts == TEXTS[:3]
    out = io.StringIO()
    rows = client.run(
        texts, f"127.0.0.1:{live_port}", model_name="m", batch_size=2, out=out
    )
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines == rows and [r["text"] for r in lines] == texts
    expected = expected_outputs(texts)
    np.testing.assert_allclose(
        [r["probabilities"] for r in lines], expected["probabilities"], atol=1e-6
    )
    assert [r["label"] for r in lines] == [v.decode() for v in expected["label"]]


def test_server_side_error_carries_code(live_port):
    with pytest.raises(client.ServingClientError) as error:
        client.run(["x"], f"127.0.0.1:{live_port}", model_name="nope", out=io.StringIO())
    assert error.value.code == grpc.StatusCode.NOT_FOUND
    assert str(error.value) == (
        f"NOT_FOUND: the server at 127.0.0.1:{live_port} serves no such model or version "
        "(--model_name=nope): Servable not found for request: Latest(nope). Check the name and "
        "version the server was started with.")
    with pytest.raises(client.ServingClientError) as error:
        client.run(["x"], f"127.0.0.1:{live_port}", model_name="m", model_version=99,
                   out=io.StringIO())
    assert error.value.code == grpc.StatusCode.NOT_FOUND
    assert str(error.value).startswith(
        f"NOT_FOUND: the server at 127.0.0.1:{live_port} serves no such model or version "
        "(--model_name=m --model_version=99): ")
    with pytest.raises(client.ServingClientError, match="FAILED_PRECONDITION: the model cannot "
                                                        "answer this request: Serving signature"):
        client.run(["x"], f"127.0.0.1:{live_port}", model_name="m", signature_name="nope",
                   model_version=3, out=io.StringIO())


def test_dead_port_says_no_server_answers():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(client.ServingClientError) as error:
        client.run(["x"], f"127.0.0.1:{port}", model_name="m", timeout_seconds=2.0,
                   out=io.StringIO())
    assert error.value.code == grpc.StatusCode.UNAVAILABLE
    assert str(error.value).startswith(
        f"UNAVAILABLE: no TF Serving server answers at 127.0.0.1:{port}")


def test_deadline_exceeded_is_explained(tmp_path):
    base = str(tmp_path / "m")
    publish_version(base, 1)
    # A 3 s batch timeout holds a lone request longer than the client's 0.3 s deadline.
    srv = start_server(
        core.single_model_config("m", base),
        batching=BatchingParameters(max_batch_size=64, batch_timeout_micros=3_000_000),
    )
    try:
        with pytest.raises(client.ServingClientError) as error:
            client.run(["x"], f"127.0.0.1:{srv.port}", model_name="m", timeout_seconds=0.3,
                       out=io.StringIO())
        assert error.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
        assert str(error.value).startswith("DEADLINE_EXCEEDED: the server at ")
        assert "did not answer within 0.3 s (raise --timeout" in str(error.value)
    finally:
        srv.stop()


def test_client_program_reports_dead_server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "export.client",
            f"--server=127.0.0.1:{port}",
            "--model_name=m",
            "--text=good cat",
            "--timeout=2",
        ],
        cwd=MAIN,
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, PYTHONPATH=MAIN, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(
        f"error: UNAVAILABLE: no TF Serving server answers at 127.0.0.1:{port}")
    assert "Traceback" not in result.stderr
