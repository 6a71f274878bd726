"""benchmarks/finetune.py and benchmarks/inference.py: ratios, JSON, missing peers, and the
workers end to end (the real runs of tfbert are marked slow; no peer package is needed)."""

import json

import pytest

from benchmarks import endtoend, finetune, inference
from tfbert import BertConfig
from tfbert.errors import UsageError


def _row(system, setting, rate):
    return endtoend.result_row(system, setting, examples=rate, seconds=1.0)


def test_ratios_take_each_peers_best_setting():
    rows = [_row("tfbert", "ours", 120.0), _row("keras_hub", "fit", 60.0),
            _row("hf", "random", 50.0), _row("hf", "grouped", 80.0),
            endtoend.failed_row("hf", "broken", RuntimeError("boom\ntrace"))]
    assert endtoend.ratios(rows) == {"ratio_vs_keras_hub": pytest.approx(2.0),
                                     "ratio_vs_hf": pytest.approx(1.5)}
    assert rows[-1]["status"] == "failed: RuntimeError: boom"


def test_ratios_are_null_for_a_missing_peer_and_limited_to_given_settings():
    rows = [_row("tfbert", "a, batch 64", 100.0), _row("tfbert", "b, batch 64", 400.0),
            _row("keras_hub", "p, batch 64", 50.0), _row("keras_hub", "p, batch 1", 5.0),
            endtoend.not_installed_row("hf", "all", ["torch", "transformers"])]
    assert rows[-1]["status"] == "not installed: torch, transformers"
    assert endtoend.ratios(rows, {"a, batch 64"}, {"p, batch 64"}) == {
        "ratio_vs_keras_hub": pytest.approx(2.0), "ratio_vs_hf": None}
    assert endtoend.ratios([rows[-1]]) == {"ratio_vs_keras_hub": None, "ratio_vs_hf": None}


def test_write_json_puts_the_ratios_first_and_the_rows_last(tmp_path):
    rows = [_row("tfbert", "ours", 10.0)]
    path = tmp_path / "out.json"
    endtoend.write_json(str(path), {"rows": rows, "preset": "tiny", "ratio_vs_hf": 1.5})
    report = json.loads(path.read_text())
    assert list(report) == ["ratio_vs_keras_hub", "ratio_vs_hf", "preset", "rows"]
    assert report["ratio_vs_keras_hub"] is None and report["rows"] == rows


def test_parse_systems_keeps_the_canonical_order_and_names_a_bad_flag():
    assert endtoend.parse_systems("hf, tfbert") == ("tfbert", "hf")
    with pytest.raises(UsageError, match="--systems=tfbert,torch"):
        endtoend.parse_systems("tfbert,torch")
    with pytest.raises(UsageError, match="--systems="):
        endtoend.parse_systems(",")


def test_encoder_flops_count_projections_attention_and_pooler():
    config = BertConfig(vocab_size=10, hidden_size=2, num_hidden_layers=1,
                        num_attention_heads=1, intermediate_size=3)
    # One token: 2·(4·4 + 2·2·3) = 56 projection FLOPs, 4·1·2 = 8 attention, 2·4 pooler.
    assert endtoend.encoder_flops([1], config, training=False) == 72
    assert endtoend.encoder_flops([1], config) == 216


def test_spread_sample_spans_the_whole_list():
    assert endtoend.spread_sample(list(range(10)), 3) == [0, 3, 6]
    assert endtoend.spread_sample([1, 2], 0) == [1, 2]


def test_missing_modules():
    assert endtoend.missing_modules(["json", "no_such_module_xyz"]) == ["no_such_module_xyz"]


@pytest.fixture
def no_hf(monkeypatch):
    """Hugging Face's packages missing, whatever this environment has."""
    monkeypatch.setitem(finetune.REQUIREMENTS, "hf", ("no_such_module_xyz",))
    monkeypatch.setitem(inference.REQUIREMENTS, "hf", ("no_such_module_xyz",))
    monkeypatch.setattr(endtoend, "matmul_gflops", lambda: 100.0)


def test_finetune_worker_reports_rows_ratios_and_missing_peers(monkeypatch, tmp_path, no_hf):
    calls = []

    def fake_tfbert(train, *args):
        calls.append(("tfbert", len(train)))
        return len(train)

    def fake_keras_hub(train, *args):
        calls.append(("keras_hub", len(train)))
        return len(train)

    monkeypatch.setattr(finetune, "tfbert_epoch", fake_tfbert)
    monkeypatch.setattr(finetune, "keras_hub_epoch", fake_keras_hub)
    report = finetune.run_finetune("tiny", ("tfbert", "keras_hub", "hf"), 40, 8, 32,
                                   str(tmp_path), rounds=2)
    assert calls == [("tfbert", 40), ("keras_hub", 40)] * 2
    endtoend.write_json(str(tmp_path / "f.json"), report)
    written = json.loads((tmp_path / "f.json").read_text())
    assert {"ratio_vs_keras_hub", "ratio_vs_hf", "rows", "matmul_gflops"} <= set(written)
    assert written["ratio_vs_keras_hub"] > 0 and written["ratio_vs_hf"] is None
    statuses = {(r["system"], r["setting"].split(",")[0]): r["status"] for r in written["rows"]}
    assert statuses[("tfbert", "train_classifier")] == "ok"
    assert statuses[("hf", "Trainer")] == "not installed: no_such_module_xyz"
    ours = written["rows"][0]
    assert 0 < ours["matmul_share"] and ours["useful_tokens_per_s"] > ours["examples_per_s"]


def test_finetune_refuses_fewer_examples_than_a_batch(tmp_path):
    with pytest.raises(UsageError, match="--examples=4"):
        finetune.run_finetune("tiny", ("tfbert",), 4, 8, 32, str(tmp_path))


def test_inference_worker_reports_throughput_latency_and_missing_peers(monkeypatch, tmp_path,
                                                                      no_hf):
    def fake_tfbert(*args):
        return {inference.SAVED_MODEL: lambda texts: ["pos"] * len(texts)}

    monkeypatch.setattr(inference, "tfbert_candidates", fake_tfbert)
    monkeypatch.setattr(inference, "keras_hub_candidates", lambda *args: {
        "predict": lambda texts: [0] * len(texts)})
    report = inference.run_inference("tiny", ("tfbert", "keras_hub", "hf"), 6, 4, 32, 1,
                                     str(tmp_path), latency_calls=3)
    settings = [(r["system"], r["setting"]) for r in report["rows"]]
    assert settings == [("tfbert", "SavedModel, batch 4"), ("tfbert", "SavedModel, batch 1"),
                        ("keras_hub", "predict, batch 4"), ("keras_hub", "predict, batch 1"),
                        ("hf", "all")]
    assert report["rows"][-1]["status"] == "not installed: no_such_module_xyz"
    assert report["ratio_vs_keras_hub"] > 0 and report["ratio_vs_hf"] is None
    assert report["p50_latency_ratio_vs_keras_hub"] > 0
    assert report["rows"][0]["examples"] == 6  # every review, in batches of 4
    assert report["rows"][1]["examples"] == 3 and report["rows"][1]["p99_ms"] > 0


@pytest.mark.slow
def test_finetune_worker_trains_tfbert_for_real(tmp_path, no_hf):
    report = finetune.run_finetune("tiny", ("tfbert", "hf"), 32, 16, 32, str(tmp_path),
                                   bucket_width=16, jit_compile=False)
    assert [r["status"] for r in report["rows"]] == ["ok"] + 2 * [
        "not installed: no_such_module_xyz"]
    assert report["rows"][0]["examples"] == 32 and report["ratio_vs_hf"] is None


@pytest.mark.slow
def test_inference_worker_runs_the_saved_model_for_real(tmp_path, no_hf):
    report = inference.run_inference("tiny", ("tfbert", "hf"), 5, 4, 32, 1, str(tmp_path),
                                     tflite=False)
    assert [r["status"] for r in report["rows"]] == ["ok", "ok",
                                                     "not installed: no_such_module_xyz"]
    assert report["ratio_vs_keras_hub"] is None
