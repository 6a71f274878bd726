"""Sentence embeddings: pooling, the checkpoint settings, the export and cosine similarity.

Reference vectors come from sentence-transformers on the real all-MiniLM-L6-v2 checkpoint
(tests/fixtures/make_embedding_reference.py); the Keras model and the exported SavedModel,
called with raw strings, must reproduce them.
"""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text  # noqa: F401
from absl import app, flags
from tensorflow_serving.apis import prediction_log_pb2

from apps import similarity as similarity_app
from export import saved_model, warmup
from tests import export_fixtures as fx
from tests.helpers import (
    assert_all_close,
    encoder_batch,
    minilm_dir,
    run_serialization_test,
    tiny_config,
    write_vocab,
)
from tfbert.checkpoints import save_encoder
from tfbert.models import bert_encoder
from tfbert.tasks.embedding.checkpoint import (
    DEFAULT_MAX_SEQ_LENGTH,
    load_sentence_embedder,
    sentence_settings,
)
from tfbert.tasks.embedding.model import MeanPooling, SentenceEmbedder
from tfbert.tasks.embedding.serving import EmbeddingSignatures
from tfbert.tasks.embedding.similarity import cosine_similarities, embed_texts, text_embedder

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "embedding_reference.npz")
PAIRS = [("A man is playing a guitar.", "A man plays the guitar.", 5.0),
         ("A woman is slicing an onion.", "A woman is cutting an onion.", 4.6),
         ("He is cooking dinner in the kitchen.", "A man is preparing food.", 3.4),
         ("A dog runs in the park.", "A puppy is running on the grass.", 3.0),
         ("The stock market fell today.", "It rained all day in London.", 0.6),
         ("A child is reading a book.", "The weather is cold in winter.", 0.2),
         ("Two men are playing chess.", "A cat sleeps on the sofa.", 0.0)]



@pytest.fixture(scope="module")
def reference():
    data = np.load(FIXTURE)
    return [str(t) for t in data["texts"]], data["embeddings"], data


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The real MiniLM checkpoint exported as an embedding model."""
    base = str(tmp_path_factory.mktemp("embedding") / "models")
    return base, saved_model.export_embedding(minilm_dir(), base, "minilm")


def tiny_checkpoint(directory, files=None):
    """A tiny odd-sized checkpoint in the project's format, plus `files` (relative path ->
    dict written as JSON, or str)."""
    (directory / "src").mkdir(parents=True)
    vocab = write_vocab(directory / "src", fx.VOCAB)
    encoder = bert_encoder(tiny_config(vocab_size=len(fx.VOCAB)))
    save_encoder(encoder, vocab, str(directory))
    for name, content in (files or {}).items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(directory)


# --- Pooling and the model ---------------------------------------------------------------------

def test_mean_pooling_ignores_padding_and_normalises():
    rng = np.random.default_rng(0)
    sequence = rng.normal(size=(3, 7, 12)).astype("float32")
    mask = (np.arange(7)[None] < np.array([7, 4, 0])[:, None]).astype("int32")
    sequence[mask == 0] = 1e4  # padding values must not leak into the mean
    mean = MeanPooling(normalize=False)(sequence, mask).numpy()
    np.testing.assert_allclose(mean[:2], [sequence[0].mean(0), sequence[1, :4].mean(0)],
                               atol=1e-5)
    assert np.all(mean[2] == 0)  # no real token: zeros, not NaN
    unit = MeanPooling()(sequence, mask).numpy()
    np.testing.assert_allclose(np.linalg.norm(unit[:2], axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(unit[:2], mean[:2] / np.linalg.norm(mean[:2], axis=1,
                                                                   keepdims=True), atol=1e-6)
    assert np.all(unit[2] == 0)
    assert MeanPooling(dtype="float32")(keras.ops.cast(sequence, "bfloat16"), mask).dtype == \
        tf.float32
    assert MeanPooling(normalize=False).get_config()["normalize"] is False


def test_sentence_embedder_serialization_and_mixed_precision(tmp_path):
    encoder = bert_encoder(tiny_config())
    inputs = encoder_batch(seed=1)
    model = SentenceEmbedder(encoder, normalize=False, name="embedder")
    run_serialization_test(model, lambda m: m(inputs)["embedding"], tmp_path)
    mixed = SentenceEmbedder(bert_encoder(tiny_config(), dtype="mixed_bfloat16"))
    out = mixed(inputs)["embedding"]
    assert out.dtype == tf.float32 and tuple(out.shape) == (3, 12)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


# --- Parity with sentence-transformers -----------------------------------------------------

def test_keras_matches_sentence_transformers(reference):
    texts, expected, data = reference
    model, tokenizer, info = load_sentence_embedder(minilm_dir())
    assert info["max_seq_length"] == int(data["max_seq_length"]) == 256  # sentence_bert_config
    assert tokenizer.lower_case  # tokenizer_config.json do_lower_case
    signatures = EmbeddingSignatures(model, tokenizer, info)
    packed = signatures._pack(tokenizer.tokenize(tf.constant(texts)))
    np.testing.assert_array_equal(packed["padding_mask"].numpy().sum(1), data["num_tokens"])
    got = model(packed, training=False)["embedding"].numpy()
    assert got.shape == (len(texts), 384) and got.dtype == np.float32
    assert np.abs(got - expected).max() < 1e-4
    served = signatures.serve(tf.constant(texts))["embedding"].numpy()  # trimmed padding
    assert np.abs(served - expected).max() < 1e-4
    np.testing.assert_allclose(np.linalg.norm(served, axis=1), 1.0, atol=1e-5)


def test_saved_model_matches_sentence_transformers(reference, exported):
    texts, expected, _ = reference
    version_dir = exported[1]
    signature = tf.saved_model.load(version_dir).signatures["serving_default"]
    specs = signature.structured_input_signature[1]
    assert {k: (v.dtype, v.shape.as_list()) for k, v in specs.items()} == {
        "text": (tf.string, [None])}
    assert {k: (v.dtype, v.shape.as_list()) for k, v in signature.structured_outputs.items()} \
        == {"embedding": (tf.float32, [None, 384])}
    got = signature(text=tf.constant(texts))
    assert sorted(got) == ["embedding"]
    got = got["embedding"].numpy()
    assert got.shape == (len(texts), 384) and got.dtype == np.float32
    assert np.abs(got - expected).max() < 1e-4
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    one = signature(text=tf.constant(texts[:1]))["embedding"].numpy()  # batch-independent
    assert np.abs(one - expected[:1]).max() < 1e-4
    with pytest.raises(tf.errors.InvalidArgumentError):
        signature(text=tf.constant("a scalar"))


def test_export_layout_assets_and_warmup(exported):
    base, version_dir = exported
    assert version_dir == os.path.join(base, "minilm", "1")
    extra = os.path.join(version_dir, "assets.extra")
    with open(os.path.join(minilm_dir(), "vocab.txt"), encoding="utf-8") as f:
        assert open(os.path.join(extra, "vocab.txt"), encoding="utf-8").read() == f.read()
    info = json.load(open(os.path.join(extra, "export_info.json")))
    assert (info["task"], info["max_seq_length"], info["lower_case"], info["normalizer"],
            info["pooling"], info["normalize"], info["labels"]) == (
        "embedding", 256, True, "exact", "mean", True, None)
    assert info["signatures"]["serving_default"] == ["text"]
    assert json.load(open(os.path.join(extra, "vocab_info.json")))["lower_case"] is True
    assert "name: \"minilm\"" in open(os.path.join(base, "models.config")).read()
    loaded = tf.saved_model.load(version_dir)
    names = []
    for record in tf.data.TFRecordDataset(os.path.join(version_dir, warmup.WARMUP_FILE)):
        request = prediction_log_pb2.PredictionLog.FromString(record.numpy()).predict_log.request
        out = loaded.signatures[request.model_spec.signature_name](
            **{k: tf.make_ndarray(v) for k, v in request.inputs.items()})
        assert np.all(np.isfinite(out["embedding"].numpy()))
        names.append(request.model_spec.signature_name)
    assert names == ["serving_default", "serving_default", "serve_ids"]


# --- Checkpoint settings ---------------------------------------------------------------------

def test_settings_from_the_checkpoint_files(tmp_path):
    plain = tiny_checkpoint(tmp_path / "plain")
    assert sentence_settings(plain) == {"max_seq_length": DEFAULT_MAX_SEQ_LENGTH,
                                        "lower_case": None}
    cased = tiny_checkpoint(tmp_path / "cased", {
        "sentence_bert_config.json": {"max_seq_length": 9},
        "tokenizer_config.json": {"do_lower_case": False}})
    assert sentence_settings(cased) == {"max_seq_length": 9, "lower_case": False}
    assert sentence_settings(cased, max_seq_length=11)["max_seq_length"] == 11  # the argument wins
    model, tokenizer, info = load_sentence_embedder(cased)
    assert info["max_seq_length"] == 9 and not tokenizer.lower_case
    assert info["hidden_size"] == 12 and model.get_layer("mean_pooling").normalize


def test_settings_errors_name_the_file(tmp_path):
    with pytest.raises(ValueError, match=r"`max_seq_length` \(17\) must be between 2 and .*\(16\)"):
        load_sentence_embedder(tiny_checkpoint(tmp_path / "a"), max_seq_length=17)
    with pytest.raises(ValueError, match=r"`max_seq_length` \(1\) must be between 2"):
        load_sentence_embedder(str(tmp_path / "a"), max_seq_length=1)
    modules = [{"name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    cls = tiny_checkpoint(tmp_path / "cls", {
        "modules.json": modules,
        "1_Pooling/config.json": {"pooling_mode_cls_token": True,
                                  "pooling_mode_mean_tokens": False}})
    with pytest.raises(ValueError, match=r"1_Pooling/config.json: pooling \['pooling_mode_cls"):
        sentence_settings(cls)
    dense = tiny_checkpoint(tmp_path / "dense", {"modules.json": modules + [
        {"name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}]})
    with pytest.raises(ValueError, match=r"modules.json: module '2' is a 'Dense'"):
        sentence_settings(dense)
    lowering = tiny_checkpoint(tmp_path / "lower", {
        "sentence_bert_config.json": {"do_lower_case": True},
        "tokenizer_config.json": {"do_lower_case": False}})
    with pytest.raises(ValueError, match="sentence_bert_config.json: `do_lower_case` true"):
        sentence_settings(lowering)
    broken = tiny_checkpoint(tmp_path / "broken", {"sentence_bert_config.json": "{\n  nope"})
    with pytest.raises(ValueError, match=r"sentence_bert_config.json:2: not valid JSON"):
        sentence_settings(broken)


# --- The exporter's flags ---------------------------------------------------------------------

def run_main(monkeypatch, *args):
    flag_values = flags.FlagValues()
    saved_model.define_flags(flag_values)
    monkeypatch.setattr(saved_model, "_FLAGS", flag_values)
    flag_values(["saved_model", *args])
    saved_model.main(["saved_model"])


@pytest.mark.parametrize("args, message", [
    (["--task=embedding"], "--task=embedding needs --checkpoint"),
    (["--task=embedding", "--checkpoint=c", "--model_dir=r"], "--model_dir=r is a fine-tuning"),
    (["--task=classification", "--checkpoint=c", "--model_dir=r"],
     r"--checkpoint=c is for --task=embedding \(--task=classification\)"),
    (["--checkpoint=c"], r"--checkpoint=c is for --task=embedding \(no --task\)"),
    (["--model_dir=r", "--max_seq_length=64"], "--max_seq_length=64 is for --task=embedding"),
    ([], "--model_dir is required"),
])
def test_exporter_flag_errors_name_the_flag(monkeypatch, tmp_path, args, message):
    with pytest.raises(app.UsageError, match=message):
        run_main(monkeypatch, f"--export_base={tmp_path}", *args)


def test_exporter_main_exports_a_checkpoint(monkeypatch, tmp_path):
    checkpoint = tiny_checkpoint(tmp_path / "ckpt", {
        "sentence_bert_config.json": {"max_seq_length": 9}})
    base = str(tmp_path / "models")
    run_main(monkeypatch, "--task=embedding", f"--checkpoint={checkpoint}",
             f"--export_base={base}", "--model_name=tiny", "--max_seq_length=11")
    extra = os.path.join(base, "tiny", "1", "assets.extra")
    assert json.load(open(os.path.join(extra, "export_info.json")))["max_seq_length"] == 11
    signatures = tf.saved_model.load(os.path.join(base, "tiny", "1")).signatures
    assert signatures["serve_ids"].structured_input_signature[1]["token_ids"].shape.as_list() \
        == [None, 11]


def test_run_task_must_match_task_flag(tmp_path):
    run = fx.tiny_run(str(tmp_path / "run"), "classification")
    with pytest.raises(ValueError, match="the run's task is 'classification', not `task` "):
        saved_model.export_saved_model(run, str(tmp_path / "models"), "m", task="ner")


# --- Similarity ---------------------------------------------------------------------------

def test_cosine_similarities_export_equals_checkpoint(exported):
    first, second, _ = zip(*PAIRS)
    from_export = cosine_similarities(text_embedder(exported[1]), first, second, batch_size=3)
    from_checkpoint = cosine_similarities(text_embedder(minilm_dir()), first, second)
    assert from_export.shape == (len(PAIRS),) and from_export.dtype == np.float32
    np.testing.assert_allclose(from_export, from_checkpoint, atol=1e-5)
    assert from_export[0] > 0.9 and from_export[-1] < 0.3
    # Batches run in order of length; the rows come back in the caller's order.
    embed = text_embedder(exported[1])
    texts = list(first)
    assert_all_close(embed_texts(embed, texts, batch_size=2), embed(tf.constant(texts)),
                     atol=1e-5)


def test_similarity_program_reports_spearman(exported, tmp_path):
    pairs = tmp_path / "pairs.tsv"
    # The GLUE STS-B layout (10 columns); a 3-column file with this header reads the same.
    header = "index genre filename year old_index source1 source2 sentence1 sentence2 score"
    pairs.write_text("\t".join(header.split()) + "\n" + "".join(
        f"{i}\tmain-captions\tx\t2012\t{i}\tnone\tnone\t{a}\t{b}\t{s}\n"
        for i, (a, b, s) in enumerate(PAIRS)), encoding="utf-8")
    output = tmp_path / "result.json"
    result = similarity_app.score_similarity(exported[1], str(pairs), output_json=str(output))
    assert result["pairs"] == len(PAIRS) and len(result["cosines"]) == len(PAIRS)
    assert result["spearman"] > 0.9, result
    assert json.load(open(output))["spearman"] == result["spearman"]


def test_similarity_errors(exported, tmp_path):
    with pytest.raises(ValueError, match=r"`max_seq_length` \(64\) applies to checkpoints"):
        text_embedder(exported[1], max_seq_length=64)
    with pytest.raises(ValueError, match="must have equal lengths"):
        cosine_similarities(lambda t: t, ["a"], [])
    with pytest.raises(ValueError, match=r"`batch_size` \(0\) must be >= 1"):
        embed_texts(lambda t: t, ["a"], batch_size=0)

    class Scores(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(self, text):
            return {"score": tf.strings.length(text)}

    module = Scores()
    tf.saved_model.save(module, str(tmp_path / "other"),
                        signatures={"serving_default": module.serve})
    with pytest.raises(ValueError, match=r"returns \['score'\], not `embedding`"):
        text_embedder(str(tmp_path / "other"))
