"""The embedded-default pipeline end to end (shortened), run as a user runs it."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_quickstart_writes_a_servable_summary(tmp_path):
    from export.tflite import TFLiteModel
    done = subprocess.run(
        [sys.executable, "-m", "apps.quickstart", f"--work_dir={tmp_path}",
         "--vocab_size=6000", "--pretrain_steps=10", "--finetune_steps=20",
         "--max_seq_length=64", "--pretrain_seq_length=64", "--batch_size=16"],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    with open(tmp_path / "summary.json") as f:
        summary = json.load(f)
    assert 0.0 <= summary["eval_accuracy"] <= 1.0
    assert {"heldout_mlm_accuracy", "heldout_nsp_accuracy"} <= set(summary)
    version_dir = summary["saved_model_dir"]
    assert os.path.basename(version_dir).isdigit()
    assert os.path.basename(os.path.dirname(version_dir)) == "sentiment"
    assert os.path.exists(os.path.join(version_dir, "saved_model.pb"))
    probabilities = TFLiteModel(summary["tflite_file"]).predict(["质量很好", "太差了"])
    probabilities = np.asarray(probabilities["probabilities"])
    assert probabilities.shape == (2, 2)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-5)


@pytest.mark.slow
def test_ner_quickstart_writes_entity_scores_and_ships(tmp_path):
    from export.tflite import TFLiteModel
    done = subprocess.run(
        [sys.executable, "-m", "apps.quickstart", "--task=ner", f"--work_dir={tmp_path}",
         "--vocab_size=6000", "--pretrain_steps=10", "--finetune_steps=20",
         "--max_seq_length=64", "--pretrain_seq_length=64", "--batch_size=16"],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert {"eval_f1", "eval_precision", "eval_recall", "heldout_mlm_accuracy",
            "heldout_nsp_accuracy"} <= set(summary)
    assert all(0.0 <= summary[k] <= 1.0 for k in ("eval_f1", "eval_precision", "eval_recall"))
    version_dir = summary["saved_model_dir"]
    assert os.path.basename(os.path.dirname(version_dir)) == "ner"
    assert os.path.basename(version_dir).isdigit()
    outputs = TFLiteModel(summary["tflite_file"]).predict(["江泽民在北京会见了客人。"])
    assert outputs["num_entities"].shape == (1,)
    assert os.path.exists(summary["learning_curve"])
