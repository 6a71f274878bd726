"""benchmarks/quality.py: the linear baselines and the seed aggregation (no real training)."""

import pytest

from benchmarks import quality
from benchmarks.baselines import ner_baseline, sentiment_baseline


def test_sentiment_baseline_separates_separable_reviews():
    train = [("很好 喜欢", 1), ("非常 喜欢", 1), ("太差 失望", 0), ("很差 退货", 0)] * 5
    eval_ = [("喜欢", 1), ("失望 太差", 0), ("很好", 1)]
    assert sentiment_baseline(train, eval_) == {"eval_accuracy": 1.0}


def test_ner_baseline_scores_entities_as_spans():
    sentence = (list("张三在北京"), ["B-PER", "I-PER", "O", "B-LOC", "I-LOC"])
    scores = ner_baseline([sentence] * 10, [sentence])
    assert scores == {"eval_f1": 1.0, "eval_precision": 1.0, "eval_recall": 1.0}


def test_spread_is_mean_and_population_std():
    assert quality.spread([0.8, 0.9]) == "0.850 ± 0.050 (n=2)"


def test_run_quality_pairs_each_seed_with_its_ablation(monkeypatch, tmp_path):
    calls = []

    def fake_quickstart(work_dir, task, pretrain_steps, seed, config):
        calls.append((task, pretrain_steps, seed))
        return {"eval_accuracy": 0.8 + 0.01 * seed + (0.05 if pretrain_steps else 0.0),
                "seconds": 1.0}

    monkeypatch.setattr(quality.quickstart, "run_quickstart", fake_quickstart)
    monkeypatch.setattr(quality, "sentiment_baseline", lambda train, eval_: {
        "eval_accuracy": 0.85})
    settings = {"task": "sentiment", "pretrain_steps": 7, "seed": 5, "config": "tiny"}
    results = quality.run_quality([0, 1], str(tmp_path), settings)
    assert calls == [("sentiment", 7, 0), ("sentiment", 0, 0),
                     ("sentiment", 7, 1), ("sentiment", 0, 1)]
    assert results["transfer"] == pytest.approx([0.05, 0.05])
    assert results["baseline"] == {"eval_accuracy": 0.85}
