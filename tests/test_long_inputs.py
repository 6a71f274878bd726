"""Long inputs: NER and QA exports cover the whole text with overlapping windows.

Two kinds of model:
* "context-free" runs whose output at a piece depends on that piece's token id only (attention
  and feed-forward outputs, position and segment embeddings zeroed; the head reads the word
  embedding's code): "北" is B-LOC / the answer start, "京" I-LOC / the answer end, every other
  token O. An entity at character ~5,000 of a ~6,000-character text must come back through the
  server exactly as the same entity in a short text, shifted by its offset.
* tiny untrained runs (odd sizes, max_seq_length 13, so a sentence already spans windows),
  compared with a plain-Python reference built on the SQuAD features' own `doc_spans` and
  max-context rule and on the NER post-processing (`tagged_entities`).
"""

import json
import os
import time

import grpc
import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text  # noqa: F401
from tensorflow_serving.apis import prediction_service_pb2_grpc

from export import saved_model, server
from export.serving import core as serving_core
from tests import export_fixtures as fx
from tests.test_export import grpc_predict

SEQ = 64
FILLER = "the cat sat on the mat, we really like it. 今天天气很好! "
SHORT_TEXT = "我喜欢北京"  # the entity 北京 at characters [3, 5)


def context_free_run(model_dir, task, max_seq_length=SEQ):
    """A run whose output at each piece depends on its token id only; returns `model_dir`."""
    from tfbert import BertConfig
    from tfbert.models import BertSpanQA, BertTokenClassifier, bert_encoder
    from tfbert.training.run_dir import save_run
    config = BertConfig(vocab_size=len(fx.VOCAB), hidden_size=12, num_hidden_layers=2,
                        num_attention_heads=3, intermediate_size=37,
                        max_position_embeddings=max_seq_length)
    encoder = bert_encoder(config)
    model = (BertTokenClassifier(encoder, num_classes=len(fx.NER_LABELS)) if task == "ner"
             else BertSpanQA(encoder))
    # Token codes: 0 = other, 1 = "北", 2 = "京"; after LayerNorm each code is a fixed vector u_k
    # with |u_k|^2 = 12 and u_j . u_k ~ -1.1, so the head below scores its own code highest.
    code = np.zeros(len(fx.VOCAB), np.int64)
    code[fx.VOCAB.index("北")], code[fx.VOCAB.index("京")] = 1, 2
    word = np.eye(12, dtype=np.float32)[code] * 10.0
    u = (np.eye(12)[:3] - 1 / 12) / np.sqrt(11 / 144)
    for w in model.weights:
        if w.path == "embeddings/word_embeddings/embeddings":
            w.assign(word)
        elif any(part in w.path for part in ("attention_output", "output_dense",
                                             "position_embeddings", "segment_embeddings",
                                             "logits/bias")):
            w.assign(np.zeros(w.shape, np.float32))
        elif w.path == "logits/kernel":  # NER: O <- other, B-LOC <- 北, I-LOC <- 京
            kernel = np.zeros(w.shape, np.float32)
            for label, k in (("O", 0), ("B-LOC", 1), ("I-LOC", 2)):
                kernel[:, fx.NER_LABELS.index(label)] = u[k]
            w.assign(kernel)
        elif w.path == "span_logits/kernel":  # QA: start at 北, end at 京
            w.assign(np.stack([u[1], u[2]], axis=1).astype(np.float32))
    vocab_file = fx.write_vocab(os.path.join(model_dir, "vocab_src"))
    save_run(model_dir, model, vocab_file, task, max_seq_length,
             labels=fx.NER_LABELS if task == "ner" else None)
    return model_dir


def long_text(entity_at=5000, length=6000):
    """`(text, start)`: filler with "北京" at about `entity_at`, `length` characters in all."""
    prefix = (FILLER * (entity_at // len(FILLER) + 1))[:entity_at]
    prefix = prefix[:prefix.rindex(" ") + 1]  # cut at a word boundary
    text = prefix + "北京 " + FILLER * ((length - entity_at) // len(FILLER) + 1)
    return text[:length], len(prefix)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("long")
    base = str(root / "models")
    runs, dirs = {}, {}
    for name, task, make in (("ner_free", "ner", context_free_run),
                             ("qa_free", "squad", context_free_run),
                             ("ner_tiny", "ner", fx.tiny_run),
                             ("qa_tiny", "squad", fx.tiny_run)):
        runs[name] = make(str(root / "runs" / name), task)
        dirs[name] = saved_model.export_saved_model(runs[name], base, model_name=name)
    return base, runs, dirs


@pytest.fixture(scope="module")
def stub(exported):
    config = serving_core.parse_model_config_file(os.path.join(exported[0], "models.config"))
    srv = server.ModelServer(config, port=0, poll_wait_seconds=-1,
                             stats_interval_seconds=0).start()
    channel = grpc.insecure_channel(f"127.0.0.1:{srv.port}")
    yield prediction_service_pb2_grpc.PredictionServiceStub(channel)
    channel.close()
    srv.stop()


def entities(out, row):
    return [(out["entity_type"][row, j].decode(), out["entity_text"][row, j].decode(),
             int(out["entity_start"][row, j]), int(out["entity_end"][row, j]))
            for j in range(int(out["num_entities"][row]))]


def timed(function, repeats=5):
    function()  # warm: the first call of a new shape traces
    start = time.perf_counter()
    for _ in range(repeats):
        result = function()
    return result, (time.perf_counter() - start) / repeats * 1000


def test_cut_windows_match_run_squad_doc_spans_and_max_context():
    from tfbert.tasks.signature import cut_windows
    from tfbert.tasks.squad.features import _max_context, doc_spans
    lengths, window = [0, 1, 5, 6, 7, 23, 40, 3], [6, 6, 6, 6, 6, 4, 7, 1]
    for stride in (1, 2, 3, 6, 9):
        splits = np.concatenate([[0], np.cumsum(lengths)])
        got = cut_windows(tf.constant(splits, tf.int64), tf.constant(window), stride, 7)
        example, start, length = (got.example.numpy(), got.start.numpy(), got.length.numpy())
        for b, (n, w) in enumerate(zip(lengths, window)):
            spans = doc_spans(n, w, stride)
            rows = np.flatnonzero(example == b)
            assert [(int(start[r]), int(length[r])) for r in rows] == spans, (b, stride)
            assert got.count.numpy()[b] == len(spans)
            for i, r in enumerate(rows):
                for j in range(7):
                    piece = got.piece.numpy()[r, j]
                    if j >= length[r]:
                        assert piece == -1 and not got.is_max.numpy()[r, j]
                        continue
                    assert piece == splits[b] + start[r] + j
                    assert got.is_max.numpy()[r, j] == (_max_context(spans, start[r] + j) == i)


@pytest.mark.slow
def test_ner_entity_at_5000_of_6000_characters_through_the_server(exported, stub):
    text, at = long_text()
    assert len(text) == 6000 and 4950 <= at <= 5000 and text[at:at + 2] == "北京"
    early = FILLER[:12] + SHORT_TEXT + " " + text  # another entity, in the first window
    short, short_ms = timed(lambda: grpc_predict(stub, "ner_free", {"text": [SHORT_TEXT]}))
    assert entities(short, 0) == [("LOC", "北京", 3, 5)]
    assert short["num_windows"][0] == 1 and not short["truncated"][0]
    out, long_ms = timed(lambda: grpc_predict(stub, "ner_free", {"text": [text, early]}))
    # The short text's entity, moved to where the long texts have it.
    moved = lambda shift: [(t, x, s + shift, e + shift)  # noqa: E731
                           for t, x, s, e in entities(short, 0)]
    assert entities(out, 0) == moved(at - SHORT_TEXT.index("北京"))
    shift = len(FILLER[:12] + SHORT_TEXT + " ")
    assert entities(out, 1) == moved(12) + moved(shift + at - SHORT_TEXT.index("北京"))
    windows = int(out["num_windows"][0])
    assert windows > 1 and not out["truncated"].any()
    # The entity lies far past what one window holds (SEQ - 2 pieces).
    from tfbert.tokenization import BertTokenizer
    tokenizer = BertTokenizer(os.path.join(exported[1]["ner_free"], "vocab.txt"))
    before = int(tokenizer.tokenize(tf.constant([text[:at]])).row_lengths()[0])
    assert before > 10 * (SEQ - 2)
    print(f"\nNER long input: {len(text)} characters, {before} pieces before the entity, "
          f"entity at [{at}, {at + 2}), {windows} windows (doc_stride "
          f"{(SEQ - 2) // 2}); gRPC {long_ms:.0f} ms for the two long texts vs "
          f"{short_ms:.0f} ms for a {len(SHORT_TEXT)}-character text")


@pytest.mark.slow
def test_qa_answer_at_5000_of_6000_characters_through_the_server(exported, stub):
    text, at = long_text()
    short = grpc_predict(stub, "qa_free", {"question": ["where?"], "context": [SHORT_TEXT]})
    assert (short["answer"][0].decode(), short["start"][0], short["end"][0]) == ("北京", 3, 5)
    out, long_ms = timed(lambda: grpc_predict(stub, "qa_free",
                                              {"question": ["where?"], "context": [text]}))
    assert (out["answer"][0].decode(), out["start"][0], out["end"][0]) == ("北京", at, at + 2)
    np.testing.assert_allclose(out["score"], short["score"], atol=1e-4)
    assert out["num_windows"][0] > 10 and not out["truncated"][0]
    print(f"\nQA long context: {len(text)} characters, answer at [{at}, {at + 2}), "
          f"{out['num_windows'][0]} windows, gRPC {long_ms:.0f} ms")


def _reference_ner(model, tokenizer, text, seq, stride, labels):
    """Entities from the Keras model, windows cut and merged in plain Python."""
    from tfbert.tasks.ner.postprocess import tagged_entities
    from tfbert.tasks.squad.features import _max_context, doc_spans
    from tfbert.tokenization import char_offsets
    batch = tf.constant([text])
    ids, starts, ends = tokenizer.tokenize_with_offsets(batch)
    starts, ends = (x[0].numpy().tolist() for x in char_offsets(batch, starts, ends))
    ids = ids[0].numpy().tolist()
    spans = doc_spans(len(ids), seq - 2, stride)
    token_ids = np.zeros((len(spans), seq), np.int32)
    mask = np.zeros_like(token_ids)
    for i, (start, length) in enumerate(spans):
        row = [tokenizer.cls_id] + ids[start:start + length] + [tokenizer.sep_id]
        token_ids[i, :len(row)], mask[i, :len(row)] = row, 1
    logits = keras.ops.convert_to_numpy(model({"token_ids": token_ids, "padding_mask": mask,
                                               "segment_ids": np.zeros_like(mask)}))
    tags = []
    for p in range(len(ids)):
        i = _max_context(spans, p)
        tags.append(int(np.argmax(logits[i, 1 + p - spans[i][0]])))
    words, word_tags = [], []
    for p, piece in enumerate(ids):
        if p > 0 and tokenizer.vocab[piece].startswith("##"):
            words[-1] = (words[-1][0], ends[p])
        else:
            words.append((starts[p], ends[p]))
            word_tags.append(labels[tags[p]])
    return [(e["type"], e["text"], e["start"], e["end"])
            for e in tagged_entities(text, words, word_tags)]


@pytest.mark.slow
def test_ner_windows_match_a_python_reference(exported, stub):
    """Untrained max_seq_length-13 model: every tag depends on its window; merged as BERT."""
    from tfbert.tokenization import BertTokenizer
    from tfbert.training.run_dir import load_run
    run, version_dir = exported[1]["ner_tiny"], exported[2]["ner_tiny"]
    model, vocab_file, info = load_run(run)
    tokenizer = BertTokenizer(vocab_file)
    texts = [fx.TEXTS[1] * 4, "北京人喜欢 new york, 今天天气很好. " * 6, fx.TEXTS[5], "", "ok",
             "unknown walking dogs " * 9]
    out = grpc_predict(stub, "ner_tiny", {"text": texts})
    stride = (fx.MAX_SEQ_LENGTH - 2) // 2
    recorded = json.load(open(os.path.join(version_dir, "assets.extra", "export_info.json")))
    assert recorded["doc_stride"] == stride
    found = 0
    for row, text in enumerate(texts):
        want = _reference_ner(model, tokenizer, text, fx.MAX_SEQ_LENGTH, stride, fx.NER_LABELS)
        assert entities(out, row) == want, row
        found += len(want)
    assert found > 20 and out["num_windows"].max() > 5
    assert out["entity_start"].shape[1] == max(fx.MAX_SEQ_LENGTH - 2, max(out["num_entities"]))


@pytest.mark.slow
def test_qa_windows_match_run_squad_rules(exported, stub):
    """Untrained model: the best span over all windows, start in its max-context window."""
    from tfbert.data.squad import SquadExample
    from tfbert.tasks.squad.features import squad_features
    from tfbert.tokenization import BertTokenizer
    from tfbert.training.run_dir import load_run
    model, vocab_file, _ = load_run(exported[1]["qa_tiny"])
    tokenizer = BertTokenizer(vocab_file)
    questions = ["where does john live?", "what is a good film?", "我", "who", "the cat"]
    contexts = [fx.TEXTS[1] * 5, "北京人喜欢 new york, 今天天气很好. " * 5, "a", "",
                "the cat sat on the mat " * 12]
    out = grpc_predict(stub, "qa_tiny", {"question": questions, "context": contexts})
    seq, query = fx.MAX_SEQ_LENGTH, (fx.MAX_SEQ_LENGTH - 3) // 2
    features = squad_features([SquadExample(str(i), q, c, []) for i, (q, c)
                               in enumerate(zip(questions, contexts))], tokenizer, seq,
                              doc_stride=(seq - 3 - query) // 2, max_query_length=query)
    logits = model(features.inputs, training=False)
    start_logits, end_logits = (keras.ops.convert_to_numpy(logits[k])
                                for k in ("start_logits", "end_logits"))
    for n, context in enumerate(contexts):
        best = None
        rows = np.flatnonzero(features.example == n)
        for f in rows:
            for s in range(seq):
                if features.char_start[f, s] < 0 or not features.max_context[f, s]:
                    continue
                for e in range(s, min(s + 30, seq)):
                    if features.char_start[f, e] >= 0:
                        score = start_logits[f, s] + end_logits[f, e]
                        if best is None or score > best[0]:
                            best = (score, features.char_start[f, s], features.char_end[f, e])
        assert out["num_windows"][n] == len(rows)
        if best is None:
            assert (out["start"][n], out["end"][n], out["answer"][n]) == (-1, -1, b"")
            continue
        assert (out["start"][n], out["end"][n]) == (best[1], best[2]), n
        assert out["answer"][n].decode() == context[best[1]:best[2]]
        np.testing.assert_allclose(out["score"][n], best[0], atol=1e-4)
    assert out["num_windows"].max() > 5


@pytest.mark.slow
def test_doc_stride_flag_is_recorded_and_checked(exported, tmp_path):
    base, runs = str(tmp_path / "models"), exported[1]
    version_dir = saved_model.export_saved_model(runs["ner_tiny"], base, "n", doc_stride=2)
    info = json.load(open(os.path.join(version_dir, "assets.extra", "export_info.json")))
    assert info["doc_stride"] == 2
    text = ["北京人喜欢 new york, 今天天气很好. " * 3]
    out = tf.saved_model.load(version_dir).signatures["serving_default"](text=tf.constant(text))
    default = tf.saved_model.load(exported[2]["ner_tiny"]).signatures["serving_default"](
        text=tf.constant(text))
    assert out["num_windows"].numpy()[0] > default["num_windows"].numpy()[0]
    with pytest.raises(ValueError, match="doc_stride"):
        saved_model.export_saved_model(runs["ner_tiny"], base, "m", doc_stride=0)
    classifier = fx.tiny_run(str(tmp_path / "cls"), "classification")
    with pytest.raises(ValueError, match="--doc_stride=3 is for NER and QA"):
        saved_model.export_saved_model(classifier, base, "c", doc_stride=3)


@pytest.mark.slow
def test_classification_says_when_it_truncated(tmp_path):
    """`truncated` per example (the export's graph is this function, traced: test_export)."""
    load_serving_functions = saved_model.load_serving_functions
    texts = tf.constant(["the cat sat", "the cat sat on the mat the cat sat on the",
                         "the cat sat on the mat " * 3, ""])
    pairs = tf.constant(["a", "", "x", "the cat sat on the mat the cat"])
    single = load_serving_functions(fx.tiny_run(str(tmp_path / "single"), "classification"))
    # 3, 11 (= max_seq_length - 2: fits), 18 and 0 pieces.
    assert single.serve(texts)["truncated"].numpy().tolist() == [False, False, True, False]
    pair = load_serving_functions(fx.tiny_run(str(tmp_path / "pair"), "classification",
                                              text_pair=True))
    # 3 + 1, 11 + 0 (> max_seq_length - 3), 18 + 1, 0 + 8 pieces.
    assert pair.serve(texts, pairs)["truncated"].numpy().tolist() == [False, True, True, False]
    regression = load_serving_functions(fx.tiny_run(str(tmp_path / "reg"), "regression"))
    got = regression.serve(texts)
    assert sorted(got) == ["score", "truncated"]
    assert got["truncated"].numpy().tolist() == [False, False, True, False]
