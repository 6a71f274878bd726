"""export.tflite: conversion with the tokenizer inside, the flatbuffer's ops, and parity.

Fast tests use a tiny untrained classifier (float32 .tflite within 1e-3 of Keras and of the
SavedModel); the slow test fine-tunes BERT-tiny on the sentiment split and checks that the
dynamic-range int8 model agrees with Keras on >= 99% of the 1,738 evaluation labels.
"""

import logging
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text  # noqa: F401

from export import op_audit, saved_model, tflite
from tests import export_fixtures as fx
from tests.test_export import EDGE_TEXTS, MAIN, keras_reference


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    root = tmp_path_factory.mktemp("tflite")
    run = fx.tiny_run(str(root / "run"), "classification")
    path = tflite.convert_tflite(run, str(root / "model.tflite"))
    return run, path, root


def test_flatbuffer_has_only_tf_text_custom_ops_and_no_variables(converted):
    path = converted[1]
    builtins, custom = op_audit.tflite_op_names(path)
    assert custom <= op_audit.TF_TEXT_TFLITE_OPS
    assert {"FastBertNormalize", "FastWordpieceTokenizeWithOffsets"} <= custom
    assert not builtins & {"VAR_HANDLE", "READ_VARIABLE"}
    assert op_audit.audit_tflite(path) == []


def test_float32_matches_keras_and_saved_model(converted):
    run, path, root = converted
    expected = keras_reference(run, fx.TEXTS)
    out = tflite.TFLiteModel(path).predict(fx.TEXTS)
    assert out["probabilities"].shape == (len(fx.TEXTS), 3)
    np.testing.assert_allclose(out["probabilities"], expected, atol=1e-3, rtol=0)
    np.testing.assert_array_equal(out["label"],
                                  np.array([b"neg", b"neutral", b"pos"])[expected.argmax(-1)])
    version_dir = saved_model.export_saved_model(run, str(root / "models"), "m")
    served = tf.saved_model.load(version_dir).signatures["serving_default"](
        text=tf.constant(fx.TEXTS))
    np.testing.assert_allclose(out["probabilities"], served["probabilities"].numpy(), atol=1e-3)
    # Both say which texts had more pieces than max_seq_length holds.
    np.testing.assert_array_equal(out["truncated"], served["truncated"].numpy())
    assert out["truncated"].tolist() == [False, False, False, False, False, True]
    # The export itself converts too (fast normalizer): the graph TF Serving runs, on device.
    path = tflite.convert_saved_model(version_dir, str(root / "from_export.tflite"))
    np.testing.assert_allclose(tflite.TFLiteModel(path).predict(fx.TEXTS)["probabilities"],
                               expected, atol=1e-3, rtol=0)


def test_runner_guards_empty_batch_and_input_names(converted):
    model = tflite.TFLiteModel(converted[1])
    assert model.input_names == ["text"]
    with pytest.raises(ValueError, match="at least one text"):
        model.predict([])
    with pytest.raises(ValueError, match="takes"):
        model.predict(question=["a"], context=["b"])


def test_edge_texts_give_defined_answers(converted):
    """Empty, 3,000-character and invalid UTF-8 texts, in a child process (a crash fails)."""
    script = (
        "import sys, numpy as np\n"
        "from export.tflite import TFLiteModel\n"
        f"out = TFLiteModel(sys.argv[1]).predict({EDGE_TEXTS!r})\n"
        "p = out['probabilities']\n"
        "assert np.all(np.isfinite(p)) and np.allclose(p.sum(-1), 1, atol=1e-4), p\n"
        "print('OK', out['label'])\n")
    result = subprocess.run([sys.executable, "-c", script, converted[1]], capture_output=True,
                            text=True, timeout=120, env=dict(os.environ, PYTHONPATH=MAIN))
    assert result.returncode == 0 and "OK" in result.stdout, result.stderr[-2000:]


def test_exact_normalizer_converts_with_fast_and_warns(tmp_path, caplog):
    run = fx.tiny_run(str(tmp_path / "run"), "classification", normalizer="exact")
    with caplog.at_level(logging.WARNING):
        path = tflite.convert_tflite(run, str(tmp_path / "exact.tflite"))
    assert "'exact' normalizer" in caplog.text
    texts = ["the cat sat on the mat", "what is a good film?"]  # plain text: same ids
    np.testing.assert_allclose(tflite.TFLiteModel(path).predict(texts)["probabilities"],
                               keras_reference(run, texts), atol=1e-3)
    version_dir = saved_model.export_saved_model(run, str(tmp_path / "models"), "exact")
    with pytest.raises(ValueError, match="'exact' normalizer.*--model_dir"):
        tflite.convert_saved_model(version_dir, str(tmp_path / "refused.tflite"))


def test_ner_on_device_matches_the_saved_model(tmp_path):
    run = fx.tiny_run(str(tmp_path / "ner"), "ner")
    path = tflite.convert_tflite(run, str(tmp_path / "ner.tflite"))
    assert op_audit.audit_tflite(path) == []
    device = tflite.TFLiteModel(path).predict(fx.TEXTS)
    version_dir = saved_model.export_saved_model(run, str(tmp_path / "models"), "ner")
    served = {k: v.numpy() for k, v in tf.saved_model.load(version_dir).signatures[
        "serving_default"](text=tf.constant(fx.TEXTS)).items()}
    # The device keeps one window and says so; the server tags the whole text through windows.
    np.testing.assert_array_equal(device["truncated"], served["num_windows"] > 1)
    assert device["truncated"].tolist() == [False, False, False, False, False, True]
    assert device["num_windows"].tolist() == [1] * len(fx.TEXTS)
    assert not served["truncated"].any()
    whole = ~device["truncated"]  # texts one window holds: the same entities
    np.testing.assert_array_equal(device["num_entities"][whole], served["num_entities"][whole])
    assert served["num_entities"][whole].sum() > 0  # the untrained model does tag something
    np.testing.assert_array_equal(device["entity_type"][whole],
                                  served["entity_type"][whole, :fx.MAX_SEQ_LENGTH - 2])
    for row, text in enumerate(fx.TEXTS):
        if not whole[row]:
            continue
        encoded = text.encode("utf-8")
        for slot in range(int(served["num_entities"][row])):
            start = int(device["entity_start_byte"][row, slot])
            end = int(device["entity_end_byte"][row, slot])
            # The device's byte span is the server's character span of the same entity.
            assert len(encoded[:start].decode("utf-8")) == served["entity_start"][row, slot]
            assert encoded[start:end].decode("utf-8") == \
                served["entity_text"][row, slot].decode("utf-8")


def test_qa_on_device_matches_the_saved_model(tmp_path):
    run = fx.tiny_run(str(tmp_path / "squad"), "squad")
    path = tflite.convert_tflite(run, str(tmp_path / "squad.tflite"))
    assert op_audit.audit_tflite(path) == []
    questions = ["where is the cat?", "what film?", "我喜欢", "who", "what?"]
    contexts = ["the cat sat on the mat in New York", "a good film, really",
                "今天天气很好, 北京人喜欢", "", "the cat sat"]
    device = tflite.TFLiteModel(path).predict(question=questions, context=contexts)
    version_dir = saved_model.export_saved_model(run, str(tmp_path / "models"), "qa")
    served = {k: v.numpy() for k, v in tf.saved_model.load(version_dir).signatures[
        "serving_default"](question=tf.constant(questions), context=tf.constant(contexts)).items()}
    # One window on the device, and it says when the context did not fit; the server windows.
    assert device["truncated"].tolist() == [True, False, True, False, False]
    assert device["num_windows"].tolist() == [1] * 5 and not served["truncated"].any()
    assert (served["num_windows"][device["truncated"]] > 1).all()
    whole = ~device["truncated"]
    np.testing.assert_allclose(device["score"][whole], served["score"][whole], atol=1e-4)
    for row, context in enumerate(contexts):
        if not whole[row]:
            continue
        start, end = int(device["start_byte"][row]), int(device["end_byte"][row])
        if served["start"][row] < 0:  # no context piece to answer from
            assert (start, end) == (-1, -1)
            continue
        encoded = context.encode("utf-8")
        assert len(encoded[:start].decode("utf-8")) == served["start"][row]
        assert encoded[start:end].decode("utf-8") == served["answer"][row].decode("utf-8")


def test_exports_of_ner_and_qa_are_refused_clearly(tmp_path):
    for task in ("ner", "squad"):
        run = fx.tiny_run(str(tmp_path / task), task)
        version_dir = saved_model.export_saved_model(run, str(tmp_path / "models"), task)
        with pytest.raises(ValueError, match="convert the fine-tuning run"):
            tflite.convert_saved_model(version_dir, str(tmp_path / f"{task}.tflite"))
    with pytest.raises(ValueError, match="export_info.json"):
        tflite.convert_saved_model(str(tmp_path), str(tmp_path / "x.tflite"))


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="quantize"):
        tflite.convert_tflite(str(tmp_path), str(tmp_path / "x.tflite"), quantize="int4")
    with pytest.raises(ValueError, match="task.json"):
        tflite.convert_tflite(str(tmp_path), str(tmp_path / "x.tflite"))


@pytest.mark.slow
def test_quantized_models_agree_on_sentiment_eval(tmp_path_factory):
    """Fine-tunes BERT-tiny, converts float32/float16/int8, compares 1,738 labels."""
    run, eval_ = fx.sentiment_run(str(tmp_path_factory.mktemp("sentiment") / "run"))
    texts = [t for t, _ in eval_]
    expected = np.concatenate([keras_reference(run, texts[i:i + 256])
                               for i in range(0, len(texts), 256)])
    accuracy = float(np.mean(expected.argmax(-1) == np.array([y for _, y in eval_])))
    assert accuracy > 0.7, accuracy
    sizes = {}
    for quantize, atol in (("none", 1e-3), ("float16", 1e-2), ("dynamic", None)):
        path = tflite.convert_tflite(run, str(tmp_path_factory.mktemp(quantize) / "m.tflite"),
                                     quantize)
        sizes[quantize] = os.path.getsize(path)
        model = tflite.TFLiteModel(path)
        got = np.concatenate([model.predict(texts[i:i + 256])["probabilities"]
                              for i in range(0, len(texts), 256)])
        agreement = float(np.mean(got.argmax(-1) == expected.argmax(-1)))
        assert agreement >= 0.99, (quantize, agreement)
        if atol is not None:
            np.testing.assert_allclose(got, expected, atol=atol, rtol=0)
    assert sizes["dynamic"] < 0.5 * sizes["none"] and sizes["float16"] < 0.7 * sizes["none"]
