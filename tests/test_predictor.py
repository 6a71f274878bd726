"""tfbert.Predictor over the three backends, and the model card every export writes.

Tiny untrained runs (tests/export_fixtures.py) are exported as SavedModels and converted to
.tflite; the Predictor on the run directory, the SavedModel and the .tflite must give the same
labels, entities and answers, probabilities within 1e-5 (run vs SavedModel) and 1e-3 (TFLite).
The texts fit one window of the runs' 32 word pieces (a .tflite may keep only the first
window); `LONG` inputs, longer than that, are compared between the run and the SavedModel.
"""

import json
import os
import shutil

import numpy as np
import pytest

from export import model_card, saved_model, tflite
from tests import export_fixtures as fx
from tfbert import Predictor

TEXTS = fx.TEXTS + ["北京人喜欢 new york", "a", "the dog is very good", "我 喜 欢"]
PAIRS = ["yes", "", "the cat sat", "今天", "a good film", "x", "we like it", "not bad", "好",
         "new york"]
QUESTIONS = ["where is the cat?", "what film?", "我喜欢", "who", "where does john live?"]
CONTEXTS = ["the cat sat on the mat in New York", "a good film, really",
            "今天天气很好, 北京人喜欢", "", "John Smith lives in New York."]
LONG = "John Smith lives in New York, not Paris! 今天天气很好. " * 6
SEQ = 32
METRICS = {"eval_accuracy": 0.8765, "eval_loss": 0.31, "seconds": 12.0,
           "phase_seconds": {"train": 10.0}}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """`{task: {backend: path}}`: run, SavedModel and (where TFLite applies) .tflite."""
    root = tmp_path_factory.mktemp("predictor")
    base = str(root / "models")
    out = {}
    for task in ("classification", "pair", "regression", "ner", "squad"):
        run = fx.tiny_run(str(root / "runs" / task), "classification" if task == "pair"
                          else task, text_pair=task == "pair", seed=len(task), max_seq_length=SEQ)
        if task == "classification":  # what a run from apps.classify leaves for the card
            with open(os.path.join(run, "metrics.json"), "w") as f:
                json.dump(METRICS, f)
            with open(os.path.join(run, "run.json"), "w") as f:
                json.dump({"init_checkpoint": "/ckpt/bert-tiny", "config": None}, f)
            with open(os.path.join(run, "flags.txt"), "w") as f:
                f.write("--init_checkpoint=/ckpt/bert-tiny\n--train_file=/data/reviews.tsv\n")
        out[task] = {"run": run, "saved_model": saved_model.export_saved_model(run, base, task)}
        if task == "classification":  # the export's own graph, converted (fast normalizer)
            out[task]["tflite"] = tflite.convert_saved_model(
                out[task]["saved_model"], str(root / f"{task}.tflite"))
        elif task != "pair":
            out[task]["tflite"] = tflite.convert_tflite(run, str(root / f"{task}.tflite"))
    return out


def _predict_all(paths, *columns, backends=("run", "saved_model", "tflite")):
    return {backend: Predictor(path, batch_size=4).predict(*columns)
            for backend, path in paths.items() if backend in backends}


def _report(task, backend, figure):
    print(f"PARITY {task} {backend} vs saved_model: max abs difference {figure:.3g}")


def _max_prob_diff(a, b):
    return max(abs(x["probabilities"][k] - y["probabilities"][k])
               for x, y in zip(a, b) for k in x["probabilities"])


@pytest.mark.parametrize("task", ["classification", "pair"])
def test_classification_backends_agree(models, task):
    columns = (TEXTS, PAIRS) if task == "pair" else (TEXTS,)
    got = _predict_all(models[task], *columns)
    reference = got["saved_model"]
    assert len(reference) == len(TEXTS)
    for result in reference:
        assert sorted(result) in (["label", "probabilities"],
                                  ["label", "probabilities", "truncated"])
        assert list(result["probabilities"]) == ["neg", "neutral", "pos"]
        assert result["label"] == max(result["probabilities"], key=result["probabilities"].get)
        assert isinstance(result["probabilities"]["pos"], float)
    assert len({r["label"] for r in reference}) > 1  # the untrained model is not constant
    for backend, results in got.items():
        assert [r["label"] for r in results] == [r["label"] for r in reference], backend
        atol = 1e-3 if backend == "tflite" else 1e-5
        _report(task, backend, _max_prob_diff(results, reference))
        assert _max_prob_diff(results, reference) <= atol, backend
    columns = ([LONG, "a"], [LONG, LONG]) if task == "pair" else ([LONG, "a"],)
    long = _predict_all(models[task], *columns, backends=("run", "saved_model"))
    assert [r["label"] for r in long["run"]] == [r["label"] for r in long["saved_model"]]
    assert _max_prob_diff(long["run"], long["saved_model"]) <= 1e-5


def test_regression_backends_agree(models):
    got = _predict_all(models["regression"], TEXTS)
    reference = np.array([r["score"] for r in got["saved_model"]])
    assert all(sorted(r) in (["score"], ["score", "truncated"]) for r in got["saved_model"])
    for backend in ("run", "tflite"):
        _report("regression", backend,
                np.max(np.abs(np.array([r["score"] for r in got[backend]]) - reference)))
    np.testing.assert_allclose([r["score"] for r in got["run"]], reference, atol=1e-5)
    np.testing.assert_allclose([r["score"] for r in got["tflite"]], reference, atol=1e-3)


def test_ner_backends_give_the_same_entities(models):
    got = _predict_all(models["ner"], TEXTS)
    reference = got["saved_model"]
    assert sum(len(r["entities"]) for r in reference) > 0
    for text, result in zip(TEXTS, reference):
        for entity in result["entities"]:
            assert sorted(entity) == ["end", "start", "text", "type"]
            assert text[entity["start"]:entity["end"]] == entity["text"] != ""
            assert entity["type"] in ("PER", "LOC", "ORG")
    assert got["run"] == reference
    assert got["tflite"] == reference  # byte spans turned back into character offsets
    long = _predict_all(models["ner"], [LONG], backends=("run", "saved_model"))
    assert long["run"] == long["saved_model"]
    for entity in long["run"][0]["entities"]:
        assert LONG[entity["start"]:entity["end"]] == entity["text"]


def test_qa_backends_give_the_same_answers(models):
    got = _predict_all(models["squad"], QUESTIONS, CONTEXTS)
    reference = got["saved_model"]
    for context, answer in zip(CONTEXTS, reference):
        assert {"end", "score", "start", "text"} <= set(answer) <= {
            "end", "score", "start", "text", "truncated"}
        if context:
            assert 0 <= answer["start"] < answer["end"] <= len(context)
            assert context[answer["start"]:answer["end"]] == answer["text"]
        else:
            assert (answer["text"], answer["start"], answer["end"], answer["score"]) == (
                "", -1, -1, 0.0)
    for backend, results in got.items():
        strip = [{k: v for k, v in r.items() if k != "score"} for r in results]
        assert strip == [{k: v for k, v in r.items() if k != "score"} for r in reference]
        atol = 1e-3 if backend == "tflite" else 1e-5
        scores = np.array([r["score"] for r in results])
        _report("squad", backend, np.max(np.abs(scores - [r["score"] for r in reference])))
        np.testing.assert_allclose(scores, [r["score"] for r in reference], atol=atol)
    long = _predict_all(models["squad"], ["where does john live?"], [LONG],
                        backends=("run", "saved_model"))
    assert long["run"][0]["text"] == long["saved_model"][0]["text"]
    assert long["run"][0]["score"] == pytest.approx(long["saved_model"][0]["score"], abs=1e-5)


def test_model_base_single_text_batches_and_progress(models, capsys):
    version_dir = models["classification"]["saved_model"]
    model_base = os.path.dirname(version_dir)
    shutil.copytree(version_dir, os.path.join(model_base, "12"))
    os.makedirs(os.path.join(model_base, "13"))  # no saved_model.pb: not a version to load
    predictor = Predictor(model_base)
    assert predictor.backend == "saved_model"
    assert predictor.path == os.path.join(model_base, "12")
    assert (predictor.task, predictor.labels, predictor.input_names) == (
        "classification", ["neg", "neutral", "pos"], ["text"])
    one = predictor.predict(TEXTS[1])
    assert isinstance(one, dict)
    whole = predictor.predict(TEXTS, batch_size=len(TEXTS))
    assert one["label"] == whole[1]["label"]
    split = predictor.predict(TEXTS, batch_size=2, progress=True)
    assert "text" in capsys.readouterr().out  # the progress bar: "10/10 ... text"
    assert [r["label"] for r in split] == [r["label"] for r in whole]
    assert predictor.predict([]) == []
    predictor.predict(TEXTS[:3])
    assert capsys.readouterr().out == ""  # no bar on small inputs
    shutil.rmtree(os.path.join(model_base, "12"))
    shutil.rmtree(os.path.join(model_base, "13"))


def test_tflite_without_embedded_facts_infers_the_task(models, tmp_path):
    from tensorflow.lite.tools import flatbuffer_utils

    from tfbert.litert import INFO_METADATA, read_export_info
    path = models["ner"]["tflite"]
    assert read_export_info(path)["labels"] == fx.NER_LABELS
    model = flatbuffer_utils.read_model(path)
    model.metadata = [m for m in model.metadata if m.name != INFO_METADATA.encode()]
    bare = str(tmp_path / "bare.tflite")
    flatbuffer_utils.write_model(model, bare)
    assert read_export_info(bare) is None
    predictor = Predictor(bare)
    assert predictor.task == "ner"
    assert predictor.predict(TEXTS) == Predictor(path).predict(TEXTS)


def test_errors_name_the_argument(models, tmp_path):
    with pytest.raises(ValueError, match="not found"):
        Predictor(str(tmp_path / "missing"))
    (tmp_path / "model.bin").write_text("x")
    with pytest.raises(ValueError, match="not a .tflite"):
        Predictor(str(tmp_path / "model.bin"))
    with pytest.raises(ValueError, match="neither a SavedModel"):
        Predictor(str(tmp_path))
    with pytest.raises(ValueError, match="batch_size"):
        Predictor(models["classification"]["run"], batch_size=0)
    qa = Predictor(models["squad"]["saved_model"])
    with pytest.raises(ValueError, match=r"predict\(questions, contexts\)"):
        qa.predict(QUESTIONS)
    with pytest.raises(ValueError, match="same length"):
        qa.predict(QUESTIONS, CONTEXTS[:2])
    single = Predictor(models["classification"]["saved_model"])
    with pytest.raises(ValueError, match="one-text classification model"):
        single.predict(TEXTS, PAIRS)
    with pytest.raises(ValueError, match="input 1 is a int"):
        single.predict(["ok", 3])


def test_model_cards_hold_the_run_and_its_metrics(models):
    version_dir = models["classification"]["saved_model"]
    card = open(os.path.join(version_dir, "README.md"), encoding="utf-8").read()
    for fact in ("tfbert classification model", "neg, neutral, pos", "/ckpt/bert-tiny",
                 "/data/reviews.tsv", "| eval_accuracy | 0.8765 |", "| eval_loss | 0.3100 |",
                 f"{SEQ} word pieces", "lower-cased", "normalizer `fast`",
                 f'Predictor("{version_dir}")', "python -m export.server",
                 "python -m export.client", "--model_name=classification"):
        assert fact in card, fact
    assert "seconds" not in card  # evaluation figures only
    info = json.load(open(os.path.join(version_dir, "assets.extra", "export_info.json")))
    assert info["model_card"]["metrics"] == {"eval_accuracy": 0.8765, "eval_loss": 0.31}
    # The .tflite converted from that SavedModel still knows the run.
    path = models["classification"]["tflite"]
    device_card = open(model_card.tflite_card_path(path), encoding="utf-8").read()
    assert path.endswith(".tflite") and model_card.tflite_card_path(path).endswith(".README.md")
    for fact in ("| eval_accuracy | 0.8765 |", "/data/reviews.tsv", "InterpreterWithCustomOps",
                 "SELECT_TFTEXT_OPS", f'Predictor("{path}")'):
        assert fact in device_card, fact
    # A run without metrics, flags or run.json says so.
    ner_card = open(model_card.tflite_card_path(models["ner"]["tflite"])).read()
    assert "None recorded" in ner_card and "entity_start_byte" in ner_card
    qa_card = open(os.path.join(models["squad"]["saved_model"], "README.md")).read()
    assert "`question`, `context`" in qa_card and "PredictRequest" in qa_card


def test_training_data_defaults_to_the_shipped_split(tmp_path):
    run = fx.tiny_run(str(tmp_path / "run"), "ner")
    (tmp_path / "run" / "flags.txt").write_text("--config=tiny\n")
    (tmp_path / "run" / "run.json").write_text(json.dumps({"config": "tiny",
                                                           "init_checkpoint": None}))
    facts = model_card.card_facts(run, {"task": "ner", "max_seq_length": 13}, False, "exact")
    assert "People's Daily" in facts["training_data"]
    assert facts["base_checkpoint"] == "none: trained from --config=tiny"
    card = model_card.render(facts, "saved_model", str(tmp_path / "m" / "1"))
    assert "case kept" in card and "cut to the first window" in card
    windowed = dict(facts, doc_stride=64)
    assert "windows 64 pieces apart" in model_card.render(windowed, "saved_model", "m/1")
    assert "cut to the first window" in model_card.render(windowed, "tflite", "m.tflite")


def test_embedding_export_card_and_predictor(tmp_path):
    from tests.test_embedding import tiny_checkpoint
    checkpoint = tiny_checkpoint(tmp_path / "ckpt")
    version_dir = saved_model.export_embedding(checkpoint, str(tmp_path / "models"), "emb",
                                               max_seq_length=fx.MAX_SEQ_LENGTH)
    card = open(os.path.join(version_dir, "README.md"), encoding="utf-8").read()
    assert "tfbert embedding model" in card and checkpoint in card
    assert "`embedding` float32" in card
    vectors = Predictor(version_dir).predict(["the cat", "今天"])
    assert [len(v["embedding"]) for v in vectors] == [12, 12]
    np.testing.assert_allclose(np.linalg.norm(vectors[0]["embedding"]), 1.0, atol=1e-5)
