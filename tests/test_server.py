"""export.server against small SavedModels in TF Serving layout (no BERT needed).

The models are built here: a tf.Module whose `serving_default` tokenizes `text` with
tf-text's FastBertTokenizer (guarded by `tf.ensure_shape(text, [None])`) and returns
`probabilities` float32 [batch, 2] and `label` string [batch]; `serve_ids` takes int32 ids;
`classify` is a Classify-shaped signature (serialized tf.Examples -> classes, scores).
"""

import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import grpc
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text as tf_text
from google.protobuf import text_format
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import (classification_pb2, get_model_metadata_pb2,
                                     get_model_status_pb2, model_management_pb2,
                                     model_service_pb2_grpc, predict_pb2,
                                     prediction_service_pb2_grpc)

from export import op_audit, server, serving_core
from export.batching import BatchingParameters, parse_batching_parameters

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "cat", "sat", "on", "mat", "dog", "##s",
         "good", "bad"]
TEXTS = ["good cat", "bad dogs bad", "the mat", "good good bad", "", "cats sat on the mat"]
MAIN = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class TinyClassifier(tf.Module):
  """Counts "good"/"bad" word pieces; `scale` makes versions give different outputs."""

  def __init__(self, scale):
    super().__init__()
    self.tokenizer = tf_text.FastBertTokenizer(VOCAB, token_out_type=tf.int32)
    self.scale = tf.Variable(float(scale))

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
  def serve_text(self, text):
    text = tf.ensure_shape(text, [None])  # a scalar must never reach the tf-text kernels
    ids = self.tokenizer.tokenize(text)  # ragged [batch, (pieces)]
    good = tf.reduce_sum(tf.cast(tf.equal(ids, 11), tf.float32), axis=-1)
    bad = tf.reduce_sum(tf.cast(tf.equal(ids, 12), tf.float32), axis=-1)
    probabilities = tf.nn.softmax(tf.stack([bad, good], axis=-1) * self.scale)  # [batch, 2]
    label = tf.where(probabilities[:, 1] > probabilities[:, 0], "positive", "negative")
    return {"probabilities": probabilities, "label": label}

  @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32, name="ids")])
  def serve_ids(self, ids):
    return {"total": tf.reduce_sum(ids, axis=-1) * tf.cast(self.scale, tf.int32)}

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
  def classify(self, inputs):
    x = tf.io.parse_example(inputs, {"x": tf.io.FixedLenFeature([], tf.float32)})["x"]
    scores = tf.stack([1.0 - x, x], axis=-1) * self.scale
    return {"classes": tf.broadcast_to(tf.constant([["no", "yes"]]), tf.shape(scores)),
            "scores": scores}


@functools.lru_cache(maxsize=None)
def saved_model_template(scale):
  """Writes (once per process) the tiny model with `scale` and returns its directory."""
  path = os.path.join(tempfile.mkdtemp(prefix="tfbert_srv_"), "model")
  module = TinyClassifier(scale)
  tf.saved_model.save(module, path, signatures={
      "serving_default": module.serve_text, "serve_ids": module.serve_ids,
      "classify": module.classify})
  return path


def publish_version(base_path, version, scale=1.0):
  """Copies a template to `base_path/<version>` atomically (rename of a non-numeric dir)."""
  os.makedirs(base_path, exist_ok=True)
  staging = os.path.join(base_path, f".tmp-{version}")
  shutil.copytree(saved_model_template(scale), staging)
  os.rename(staging, os.path.join(base_path, str(version)))


def add_bogus_op(version_dir, op_type="TfbertNoSuchOp"):
  """Adds a node of an op type no binary has to the graph of a SavedModel."""
  path = os.path.join(version_dir, "saved_model.pb")
  proto = saved_model_pb2.SavedModel()
  with open(path, "rb") as f:
    proto.ParseFromString(f.read())
  proto.meta_graphs[0].graph_def.node.add(name="bogus", op=op_type)
  with open(path, "wb") as f:
    f.write(proto.SerializeToString())


def start_server(config, **kwargs):
  kwargs.setdefault("poll_wait_seconds", -1)
  kwargs.setdefault("stats_interval_seconds", 0)
  return server.ModelServer(config, port=0, **kwargs).start()


def stubs(port):
  channel = grpc.insecure_channel(f"127.0.0.1:{port}")
  return (prediction_service_pb2_grpc.PredictionServiceStub(channel),
          model_service_pb2_grpc.ModelServiceStub(channel))


def text_request(texts, name="m", version=None, signature=""):
  request = predict_pb2.PredictRequest()
  request.model_spec.name = name
  request.model_spec.signature_name = signature
  if version is not None:
    request.model_spec.version.value = version
  request.inputs["text"].CopyFrom(tf.make_tensor_proto(texts, dtype=tf.string))
  return request


def expected_outputs(texts, scale=1.0):
  loaded = tf.saved_model.load(saved_model_template(scale))
  out = loaded.signatures["serving_default"](text=tf.constant(texts, tf.string))
  return {k: v.numpy() for k, v in out.items()}


def wait_for(predicate, timeout=15.0):
  deadline = time.monotonic() + timeout
  while time.monotonic() < deadline:
    if predicate():
      return True
    time.sleep(0.1)
  return False


@pytest.fixture(scope="module")
def live():
  base = os.path.join(tempfile.mkdtemp(prefix="tfbert_live_"), "m")
  publish_version(base, 1)
  os.makedirs(os.path.join(base, "tmp-upload"))  # not a version: ignored
  srv = start_server(serving_core.single_model_config("m", base))
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
  np.testing.assert_allclose(np.reshape(probs.float_val, (-1, 2)), expected["probabilities"],
                             atol=1e-6)
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
  cases.append(("empty_name", text_request(["x"], name=""), grpc.StatusCode.INVALID_ARGUMENT,
                "ModelSpec has no name specified."))
  cases.append(("unknown_model", text_request(["x"], name="nope"), grpc.StatusCode.NOT_FOUND,
                "Servable not found for request: Latest(nope)"))
  cases.append(("unknown_version", text_request(["x"], version=7), grpc.StatusCode.NOT_FOUND,
                "Servable not found for request: Specific(m, 7)"))
  r = text_request(["x"])
  r.model_spec.version_label = "stable"
  cases.append(("unknown_label", r, grpc.StatusCode.INVALID_ARGUMENT,
                "Unrecognized servable version label: stable"))
  cases.append(("unknown_signature", text_request(["x"], signature="nope"),
                grpc.StatusCode.FAILED_PRECONDITION, 'Serving signature key "nope" not found.'))
  r = text_request(["x"])
  del r.inputs["text"]
  cases.append(("missing_input", r, grpc.StatusCode.INVALID_ARGUMENT,
                "input size does not match signature: 0!=1 len({}) != len({text}). "
                "Sent extra: {}. Missing but required: {text}."))
  r = text_request(["x"])
  r.inputs["extra"].CopyFrom(r.inputs["text"])
  cases.append(("extra_input", r, grpc.StatusCode.INVALID_ARGUMENT,
                "input size does not match signature: 2!=1 len({extra,text}) != len({text}). "
                "Sent extra: {extra}. Missing but required: {}."))
  r = predict_pb2.PredictRequest()
  r.model_spec.name = "m"
  r.inputs["txt"].CopyFrom(good.inputs["text"])
  cases.append(("wrong_key", r, grpc.StatusCode.INVALID_ARGUMENT,
                "Signature input alias: text(feed name: serving_default_text:0) not found in "
                "request and no default value provided."))
  r = text_request(["x"])
  r.inputs["text"].CopyFrom(tf.make_tensor_proto([1.0, 2.0], dtype=tf.float32))
  cases.append(("wrong_dtype", r, grpc.StatusCode.INVALID_ARGUMENT,
                "Expects arg[0] to be string but float is provided"))
  r = text_request(["x"])
  r.inputs["text"].CopyFrom(tf.make_tensor_proto("good cat", dtype=tf.string))
  cases.append(("rank_0", r, grpc.StatusCode.INVALID_ARGUMENT,
                "Shape of tensor text [] is not compatible with expected shape [?]."))
  r = text_request(["x"])
  r.inputs["text"].CopyFrom(tf.make_tensor_proto([["a"], ["b"]], dtype=tf.string))
  cases.append(("rank_2", r, grpc.StatusCode.INVALID_ARGUMENT,
                "Shape of tensor text [2,1] is not compatible with expected shape [?]."))
  r = text_request(["x"])
  r.inputs["text"].CopyFrom(tf.make_tensor_proto([1.0, 2.0], dtype=tf.float32))
  r.inputs["text"].dtype = tf.string.as_datatype_enum
  r.inputs["text"].tensor_shape.dim[0].size = 5
  cases.append(("malformed", r, grpc.StatusCode.INVALID_ARGUMENT, "tensor parsing error: text"))
  r = text_request(["x"])
  r.output_filter.append("logits")
  cases.append(("bad_filter", r, grpc.StatusCode.INVALID_ARGUMENT,
                "output tensor alias not found in signature: logits Outputs expected to be in "
                "the set {label,probabilities}."))
  r = text_request(["x"])
  r.output_filter.extend(["label", "label"])
  cases.append(("duplicate_filter", r, grpc.StatusCode.INVALID_ARGUMENT,
                "duplicate output tensor alias: label"))
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
      b"positive"]


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
      signature_map.signature_def)
  sig = signature_map.signature_def["serving_default"]
  assert sig.inputs["text"].dtype == tf.string.as_datatype_enum
  assert set(sig.outputs) == {"probabilities", "label"}
  for fields, message in (([], "GetModelMetadataRequest must specify at least one metadata_field"),
                          (["signature_def", "x"], "Metadata field x is not supported")):
    bad = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=fields)
    bad.model_spec.name = "m"
    with pytest.raises(grpc.RpcError) as error:
      stub.GetModelMetadata(bad)
    assert (error.value.code(), error.value.details()) == (grpc.StatusCode.INVALID_ARGUMENT,
                                                           message)


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
  for signature, message in (("", "No classification inputs found in SignatureDef: "),
                             ("nope", "No signature was found with the name: nope")):
    request.model_spec.signature_name = signature
    with pytest.raises(grpc.RpcError) as error:
      stub.Classify(request)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith(message)


def test_version_polling_loads_new_and_unloads_old(tmp_path):
  base = str(tmp_path / "m")
  publish_version(base, 1)
  srv = start_server(serving_core.single_model_config("m", base), poll_wait_seconds=0.2)
  try:
    stub, model_stub = stubs(srv.port)
    assert stub.Predict(text_request(["good"])).model_spec.version.value == 1
    publish_version(base, 2, scale=2.0)
    assert wait_for(lambda: stub.Predict(text_request(["good"])).model_spec.version.value == 2)
    response = stub.Predict(text_request(TEXTS))
    np.testing.assert_allclose(np.reshape(response.outputs["probabilities"].float_val, (-1, 2)),
                               expected_outputs(TEXTS, 2.0)["probabilities"], atol=1e-6)
    with pytest.raises(grpc.RpcError) as error:
      stub.Predict(text_request(["good"], version=1))
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    states = {s.version: s.state for s in model_stub.GetModelStatus(
        get_model_status_pb2.GetModelStatusRequest(model_spec={"name": "m"})).model_version_status}
    assert states == {2: get_model_status_pb2.ModelVersionStatus.AVAILABLE,
                      1: get_model_status_pb2.ModelVersionStatus.END}
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
  config {{ name: "a" base_path: "{tmp_path / 'a'}" model_platform: "tensorflow"
           model_version_policy {{ all {{}} }}
           version_labels {{ key: "stable" value: 1 }} }}
  config {{ name: "b" base_path: "{tmp_path / 'b'}" model_platform: "tensorflow" }}
}}""")
  srv = start_server(serving_core.parse_model_config_file(str(config_file)))
  try:
    stub, _ = stubs(srv.port)
    assert stub.Predict(text_request(["good"], name="a")).model_spec.version.value == 2
    assert stub.Predict(text_request(["good"], name="a", version=1)).model_spec.version.value == 1
    request = text_request(["good"], name="a")
    request.model_spec.version_label = "stable"
    assert stub.Predict(request).model_spec.version.value == 1
    assert stub.Predict(text_request(["good"], name="b")).model_spec.version.value == 5
    # HandleReloadConfigRequest: the new list replaces the old one; "a" is unloaded.
    _, model_stub = stubs(srv.port)
    reload = model_management_pb2.ReloadConfigRequest()
    reload.config.CopyFrom(serving_core.single_model_config("b", str(tmp_path / "b")))
    assert model_stub.HandleReloadConfigRequest(reload).status.error_code == 0
    with pytest.raises(grpc.RpcError) as error:
      stub.Predict(text_request(["good"], name="a"))
    assert error.value.details() == "Servable not found for request: Latest(a)"
    reload.config.model_config_list.config.add().CopyFrom(reload.config.model_config_list.config[0])
    with pytest.raises(grpc.RpcError) as error:
      model_stub.HandleReloadConfigRequest(reload)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details() == "Illegal to list model b multiple times in config list"
  finally:
    srv.stop()


def test_config_validation_errors(tmp_path):
  config = serving_core.single_model_config("m", str(tmp_path))
  config.model_config_list.config.add().CopyFrom(config.model_config_list.config[0])
  with pytest.raises(serving_core.ServingError, match="Illegal to list model m multiple times"):
    serving_core.validate_config(config)
  config = text_format.Parse('model_config_list { config { name: "m" base_path: "rel" } }',
                             serving_core.single_model_config("x", "/").__class__())
  with pytest.raises(serving_core.ServingError, match="absolute path or URI"):
    serving_core.validate_config(config)


def test_batching_merges_concurrent_requests(tmp_path):
  base = str(tmp_path / "m")
  publish_version(base, 1)
  params = BatchingParameters(max_batch_size=8, batch_timeout_micros=200_000)
  srv = start_server(serving_core.single_model_config("m", base), batching=params)
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
      np.testing.assert_allclose(response.outputs["probabilities"].float_val,
                                 expected["probabilities"][i], atol=1e-6)
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
  path.write_text("max_batch_size { value: 32 }\nbatch_timeout_micros { value: 2000 }\n"
                  "num_batch_threads { value: 4 }  # comment\nallowed_batch_sizes: 32\n")
  params = parse_batching_parameters(str(path))
  assert (params.max_batch_size, params.batch_timeout_micros, params.num_batch_threads,
          params.max_enqueued_batches) == (32, 2000, 4, 10)
  path.write_text("max_batch_size { value: 0 }")
  with pytest.raises(ValueError, match="max_batch_size"):
    parse_batching_parameters(str(path))


def test_op_audit_refuses_unknown_op(tmp_path):
  assert op_audit.audit(saved_model_template(1.0), target="tf_serving") == []
  base = str(tmp_path / "m")
  publish_version(base, 1)
  add_bogus_op(os.path.join(base, "1"))
  assert op_audit.audit(os.path.join(base, "1")) == ["TfbertNoSuchOp"]
  with pytest.raises(op_audit.MissingOpsError, match="TfbertNoSuchOp"):
    op_audit.check(os.path.join(base, "1"))
  with pytest.raises(serving_core.ServingError, match="did not become available.*TfbertNoSuchOp"):
    start_server(serving_core.single_model_config("m", base))


def test_failed_new_version_keeps_old_serving(tmp_path):
  base = str(tmp_path / "m")
  publish_version(base, 1)
  srv = start_server(serving_core.single_model_config("m", base))
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
      [sys.executable, "-m", "export.server", f"--port={port}", "--model_name=m",
       f"--model_base_path={base}", "--enable_batching", "--file_system_poll_wait_seconds=-1"],
      cwd=MAIN, stderr=subprocess.PIPE, text=True,
      env=dict(os.environ, PYTHONPATH=MAIN, TF_CPP_MIN_LOG_LEVEL="3"))
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
  import json
  import urllib.error
  import urllib.request
  data = None if body is None else json.dumps(body).encode()
  request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data,
                                   method="GET" if body is None else "POST")
  try:
    with urllib.request.urlopen(request, timeout=20) as response:
      return response.status, json.loads(response.read())
  except urllib.error.HTTPError as e:
    return e.code, json.loads(e.read())


def test_rest_api(tmp_path):
  base = str(tmp_path / "m")
  publish_version(base, 1)
  srv = start_server(serving_core.single_model_config("m", base), rest_api_port=_free_port())
  try:
    port = srv.rest_port
    expected = expected_outputs(TEXTS[:2])
    code, body = _http(port, "/v1/models/m:predict", {"instances": TEXTS[:2]})
    assert code == 200 and [p["label"] for p in body["predictions"]] == ["positive", "negative"]
    np.testing.assert_allclose([p["probabilities"] for p in body["predictions"]],
                               expected["probabilities"], atol=1e-6)
    code, body = _http(port, "/v1/models/m/versions/1:predict",
                       {"signature_name": "serving_default", "inputs": {"text": TEXTS[:2]}})
    assert code == 200 and body["outputs"]["label"] == ["positive", "negative"]
    code, body = _http(port, "/v1/models/m:predict", {"inputs": []})
    assert code == 200 and body["outputs"]["probabilities"] == []
    code, body = _http(port, "/v1/models/m:predict",
                       {"signature_name": "serve_ids", "instances": [[1, 2], [3, 4]]})
    assert (code, body) == (200, {"predictions": [3, 7]})
    for path, request, status, message in [
        ("/v1/models/nope:predict", {"instances": ["x"]}, 404,
         "Servable not found for request: Latest(nope)"),
        ("/v1/models/m/versions/4:predict", {"instances": ["x"]}, 404,
         "Servable not found for request: Specific(m, 4)"),
        ("/v1/models/m:predict", {"signature_name": "x", "instances": ["x"]}, 400,
         'Serving signature name: "x" not found in signature def'),
        ("/v1/models/m:predict", {"instances": []}, 400, "No values in 'instances' array"),
        ("/v1/models/m:predict", {"instances": [1.5]}, 400, "is not of expected type: string"),
        ("/v1/models/m:predict", {"inputs": "good"}, 400, "Shape of tensor text []"),
        ("/v1/foo", {"instances": ["x"]}, 400, "Malformed request: POST /v1/foo")]:
      code, body = _http(port, path, request)
      assert code == status and message in body["error"], (path, code, body)
    code, body = _http(port, "/v1/models/m")
    assert (code, body) == (200, {"model_version_status": [{
        "version": "1", "state": "AVAILABLE", "status": {"error_code": "OK",
                                                         "error_message": ""}}]})
    code, body = _http(port, "/v1/models/m/metadata")
    assert code == 200 and body["model_spec"] == {"name": "m", "version": "1"}
    assert "serving_default" in body["metadata"]["signature_def"]["signature_def"]
  finally:
    srv.stop()


def test_main_rejects_bad_flag_combinations(tmp_path, monkeypatch):
  from absl import app, flags
  flag_values = flags.FlagValues()
  server.define_flags(flag_values)
  monkeypatch.setattr(server, "_FLAGS", flag_values)
  flag_values(["server", f"--model_base_path={tmp_path}",
               f"--batching_parameters_file={tmp_path}/b"])
  with pytest.raises(app.UsageError, match="--batching_parameters_file=.* needs "
                     "--enable_batching"):
    server.main(["server"])
  flag_values.unparse_flags()
  flag_values(["server", "--port=8600", "--rest_api_port=8600", "--model_base_path=/x"])
  with pytest.raises(app.UsageError, match="--rest_api_port=8600 must differ from --port=8600"):
    server.main(["server"])
  flag_values.unparse_flags()
  flag_values(["server"])
  with pytest.raises(app.UsageError, match="--model_base_path"):
    server.main(["server"])
