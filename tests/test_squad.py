"""SQuAD: window features map answers back exactly, official-style scoring, the program."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import write_tiny_config, write_vocab
from tfbert.data.squad import SquadExample, read_squad
from tfbert.tasks.squad import features as squad_inputs
from tfbert.tasks.squad import metrics as squad_metrics
from tfbert.tasks.squad import postprocess as squad_postprocess
from tfbert.tokenization import BertTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORDS = ("the a an of in to and is was by at on city river north south old new "
         "king queen built bridge tower who what when where which year founded named "
         "after first second people lived there stone wooden museum").split()
# "##s" and "##ing" make some words two pieces; "denverites" has no pieces -> one [UNK].
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "?", "'", "-", "0", "1",
         "2", "9", "##0", "##9", "##s", "##ing", "build", "tow"] + WORDS


def _write_vocab(directory):
    return write_vocab(directory, VOCAB)




def synthetic_squad(version_2, seed=0, paragraphs=6):
    """A SQuAD-format dict: contexts of random sentences, answers on word boundaries."""
    rng = np.random.default_rng(seed)
    data = []
    for p in range(paragraphs):
        words = [str(rng.choice(WORDS)) for _ in range(int(rng.integers(20, 90)))]
        words[3] = "Denverites"  # an [UNK] word
        words[5] = "towers,"  # two pieces plus punctuation
        words[7] = "1909"  # several pieces
        context = " ".join(words) + "."
        starts = np.cumsum([0] + [len(w) + 1 for w in words])
        qas = []
        for q in range(4):
            first = int(rng.integers(0, len(words) - 3))
            last = first + int(rng.integers(0, 3))
            text = context[starts[first]:starts[last] + len(words[last])]
            qa = {"id": f"p{p}q{q}", "question": f"what {words[first]} was {q}?",
                  "answers": [{"text": text, "answer_start": int(starts[first])}]}
            if version_2 and q == 3:
                qa = {"id": qa["id"], "question": "who built the stone bridge?",
                      "answers": [], "is_impossible": True}
            qas.append(qa)
        data.append({"title": f"t{p}", "paragraphs": [{"context": context, "qas": qas}]})
    return {"version": "v2.0" if version_2 else "1.1", "data": data}


def write_squad(directory, name, version_2, seed=0):
    path = os.path.join(str(directory), name)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(synthetic_squad(version_2, seed), f)
    return path


@pytest.mark.parametrize("version_2", [False, True])
@pytest.mark.parametrize("max_seq_length,doc_stride", [(64, 128), (24, 5)])
def test_feature_positions_map_back_to_answers(tmp_path, version_2, max_seq_length,
                                               doc_stride):
    examples = read_squad(write_squad(tmp_path, "train.json", version_2))
    tokenizer = BertTokenizer(_write_vocab(tmp_path))
    features = squad_inputs.squad_features(examples, tokenizer, max_seq_length,
                                           doc_stride=doc_stride, max_query_length=8)
    assert features.inputs["token_ids"].shape == (len(features.example), max_seq_length)
    for n, example in enumerate(examples):
        rows = np.flatnonzero(features.example == n)
        assert len(rows) >= 1
        found = 0
        for r in rows:
            s, e = features.start_positions[r], features.end_positions[r]
            if s == 0:
                assert e == 0
                continue
            found += 1
            text = example.context[features.char_start[r, s]:features.char_end[r, e]]
            assert text == example.answers[0][0], (example.id, r)
            assert features.inputs["segment_ids"][r, s] == 1
        # Every answerable question is inside at least one window (answers are short).
        assert found >= 1 if not example.is_impossible else found == 0
        # Each context piece is "max context" in exactly one window.
        context_pieces = features.max_context[rows].sum()
        assert context_pieces == len(tokenizer.tokenize([example.context]).to_list()[0])
    if doc_stride == 5:
        assert len(features.example) > 2 * len(examples)  # several windows per question


def test_doc_spans_as_run_squad():
    assert squad_inputs.doc_spans(10, 4, 3) == [(0, 4), (3, 4), (6, 4)]
    assert squad_inputs.doc_spans(3, 4, 3) == [(0, 3)]
    assert squad_inputs.doc_spans(0, 4, 3) == [(0, 0)]


def test_features_reject_too_long_query(tmp_path):
    tokenizer = BertTokenizer(_write_vocab(tmp_path))
    with pytest.raises(ValueError, match="max_query_length"):
        squad_inputs.squad_features([], tokenizer, 16, max_query_length=13)
    with pytest.raises(ValueError, match="doc_stride"):
        squad_inputs.squad_features([], tokenizer, 16, doc_stride=0, max_query_length=4)


def test_postprocess_picks_exact_substring_and_null(tmp_path):
    tokenizer = BertTokenizer(_write_vocab(tmp_path))
    context = "the old towers, built in 1909."
    examples = [SquadExample("a", "who built it?", context, [("old towers", 4)]),
                SquadExample("b", "who built it?", context, [], True)]
    features = squad_inputs.squad_features(examples, tokenizer, 32, max_query_length=8)
    start = np.full(features.char_start.shape, -5.0)
    end = np.full(features.char_start.shape, -5.0)
    s, e = features.start_positions[0], features.end_positions[0]
    start[0, s], end[0, e] = 3.0, 3.0  # span score 6 beats null -10
    start[1, 0], end[1, 0] = 4.0, 4.0  # null 8 beats the best span (-10)
    predictions, nbest, null_odds = squad_postprocess.postprocess(
        examples, features, start, end, n_best_size=3, version_2_with_negative=True)
    assert predictions == {"a": "old towers", "b": ""}
    assert nbest["a"][0]["text"] == "old towers"
    assert abs(sum(c["probability"] for c in nbest["a"]) - 1) < 1e-6
    assert null_odds["a"] < 0 < null_odds["b"]
    v1, _, _ = squad_postprocess.postprocess(examples, features, start, end)
    assert v1["a"] == "old towers" and v1["b"] != ""


def test_normalize_answer():
    assert squad_metrics.normalize_answer("  The  Old-Towers, an Anchor! ") == \
        "oldtowers anchor"
    assert squad_metrics.normalize_answer("A") == ""


def test_scores_match_hand_computed():
    examples = [
        SquadExample("1", "q", "c", [("the Old Bridge", 0)]),
        SquadExample("2", "q", "c", [("north river", 0), ("river", 6)]),
        SquadExample("3", "q", "c", [("stone tower built", 0)]),
        SquadExample("4", "q", "c", [], True),
        SquadExample("5", "q", "c", [], True),
        SquadExample("6", "q", "c", [("king", 0)]),
    ]
    predictions = {"1": "old bridge.", "2": "the river bank", "3": "tower stone",
                   "4": "", "5": "river", "6": ""}
    scores = squad_metrics.squad_scores(examples, predictions)
    # Per question EM / F1:
    # 1: "old bridge" == "old bridge" -> 1 / 1
    # 2: vs "river": P=1/2, R=1 -> F1=2/3; vs "north river": P=1/2, R=1/2 -> 1/2; EM 0
    # 3: common {stone, tower}: P=2/2, R=2/3 -> F1=0.8; EM 0
    # 4: no answer, predicted "" -> 1 / 1;  5: no answer, predicted "river" -> 0 / 0
    # 6: answer "king", predicted "" -> 0 / 0
    assert scores["total"] == 6
    assert scores["exact"] == pytest.approx(100 * 2 / 6)
    assert scores["f1"] == pytest.approx(100 * (1 + 2 / 3 + 0.8 + 1) / 6)
    assert scores["HasAns_total"] == 4 and scores["NoAns_total"] == 2
    assert scores["HasAns_f1"] == pytest.approx(100 * (1 + 2 / 3 + 0.8) / 4)
    assert scores["NoAns_exact"] == pytest.approx(50.0)
    v1 = squad_metrics.squad_scores(examples[:3], {"1": "the old bridge"})
    assert v1["exact"] == pytest.approx(100 / 3) and "HasAns_exact" not in v1


def test_scores_count_missing_prediction_as_zero():
    examples = [SquadExample("1", "q", "c", [("x", 0)])]
    assert squad_metrics.squad_scores(examples, {})["f1"] == 0.0


def _run_squad_program(tmp_path, version_2):
    train = write_squad(tmp_path, "train.json", version_2, seed=1)
    dev = write_squad(tmp_path, "dev.json", version_2, seed=2)
    model_dir = os.path.join(str(tmp_path), "run")
    args = [sys.executable, "-m", "apps.squad", f"--model_dir={model_dir}",
            f"--config={write_tiny_config(tmp_path)}", f"--vocab_file={_write_vocab(tmp_path)}",
            f"--train_file={train}", f"--eval_file={dev}", "--max_seq_length=40",
            "--doc_stride=16", "--max_query_length=10", "--batch_size=4", "--train_steps=6",
            "--steps_per_loop=3", "--learning_rate=1e-3"]
    if version_2:
        args.append("--version_2_with_negative")
    env = dict(os.environ, PYTHONPATH=ROOT, CUDA_VISIBLE_DEVICES="")
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(os.path.join(model_dir, "predictions.json")) as f:
        predictions = json.load(f)
    with open(os.path.join(model_dir, "metrics.json")) as f:
        metrics = json.load(f)
    examples = read_squad(dev)
    assert set(predictions) == {e.id for e in examples}
    for e in examples:  # every answer is an exact substring of its context
        assert predictions[e.id] in e.context
    assert 0.0 <= metrics["eval_f1"] <= 100.0 and metrics["eval_total"] == len(examples)
    assert os.path.isfile(os.path.join(model_dir, "nbest_predictions.json"))
    with open(os.path.join(model_dir, "task.json")) as f:
        assert json.load(f)["task"] == "squad"
    return model_dir, metrics


@pytest.mark.slow
def test_squad_program_v1_end_to_end(tmp_path):
    _run_squad_program(tmp_path, version_2=False)


@pytest.mark.slow
def test_squad_program_v2_end_to_end(tmp_path):
    model_dir, metrics = _run_squad_program(tmp_path, version_2=True)
    assert metrics["eval_NoAns_total"] > 0
    assert os.path.isfile(os.path.join(model_dir, "null_odds.json"))


def test_squad_worker_v2_writes_predictions(tmp_path):
    from tfbert.tasks.squad.run import train_squad
    from tfbert.training.options import TrainingOptions
    train = read_squad(write_squad(tmp_path, "train.json", True, seed=1))
    dev = read_squad(write_squad(tmp_path, "dev.json", True, seed=2))
    options = TrainingOptions(model_dir=str(tmp_path / "run"), config=write_tiny_config(tmp_path),
                              vocab_file=_write_vocab(tmp_path), max_seq_length=40,
                              batch_size=4, train_steps=2, steps_per_loop=2)
    metrics = train_squad(options, train, dev, version_2_with_negative=True, doc_stride=16,
                          max_query_length=10)
    with open(tmp_path / "run" / "predictions.json") as f:
        predictions = json.load(f)
    assert set(predictions) == {e.id for e in dev}
    assert all(predictions[e.id] in e.context for e in dev)
    assert metrics["eval_total"] == len(dev) and metrics["eval_NoAns_total"] == 6
    for name in ("nbest_predictions.json", "null_odds.json", "model.keras", "metrics.json"):
        assert (tmp_path / "run" / name).is_file()
    with open(tmp_path / "run" / "task.json") as f:  # the export windows the same way
        info = json.load(f)
    assert (info["doc_stride"], info["max_query_length"]) == (16, 10)


def test_v1_training_rejects_unanswerable(tmp_path):
    from tfbert.tasks.squad.run import train_squad
    from tfbert.training.options import TrainingOptions
    examples = read_squad(write_squad(tmp_path, "train.json", version_2=True))
    options = TrainingOptions(model_dir=str(tmp_path / "run"), config=write_tiny_config(tmp_path),
                              vocab_file=_write_vocab(tmp_path), max_seq_length=32)
    with pytest.raises(ValueError, match="--version_2_with_negative"):
        train_squad(options, examples, [])


# === CMRC 2018 (Chinese) ===

# A file in CMRC 2018's layout: SQuAD JSON with paragraph and article ids, several answers.
CMRC_FILE = {
    "version": "v1.0",
    "data": [{"id": "DEV_0", "title": "故宫", "paragraphs": [{
        "id": "DEV_0",
        "context": "故宫位于北京市中心，旧称紫禁城，是明清两代的皇家宫殿。",
        "qas": [
            {"question": "故宫位于哪里？", "id": "DEV_0_QUERY_0",
             "answers": [{"text": "北京市中心", "answer_start": 4},
                         {"text": "北京市", "answer_start": 4}]},
            {"question": "故宫旧称什么？", "id": "DEV_0_QUERY_1",
             "answers": [{"text": "紫禁城", "answer_start": 12}]},
            {"question": "故宫是哪两代的宫殿？", "id": "DEV_0_QUERY_2",
             "answers": [{"text": "明清两代", "answer_start": 17}]},
        ]}]}],
}


def test_cmrc_segments_split_chinese_by_character_and_keep_words():
    assert squad_metrics.cmrc_segments("我爱NLP 2.5版, Hello！") == [
        "我", "爱", "nlp", "2.5", "版", ",", "hello", "！"]
    assert squad_metrics.cmrc_segments("《紫禁城》", remove_punctuation=True) == [
        "紫", "禁", "城"]


def test_cmrc_f1_is_over_the_longest_common_run():
    assert squad_metrics.cmrc_f1("北京大学", "北京") == pytest.approx(2 * (2 / 4) * 1 / (2 / 4 + 1))
    # "北京" and "大学" are both shared but not as one run: the longest run is 2 of 5 / 4.
    assert squad_metrics.cmrc_f1("北京和大学", "北京大学") == pytest.approx(
        2 * (2 / 5) * (2 / 4) / (2 / 5 + 2 / 4))
    assert squad_metrics.cmrc_f1("上海", "北京") == 0.0
    assert squad_metrics.cmrc_exact_match("《紫禁城》", "紫禁城") == 1.0
    assert squad_metrics.cmrc_exact_match("紫禁城。", "紫禁城") == 1.0


def test_cmrc_file_reads_and_scores_by_hand(tmp_path):
    path = tmp_path / "cmrc2018_dev.json"
    path.write_text(json.dumps(CMRC_FILE, ensure_ascii=False), encoding="utf-8")
    examples = read_squad(path)
    assert [e.id for e in examples] == ["DEV_0_QUERY_0", "DEV_0_QUERY_1", "DEV_0_QUERY_2"]
    predictions = {"DEV_0_QUERY_0": "北京市", "DEV_0_QUERY_1": "《紫禁城》"}
    scores = squad_metrics.qa_scores(examples, predictions)
    # Question 0 matches its second answer, question 1 after punctuation removal, question 2
    # has no prediction (0, counted as skipped).
    assert scores["metric"] == "cmrc"
    assert scores["exact"] == pytest.approx(200 / 3)
    assert scores["f1"] == pytest.approx(200 / 3)
    assert scores["average"] == pytest.approx(200 / 3)
    assert (scores["total"], scores["skipped"]) == (3, 1)
    # The English metric sees one "word" per Chinese answer: no partial credit there.
    english = squad_metrics.qa_scores(examples, {"DEV_0_QUERY_2": "明清"}, metric="squad")
    chinese = squad_metrics.qa_scores(examples, {"DEV_0_QUERY_2": "明清"})
    assert (english["metric"], english["f1"]) == ("squad", 0.0)
    assert chinese["f1"] == pytest.approx(100 / 3 * (2 * 1 * 0.5 / 1.5))


def test_qa_scores_pick_squad_for_english_and_reject_unknown_metric():
    examples = [SquadExample("q", "Who?", "Tom went home.", [("Tom", 0)])]
    assert squad_metrics.qa_scores(examples, {"q": "Tom"})["metric"] == "squad"
    with pytest.raises(ValueError, match="`metric` must be one of"):
        squad_metrics.qa_scores(examples, {}, metric="bleu")
