"""export.server against small SavedModels in TF Serving layout (no BERT needed)."""

import os
import shutil
import tempfile
import threading

import grpc
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_management_pb2,
    predict_pb2,
    prediction_log_pb2,
)

from export import warmup
from export.serving import core
from export.serving.batching import BatchingParameters, parse_batching_parameters
from export.serving.codec import parse_tensor, to_proto
from tests.serving_fixtures import (
    TEXTS,
    expected_outputs,
    publish_version,
    start_server,
    stubs,
    text_request,
    wait_for,
)


@pytest.fixture(scope="module")
def live():
    base = os.path.join(tempfile.mkdtemp(prefix="tfbert_live_"), "m")
    publish_version(base, 1)
    os.makedirs(os.path.join(base, "tmp-upload"))  # not a version: ignored
    srv = start_server(core.single_model_config("m", base))
    predict_stub, model_stub = stubs(srv.port)
    yield srv, predict_stub, model_stub
    srv.stop()


def test_predict_typed_fields_and_model_spec(live):
    _, stub, _ = live
    response = stub.Predict(text_request(TEXTS))
    assert response.model_spec.name == "m"
    assert response.model_spec.version.value == 1
    assert response.model_spec.signature_name == "serving_default"
    probs, label = response.outputs["probabilities"], response.outputs["label"]
    assert not probs.tensor_content and not label.tensor_content
    assert [d.size for d in probs.tensor_shape.dim] == [len(TEXTS), 2]
    assert [d.size for d in label.tensor_shape.dim] == [len(TEXTS)]
    expected = expected_outputs(TEXTS)
    np.testing.assert_allclose(
        np.reshape(probs.float_val, (-1, 2)), expected["probabilities"], atol=1e-6
    )
    assert list(label.string_val) == list(expected["label"])


def test_predict_other_signature_int_val_and_output_filter(live):
    _, stub, _ = live
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "m"
    request.model_spec.signature_name = "serve_ids"
    request.inputs["ids"].CopyFrom(tf.make_tensor_proto([[1, 2, 3], [4, 5, 6]], dtype=tf.int32))
    response = stub.Predict(request)
    assert list(response.outputs["total"].int_val) == [6, 15]
    filtered = stub.Predict(text_request(["good"]), timeout=10)
    assert set(filtered.outputs) == {"probabilities", "label"}
    request = text_request(["good"])
    request.output_filter.append("label")
    assert set(stub.Predict(request).outputs) == {"label"}


def test_empty_batch_succeeds(live):
    _, stub, _ = live
    response = stub.Predict(text_request([]))
    assert [d.size for d in response.outputs["probabilities"].tensor_shape.dim] == [0, 2]


def _bad_requests():
    good = text_request(["good"])
    cases = []
    r = predict_pb2.PredictRequest()
    r.inputs["text"].CopyFrom(good.inputs["text"])
    cases.append(("no_model_spec", r, grpc.StatusCode.INVALID_ARGUMENT, "Missing ModelSpec"))
    cases.append(
        (
            "empty_name",
            text_request(["x"], name=""),
            grpc.StatusCode.INVALID_ARGUMENT,
            "ModelSpec has no name specified.",
        )
    )
    cases.append(
        (
            "unknown_model",
            text_request(["x"], name="nope"),
            grpc.StatusCode.NOT_FOUND,
            "Servable not found for request: Latest(nope)",
        )
    )
    cases.append(
        (
            "unknown_version",
            text_request(["x"], version=7),
            grpc.StatusCode.NOT_FOUND,
            "Servable not found for request: Specific(m, 7)",
        )
    )
    r = text_request(["x"])
    r.model_spec.version_label = "stable"
    cases.append(
        (
            "unknown_label",
            r,
            grpc.StatusCode.INVALID_ARGUMENT,
            "Unrecognized servable version label: stable",
        )
    )
    cases.append(
        (
            "unknown_signature",
            text_request(["x"], signature="nope"),
            grpc.StatusCode.FAILED_PRECONDITION,
            'Serving signature key "nope" not found.',
        )
    )
    r = text_request(["x"])
    del r.inputs["text"]
    cases.append(
        (
            "missing_input",
            r,
            grpc.StatusCode.INVALID_ARGUMENT,
            "input size does not match signature: 0!=1 len({}) != len({text}). "
            "Sent extra: {}. Missing but required: {text}.",
        )
    )
    r = text_request(["x"])
    r.inputs["extra"].CopyFrom(r.inputs["text"])
    cases.append(
        (
            "extra_input",
            r,
            grpc.StatusCode.INVALID_ARGUMENT,
            "input size does not match signature: 2!=1 len({extra,text}) != len({text}). "
            "Sent extra: {extra}. Missing but required: {}.",
        )
    )
    r = predict_pb2.PredictRequest()
    r.model_spec.name = "m"
    r.inputs["txt"].CopyFrom(good.inputs["text"])
    cases.append(
        (
            "wrong_key",
            r,
            grpc.StatusCode.INVALID_ARGUMENT,
            "Signature input alias: text(feed name: serving_default_text:0) not found in "
            "request and no default value provided.",
        )
    )
    r = text_request(["x"])
    r.inputs["text"].CopyFrom(tf.make_tensor_proto([1.0, 2.0], dtype=tf.float32))
    cases.append(
        (
            "wrong_dtype",
            r,
            grpc.StatusCode.INVALID_ARGUMENT,
            "Expects arg[0] to be string but float is provided",
        )
    )
    r = text_request(["x"])
    r.inputs["text"].CopyFrom(tf.make_tensor_proto("good cat", dtype=tf.string))
    cases.append(
        (
            "rank_0",
            r,
            grpc.StatusCode.INVALID_ARGUMENT,
            "Shape of tensor text [] is not compatible with expected shape [?].",
        )
    )
    r = text_request(["x"])
    r.inputs["text"].CopyFrom(tf.make_tensor_proto([["a"], ["b"]], dtype=tf.string))
    cases.append(
        (
            "rank_2",
            r,
            grpc.StatusCode.INVALID_ARGUMENT,
            "Shape of tensor text [2,1] is not compatible with expected shape [?].",
        )
    )
    r = text_request(["x"])
    r.inputs["text"].CopyFrom(tf.make_tensor_proto([1.0, 2.0], dtype=tf.float32))
    r.inputs["text"].dtype = tf.string.as_datatype_enum
    r.inputs["text"].tensor_shape.dim[0].size = 5
    cases.append(("malformed", r, grpc.StatusCode.INVALID_ARGUMENT, "tensor parsing error: text"))
    r = text_request(["x"])
    r.output_filter.append("logits")
    cases.append(
        (
            "bad_filter",
            r,
            grpc.StatusCode.INVALID_ARGUMENT,
            "output tensor alias not found in signature: logits Outputs expected to be in "
            "the set {label,probabilities}.",
        )
    )
    r = text_request(["x"])
    r.output_filter.extend(["label", "label"])
    cases.append(
        (
            "duplicate_filter",
            r,
            grpc.StatusCode.INVALID_ARGUMENT,
            "duplicate output tensor alias: label",
        )
    )
    return cases


@pytest.mark.parametrize("case", _bad_requests(), ids=lambda c: c[0])
def test_predict_errors_match_tf_serving_and_server_keeps_serving(live, case):
    _, stub, _ = live
    _, request, code, message = case
    with pytest.raises(grpc.RpcError) as error:
        stub.Predict(request, timeout=10)
    assert error.value.code() == code
    assert error.value.details().startswith(message), error.value.details()
    assert stub.Predict(text_request(["good"]), timeout=10).outputs["label"].string_val == [
        b"positive"
    ]


def test_get_model_metadata(live):
    _, stub, _ = live
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = "m"
    response = stub.GetModelMetadata(request)
    assert response.model_spec.name == "m" and response.model_spec.version.value == 1
    assert not response.model_spec.signature_name
    any_proto = response.metadata["signature_def"]
    assert any_proto.type_url == "type.googleapis.com/tensorflow.serving.SignatureDefMap"
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    any_proto.Unpack(signature_map)
    assert {"serving_default", "serve_ids", "classify", "__saved_model_init_op"} <= set(
        signature_map.signature_def
    )
    sig = signature_map.signature_def["serving_default"]
    assert sig.inputs["text"].dtype == tf.string.as_datatype_enum
    assert set(sig.outputs) == {"probabilities", "label"}
    for fields, message in (
        ([], "GetModelMetadataRequest must specify at least one metadata_field"),
        (["signature_def", "x"], "Metadata field x is not supported"),
    ):
        bad = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=fields)
        bad.model_spec.name = "m"
        with pytest.raises(grpc.RpcError) as error:
            stub.GetModelMetadata(bad)
        assert (error.value.code(), error.value.details()) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            message,
        )


def test_get_model_status(live):
    _, _, model_stub = live
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "m"
    response = model_stub.GetModelStatus(request)
    [status] = response.model_version_status
    assert (status.version, status.state) == (1, get_model_status_pb2.ModelVersionStatus.AVAILABLE)
    assert status.HasField("status") and status.status.error_code == 0
    request.model_spec.version.value = 9
    with pytest.raises(grpc.RpcError) as error:
        model_stub.GetModelStatus(request)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    assert error.value.details() == "Could not find version 9 of model m"
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "nope"
    with pytest.raises(grpc.RpcError) as error:
        model_stub.GetModelStatus(request)
    assert error.value.details() == "Could not find any versions of model nope"


def test_classify(live):
    _, stub, _ = live
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = "m"
    request.model_spec.signature_name = "classify"
    for x in (0.25, 0.75):
        request.input.example_list.examples.add().features.feature["x"].float_list.value.append(x)
    response = stub.Classify(request)
    assert response.model_spec.version.value == 1
    first = response.result.classifications[0].classes
    assert [c.label for c in first] == ["no", "yes"]
    np.testing.assert_allclose([c.score for c in first], [0.75, 0.25])
    for signature, message in (
        ("", "No classification inputs found in SignatureDef: "),
        ("nope", "No signature was found with the name: nope"),
    ):
        request.model_spec.signature_name = signature
        with pytest.raises(grpc.RpcError) as error:
            stub.Classify(request)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error.value.details().startswith(message)


def test_version_polling_loads_new_and_unloads_old(tmp_path):
    base = str(tmp_path / "m")
    publish_version(base, 1)
    srv = start_server(core.single_model_config("m", base), poll_wait_seconds=0.2)
    try:
        stub, model_stub = stubs(srv.port)
        assert stub.Predict(text_request(["good"])).model_spec.version.value == 1
        publish_version(base, 2, scale=2.0)
        assert wait_for(lambda: stub.Predict(text_request(["good"])).model_spec.version.value == 2)
        response = stub.Predict(text_request(TEXTS))
        np.testing.assert_allclose(
            np.reshape(response.outputs["probabilities"].float_val, (-1, 2)),
            expected_outputs(TEXTS, 2.0)["probabilities"],
            atol=1e-6,
        )
        with pytest.raises(grpc.RpcError) as error:
            stub.Predict(text_request(["good"], version=1))
        assert error.value.code() == grpc.StatusCode.NOT_FOUND
        states = {
            s.version: s.state
            for s in model_stub.GetModelStatus(
                get_model_status_pb2.GetModelStatusRequest(model_spec={"name": "m"})
            ).model_version_status
        }
        assert states == {
            2: get_model_status_pb2.ModelVersionStatus.AVAILABLE,
            1: get_model_status_pb2.ModelVersionStatus.END,
        }
        shutil.rmtree(os.path.join(base, "2"))
        assert wait_for(lambda: stub.Predict(text_request(["good"])).model_spec.version.value == 1)
        assert wait_for(lambda: not srv.manager._servables["m"].get(2))
    finally:
        srv.stop()


def test_multi_model_config_file_with_labels(tmp_path):
    publish_version(str(tmp_path / "a"), 1)
    publish_version(str(tmp_path / "a"), 2, scale=2.0)
    publish_version(str(tmp_path / "b"), 5, scale=2.0)
    config_file = tmp_path / "models.config"
    config_file.write_text(f"""
model_config_list {{
  config {{ name: "a" base_path: "{tmp_path / "a"}" model_platform: "tensorflow"
           model_version_policy {{ all {{}} }}
           version_labels {{ key: "stable" value: 1 }} }}
  config {{ name: "b" base_path: "{tmp_path / "b"}" model_platform: "tensorflow" }}
}}""")
    srv = start_server(core.parse_model_config_file(str(config_file)))
    try:
        stub, _ = stubs(srv.port)
        assert stub.Predict(text_request(["good"], name="a")).model_spec.version.value == 2
        assert (
            stub.Predict(text_request(["good"], name="a", version=1)).model_spec.version.value == 1
        )
        request = text_request(["good"], name="a")
        request.model_spec.version_label = "stable"
        assert stub.Predict(request).model_spec.version.value == 1
        assert stub.Predict(text_request(["good"], name="b")).model_spec.version.value == 5
        # HandleReloadConfigRequest: the new list replaces the old one; "a" is unloaded.
        _, model_stub = stubs(srv.port)
        reload = model_management_pb2.ReloadConfigRequest()
        reload.config.CopyFrom(core.single_model_config("b", str(tmp_path / "b")))
        assert model_stub.HandleReloadConfigRequest(reload).status.error_code == 0
        with pytest.raises(grpc.RpcError) as error:
            stub.Predict(text_request(["good"], name="a"))
        assert error.value.details() == "Servable not found for request: Latest(a)"
        reload.config.model_config_list.config.add().CopyFrom(
            reload.config.model_config_list.config[0]
        )
        with pytest.raises(grpc.RpcError) as error:
            model_stub.HandleReloadConfigRequest(reload)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error.value.details() == "Illegal to list model b multiple times in config list"
    finally:
        srv.stop()


def test_config_validation_errors(tmp_path):
    config = core.single_model_config("m", str(tmp_path))
    config.model_config_list.config.add().CopyFrom(config.model_config_list.config[0])
    with pytest.raises(core.ServingError, match="Illegal to list model m multiple times"):
        core.validate_config(config)
    config = text_format.Parse(
        'model_config_list { config { name: "m" base_path: "rel" } }',
        core.single_model_config("x", "/").__class__(),
    )
    with pytest.raises(core.ServingError, match="absolute path or URI"):
        core.validate_config(config)


def test_batching_merges_concurrent_requests(tmp_path):
    base = str(tmp_path / "m")
    publish_version(base, 1)
    params = BatchingParameters(max_batch_size=8, batch_timeout_micros=200_000)
    srv = start_server(core.single_model_config("m", base), batching=params)
    try:
        stub, _ = stubs(srv.port)
        results = [None] * len(TEXTS)

        def call(i):
            results[i] = stub.Predict(text_request([TEXTS[i]]), timeout=20)

        threads = [threading.Thread(target=call, args=(i,)) for i in range(len(TEXTS))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        expected = expected_outputs(TEXTS)
        for i, response in enumerate(results):
            np.testing.assert_allclose(
                response.outputs["probabilities"].float_val, expected["probabilities"][i], atol=1e-6
            )
            assert response.outputs["label"].string_val == [expected["label"][i]]
        summary = srv.stats.summary()
        assert summary["requests"] == len(TEXTS)
        assert summary["batches"] < len(TEXTS)  # merged
        with pytest.raises(grpc.RpcError) as error:
            stub.Predict(text_request(["good"] * 9))
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error.value.details() == "Task size 9 is larger than maximum input batch size 8"
        request = text_request(["x"])
        request.inputs["text"].CopyFrom(tf.make_tensor_proto("good", dtype=tf.string))
        with pytest.raises(grpc.RpcError) as error:
            stub.Predict(request)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "qps=" in srv.stats.log_line() and "p99=" in srv.stats.log_line()
    finally:
        srv.stop()


def test_parse_batching_parameters(tmp_path):
    path = tmp_path / "batching.config"
    path.write_text(
        "max_batch_size { value: 32 }\nbatch_timeout_micros { value: 2000 }\n"
        "num_batch_threads { value: 4 }  # comment\nallowed_batch_sizes: 32\n"
    )
    params = parse_batching_parameters(str(path))
    assert (
        params.max_batch_size,
        params.batch_timeout_micros,
        params.num_batch_threads,
        params.max_enqueued_batches,
    ) == (32, 2000, 4, 10)
    path.write_text("max_batch_size { value: 0 }")
    with pytest.raises(ValueError, match="max_batch_size"):
        parse_batching_parameters(str(path))


def _kernel_parse(proto):
    return tf.io.parse_tensor(proto.SerializeToString(), out_type=tf.as_dtype(proto.dtype)).numpy()


@pytest.mark.parametrize(
    "values, dtype",
    [
        ([[b"a", "中文".encode()], [b"", b"\xff\xfe"]], object),
        ([b"one"], object),
        ([], object),
        ([[1.5, -2.25, 3e-8]], np.float32),
        ([[7, -8], [2**31 - 1, -(2**31)]], np.int32),
        ([2**40, -3], np.int64),
        (True, np.bool_),  # no direct path: the kernel
    ],
)
def test_parse_tensor_reads_typed_fields_as_the_kernel_does(values, dtype):
    proto = to_proto(np.array(values, dtype=dtype))  # typed fields, as clients send
    got, want = parse_tensor(proto, "x"), _kernel_parse(proto)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_parse_tensor_leaves_other_protos_to_the_kernel():
    packed = tf.make_tensor_proto(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert packed.tensor_content
    np.testing.assert_array_equal(parse_tensor(packed, "x"), np.arange(6).reshape(2, 3))
    short = tf.make_tensor_proto([b"a", b"b"], dtype=tf.string)
    short.tensor_shape.dim[0].size = 4  # fewer values than elements: the last one repeats
    np.testing.assert_array_equal(parse_tensor(short, "x"), [b"a", b"b", b"b", b"b"])
    negative = tf.make_tensor_proto([b"a"], dtype=tf.string)
    negative.tensor_shape.dim[0].size = -1
    with pytest.raises(tf.errors.InvalidArgumentError):
        _kernel_parse(negative)
    with pytest.raises(core.ServingError, match="tensor parsing error: x"):
        parse_tensor(negative, "x")
    huge = tf.make_tensor_proto(np.zeros([2, 3, 0], np.float32))
    huge.ClearField("tensor_content")
    for dim, size in zip(huge.tensor_shape.dim, (2**62, 2**62, 0)):
        dim.size = size  # no values, but a shape no tensor may have
    with pytest.raises(core.ServingError, match="tensor parsing error: x"):
        parse_tensor(huge, "x")
    scalar = tf.make_tensor_proto(b"a", dtype=tf.string)
    scalar.string_val.append(b"b")  # two values for a scalar: the kernel's case
    got = parse_tensor(scalar, "x")
    assert isinstance(got, np.ndarray) and got.shape == () and got.dtype == object


def test_scalar_string_through_the_kernel_is_invalid_argument(live):
    _, predict_stub, _ = live
    request = text_request(["good"])
    request.inputs["text"].CopyFrom(tf.make_tensor_proto(b"a", dtype=tf.string))
    request.inputs["text"].string_val.append(b"b")
    with pytest.raises(grpc.RpcError) as error:
        predict_stub.Predict(request, timeout=20)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "is not compatible with expected shape" in error.value.details()


def _write_warmup(version_dir, requests):
    path = os.path.join(version_dir, warmup.WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for request in requests:
            log = prediction_log_pb2.PredictionLog()
            log.predict_log.request.CopyFrom(request)
            writer.write(log.SerializeToString())
    return path


def test_warmup_replays_each_record_against_the_loading_version(tmp_path):
    base = str(tmp_path / "m")
    publish_version(base, 1)
    version_dir = os.path.join(base, "1")
    # Model name and version in a record are ignored; the loading version answers.
    path = _write_warmup(version_dir, [text_request(["good"], name="other", version=7)] * 2)
    servable = core.Servable("m", 1, version_dir)
    runs = []
    run = servable.run
    servable.run = lambda name, feeds: runs.append(name) or run(name, feeds)
    assert warmup.run_warmup(servable, iterations=3) == 2
    assert runs == ["serving_default"] * 6
    os.remove(path)
    assert warmup.run_warmup(servable) == 0  # no file, nothing to replay


def test_a_failing_warmup_record_fails_the_load(tmp_path):
    base = str(tmp_path / "m")
    publish_version(base, 1)
    bad = text_request(["good"])
    bad.inputs["extra"].CopyFrom(bad.inputs["text"])
    path = _write_warmup(os.path.join(base, "1"), [bad])
    config = core.single_model_config("m", base)
    with pytest.raises(core.ServingError, match="input size does not match signature"):
        start_server(config)
    srv = start_server(config, warmup_iterations=0)  # --enable_model_warmup=false
    try:
        predict_stub, _ = stubs(srv.port)
        response = predict_stub.Predict(text_request(["good"]), timeout=20)
        assert response.model_spec.version.value == 1
    finally:
        srv.stop()
    with open(path, "wb") as f:
        f.write(b"not a tfrecord file at all")
    with pytest.raises(core.ServingError, match="verify your warmup data is in TFRecord"):
        start_server(config)
