"""Small SavedModels in TF Serving layout and a live `export.server` for the serving tests.

The models are built here: a tf.Module whose `serving_default` tokenizes `text` with
tf-text's FastBertTokenizer (guarded by `tf.ensure_shape(text, [None])`) and returns
`probabilities` float32 [batch, 2] and `label` string [batch]; `serve_ids` takes int32 ids;
`classify` is a Classify-shaped signature (serialized tf.Examples -> classes, scores).
"""

import functools
import os
import shutil
import tempfile
import time

import grpc
import tensorflow as tf
import tensorflow_text as tf_text
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import (
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from export import server

VOCAB = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "the",
    "cat",
    "sat",
    "on",
    "mat",
    "dog",
    "##s",
    "good",
    "bad",
]
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
        return {
            "classes": tf.broadcast_to(tf.constant([["no", "yes"]]), tf.shape(scores)),
            "scores": scores,
        }


@functools.cache
def saved_model_template(scale):
    """Writes (once per process) the tiny model with `scale` and returns its directory."""
    path = os.path.join(tempfile.mkdtemp(prefix="tfbert_srv_"), "model")
    module = TinyClassifier(scale)
    tf.saved_model.save(
        module,
        path,
        signatures={
            "serving_default": module.serve_text,
            "serve_ids": module.serve_ids,
            "classify": module.classify,
        },
    )
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
    return (
        prediction_service_pb2_grpc.PredictionServiceStub(channel),
        model_service_pb2_grpc.ModelServiceStub(channel),
    )


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
