"""export.saved_model: the TF Serving layout, the signatures, and parity Keras = SavedModel = gRPC.

Runs are tiny untrained task models with odd sizes (tests/export_fixtures.py); the server is
`export.server` in this process on a free 127.0.0.1 port.
"""

import json
import os
import subprocess
import sys

import grpc
import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text  # noqa: F401
from google.protobuf import text_format
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2, prediction_service_pb2_grpc
from tensorflow_serving.config import model_server_config_pb2

from export import client, saved_model, server, warmup
from export.serving import core as serving_core
from tests import export_fixtures as fx

MAIN = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EDGE_TEXTS = [b"", ("long words and more " * 150).encode(), b"\xff\xfe bad \xc3(", b"ok"]


def keras_reference(model_dir, texts, pairs=None):
    """Probabilities straight from the Keras model, tokenized and packed outside any export."""
    from tfbert.tokenization import BertTokenizer, pack_inputs
    from tfbert.training.run_dir import load_run
    model, vocab_file, info = load_run(model_dir)
    tok = BertTokenizer(vocab_file)
    second = tok.tokenize(tf.constant(pairs)) if pairs is not None else None
    inputs = pack_inputs(tok.tokenize(tf.constant(texts)), info["max_seq_length"], tok.cls_id,
                         tok.sep_id, tok.pad_id, second=second)
    return keras.ops.convert_to_numpy(keras.ops.softmax(model(inputs, training=False)))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Tiny classifier, NER and QA runs exported under one base with a models.config."""
    root = tmp_path_factory.mktemp("export")
    base = str(root / "models")
    runs, dirs = {}, {}
    for task in ("classification", "ner", "squad"):
        runs[task] = fx.tiny_run(str(root / "runs" / task), task)
        dirs[task] = saved_model.export_saved_model(runs[task], base, model_name=task)
    return base, runs, dirs


@pytest.fixture(scope="module")
def live(exported):
    base = exported[0]
    config = serving_core.parse_model_config_file(os.path.join(base, "models.config"))
    srv = server.ModelServer(config, port=0, poll_wait_seconds=-1,
                             stats_interval_seconds=0).start()
    channel = grpc.insecure_channel(f"127.0.0.1:{srv.port}")
    yield prediction_service_pb2_grpc.PredictionServiceStub(channel)
    channel.close()
    srv.stop()


def grpc_predict(stub, model_name, inputs, signature="serving_default"):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(client.string_tensor_proto(value))
    return client.decode_outputs(stub.Predict(request, timeout=60))


def test_layout_assets_config_and_warmup(exported):
    base, runs, dirs = exported
    version_dir = dirs["classification"]
    assert version_dir == os.path.join(base, "classification", "1")
    assert not [n for n in os.listdir(os.path.dirname(version_dir)) if n.startswith(".tmp")]
    extra = os.path.join(version_dir, "assets.extra")
    assert open(os.path.join(extra, "labels.txt")).read().split() == ["neg", "neutral", "pos"]
    assert open(os.path.join(extra, "vocab.txt")).read().split() == fx.VOCAB
    info = json.load(open(os.path.join(extra, "export_info.json")))
    assert info["normalizer"] == "fast" and info["max_seq_length"] == fx.MAX_SEQ_LENGTH

    config = model_server_config_pb2.ModelServerConfig()
    text_format.Parse(open(os.path.join(base, "models.config")).read(), config)
    entries = {c.name: c for c in config.model_config_list.config}
    assert set(entries) == {"classification", "ner", "squad"}
    assert entries["ner"].base_path == os.path.abspath(os.path.join(base, "ner"))
    assert entries["ner"].model_platform == "tensorflow"

    loaded = tf.saved_model.load(version_dir)
    logs = []
    for record in tf.data.TFRecordDataset(os.path.join(version_dir, warmup.WARMUP_FILE)):
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        request = log.predict_log.request
        feeds = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        loaded.signatures[request.model_spec.signature_name](**feeds)  # replays without error
        logs.append(request.model_spec.signature_name)
    assert logs == ["serving_default", "serving_default", "serve_ids"]


def test_signatures_names_shapes_dtypes(exported):
    dirs = exported[2]
    # Entity slots: at least max_seq_length - 2, more when a long text has more entities.
    windows = {"num_windows": (tf.int32, [None]), "truncated": (tf.bool, [None])}
    expected = {
        "classification": ({"text"}, {"probabilities": (tf.float32, [None, 3]),
                                      "label": (tf.string, [None]),
                                      "truncated": (tf.bool, [None])}),
        "ner": ({"text"}, {name: (dtype, [None, None]) for name, dtype in
                           [("entity_type", tf.string), ("entity_text", tf.string),
                            ("entity_start", tf.int32), ("entity_end", tf.int32)]}
                | {"num_entities": (tf.int32, [None])} | windows),
        "squad": ({"question", "context"}, {"answer": (tf.string, [None]),
                                            "start": (tf.int32, [None]),
                                            "end": (tf.int32, [None]),
                                            "score": (tf.float32, [None])} | windows),
    }
    for task, (inputs, outputs) in expected.items():
        signatures = tf.saved_model.load(dirs[task]).signatures
        sig = signatures["serving_default"]
        specs = sig.structured_input_signature[1]
        assert set(specs) == inputs and all(s.shape.as_list() == [None] for s in specs.values())
        got = {k: (v.dtype, v.shape.as_list()) for k, v in sig.structured_outputs.items()}
        assert got == outputs, task
        ids = signatures["serve_ids"].structured_input_signature[1]
        assert {k: v.shape.as_list() for k, v in ids.items()} == {
            k: [None, fx.MAX_SEQ_LENGTH] for k in ("token_ids", "segment_ids", "padding_mask")}


def test_classifier_keras_savedmodel_grpc_agree(exported, live):
    base, runs, dirs = exported
    expected = keras_reference(runs["classification"], fx.TEXTS)
    labels = np.array([b"neg", b"neutral", b"pos"])[expected.argmax(-1)]
    sig = tf.saved_model.load(dirs["classification"]).signatures["serving_default"]
    local = sig(text=tf.constant(fx.TEXTS))
    np.testing.assert_allclose(local["probabilities"].numpy(), expected, atol=1e-5, rtol=0)
    np.testing.assert_array_equal(local["label"].numpy(), labels)
    remote = grpc_predict(live, "classification", {"text": fx.TEXTS})
    np.testing.assert_allclose(remote["probabilities"], expected, atol=1e-5, rtol=0)
    np.testing.assert_array_equal(remote["label"], labels)


def test_serve_ids_matches_keras(exported):
    from tfbert.training.run_dir import load_run
    runs, dirs = exported[1], exported[2]
    model = load_run(runs["squad"])[0]
    rng = np.random.default_rng(3)
    inputs = {"token_ids": rng.integers(0, len(fx.VOCAB), (3, fx.MAX_SEQ_LENGTH), np.int32),
              "segment_ids": np.zeros((3, fx.MAX_SEQ_LENGTH), np.int32),
              "padding_mask": np.ones((3, fx.MAX_SEQ_LENGTH), np.int32)}
    got = tf.saved_model.load(dirs["squad"]).signatures["serve_ids"](**inputs)
    want = model(inputs, training=False)
    for key in ("start_logits", "end_logits"):
        np.testing.assert_allclose(got[key].numpy(), np.asarray(want[key]), atol=1e-5, rtol=0)


def test_ner_over_grpc_spans_point_into_text(exported, live):
    texts = ["John Smith lives in New York, not Paris!", "今天天气很好", ""]
    out = grpc_predict(live, "ner", {"text": texts})
    local = tf.saved_model.load(exported[2]["ner"]).signatures["serving_default"](
        text=tf.constant(texts))
    for key, value in local.items():
        np.testing.assert_array_equal(out[key], value.numpy())
    assert out["num_entities"][2] == 0 and out["num_entities"][0] > 0
    for i, text in enumerate(texts):
        n = out["num_entities"][i]
        for j in range(out["entity_type"].shape[1]):
            start, end = out["entity_start"][i, j], out["entity_end"][i, j]
            if j < n:
                assert out["entity_text"][i, j].decode() == text[start:end]
                assert out["entity_type"][i, j] in (b"PER", b"LOC", b"ORG")
            else:
                assert (start, end, out["entity_type"][i, j], out["entity_text"][i, j]) == (
                    -1, -1, b"", b"")


def test_qa_over_grpc_answer_is_a_context_span(exported, live):
    questions = ["where does john live?", "what?", "who?"]
    contexts = ["John Smith lives in New York.", "", "今天天气很好，北京人"]
    out = grpc_predict(live, "squad", {"question": questions, "context": contexts})
    for i, context in enumerate(contexts):
        start, end = out["start"][i], out["end"][i]
        if context:
            assert 0 <= start < end <= len(context)
            assert out["answer"][i].decode() == context[start:end]
        else:
            assert (start, end, out["answer"][i], out["score"][i]) == (-1, -1, b"", 0.0)


def test_scalar_string_is_invalid_argument_not_a_crash(exported, live):
    sig = tf.saved_model.load(exported[2]["classification"]).signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError):
        sig(text=tf.constant("a scalar"))
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "classification"
    request.inputs["text"].CopyFrom(tf.make_tensor_proto("a scalar", dtype=tf.string))
    with pytest.raises(grpc.RpcError) as error:
        live.Predict(request, timeout=30)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_edge_texts_give_defined_answers(exported, live):
    """Empty, 3,000-character and invalid UTF-8 texts: probabilities, never a crash."""
    script = (
        "import sys, numpy as np, tensorflow as tf, tensorflow_text\n"
        "sig = tf.saved_model.load(sys.argv[1]).signatures['serving_default']\n"
        f"out = sig(text=tf.constant({EDGE_TEXTS!r}))\n"
        "p = out['probabilities'].numpy()\n"
        "assert np.all(np.isfinite(p)) and np.allclose(p.sum(-1), 1, atol=1e-5), p\n"
        "print('OK', out['label'].numpy())\n")
    result = subprocess.run([sys.executable, "-c", script, exported[2]["classification"]],
                            capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, PYTHONPATH=MAIN))
    assert result.returncode == 0 and "OK" in result.stdout, result.stderr[-2000:]
    remote = grpc_predict(live, "classification", {"text": EDGE_TEXTS})
    assert remote["probabilities"].shape == (len(EDGE_TEXTS), 3)
    assert np.all(np.isfinite(remote["probabilities"]))
    assert remote["truncated"].tolist() == [False, True, False, False]
    ner = grpc_predict(live, "ner", {"text": EDGE_TEXTS})
    assert ner["entity_start"].shape[0] == len(EDGE_TEXTS)
    assert ner["entity_start"].shape[1] == max(fx.MAX_SEQ_LENGTH - 2, ner["num_entities"].max())
    assert ner["num_windows"][1] > 100 and not ner["truncated"].any()  # 600 words, all tagged


def test_next_version_and_existing_version_error(exported, tmp_path):
    base, runs = exported[0], exported[1]
    model_base = os.path.join(base, "classification")
    assert saved_model.next_version(model_base) == 2
    os.makedirs(os.path.join(str(tmp_path), "m", "7"))
    os.makedirs(os.path.join(str(tmp_path), "m", "v9"))
    assert saved_model.next_version(os.path.join(str(tmp_path), "m")) == 8
    with pytest.raises(ValueError, match="already exists"):
        saved_model.export_saved_model(runs["classification"], base, "classification", version=1)


@keras.saving.register_keras_serializable(package="tfbert_tests")
class PythonCallback(keras.layers.Layer):
    """Passes its input through `tf.py_function`: an op no TF Serving binary can run."""

    def call(self, x):
        y = tf.py_function(lambda t: t, [x], Tout=x.dtype)
        y.set_shape(x.shape)
        return y


def test_export_fails_on_ops_tf_serving_lacks(tmp_path):
    from tfbert.models import BertClassifier
    from tfbert.training.run_dir import save_run
    run = fx.tiny_run(str(tmp_path / "run"), "classification")
    encoder = fx.tiny_task_model("classification", 3).encoder
    classifier = BertClassifier(encoder, num_classes=3)
    inputs = {k: keras.Input((None,), dtype="int32", name=k)
              for k in ("token_ids", "segment_ids", "padding_mask")}
    model = keras.Model(inputs, PythonCallback()(classifier(inputs)))
    save_run(run, model, os.path.join(run, "vocab.txt"), "classification", fx.MAX_SEQ_LENGTH,
             labels=["neg", "neutral", "pos"])
    base = str(tmp_path / "models")
    with pytest.raises(ValueError, match="EagerPyFunc"):
        saved_model.export_saved_model(run, base, "bad")
    assert os.listdir(os.path.join(base, "bad")) == []  # nothing published
    assert not os.path.exists(os.path.join(base, "models.config"))


def test_bad_model_name_and_task(tmp_path):
    with pytest.raises(ValueError, match="model_name"):
        saved_model.export_saved_model(str(tmp_path), str(tmp_path), "a/b")
    run = fx.tiny_run(str(tmp_path / "run"), "classification")
    info = json.load(open(os.path.join(run, "task.json")))
    json.dump(dict(info, task="pretraining"), open(os.path.join(run, "task.json"), "w"))
    with pytest.raises(ValueError, match="no serving signature"):
        saved_model.export_saved_model(run, str(tmp_path / "models"), "m")


def test_text_pair_and_regression_exports_match_keras(tmp_path):
    """The pair classifier takes `text` + `text_pair`; regression returns the raw `score`."""
    texts, pairs = ["Hello, world!", "北京 x", ""], ["yes", "", "the cat sat"]
    pair_run = fx.tiny_run(str(tmp_path / "pair"), "classification", text_pair=True)
    pair_dir = saved_model.export_saved_model(pair_run, str(tmp_path / "models"), "pair")
    signature = tf.saved_model.load(pair_dir).signatures["serving_default"]
    assert sorted(signature.structured_input_signature[1]) == ["text", "text_pair"]
    got = signature(text=tf.constant(texts), text_pair=tf.constant(pairs))
    np.testing.assert_allclose(got["probabilities"].numpy(),
                               keras_reference(pair_run, texts, pairs), atol=1e-5)
    single = signature(text=tf.constant(texts), text_pair=tf.constant([""] * 3))
    assert not np.allclose(single["probabilities"].numpy(), got["probabilities"].numpy())

    reg_run = fx.tiny_run(str(tmp_path / "reg"), "regression")
    reg_dir = saved_model.export_saved_model(reg_run, str(tmp_path / "models"), "reg")
    outputs = tf.saved_model.load(reg_dir).signatures["serving_default"](text=tf.constant(texts))
    assert sorted(outputs) == ["score", "truncated"] and outputs["score"].shape == (3,)
    from tfbert.tokenization import BertTokenizer, pack_inputs
    from tfbert.training.run_dir import load_run
    model, vocab_file, info = load_run(reg_run)
    tok = BertTokenizer(vocab_file)
    inputs = pack_inputs(tok.tokenize(tf.constant(texts)), info["max_seq_length"], tok.cls_id,
                         tok.sep_id, tok.pad_id)
    np.testing.assert_allclose(outputs["score"].numpy(),
                               keras.ops.convert_to_numpy(model(inputs))[:, 0], atol=1e-5)
