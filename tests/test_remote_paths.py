"""Run and export files go through `tf.io.gfile`: a whole train -> export -> load round trip on
TensorFlow's in-memory `ram://` file system (what `gs://` gets, without a bucket)."""

import json
import os

import pytest
import tensorflow as tf

from tests.test_errors import CHARS, SPECIAL


@pytest.mark.slow
def test_train_export_and_load_on_ram_filesystem(tmp_path, monkeypatch):
    from export.saved_model import export_saved_model
    from tfbert.data.classification import read_classification_file
    from tfbert.tasks.classification.run import predict_file, train_classifier
    from tfbert.training.options import TrainingOptions
    from tfbert.training.run_dir import load_run

    monkeypatch.chdir(tmp_path)  # a local `ram:` folder would appear here
    root = "ram://tfbert-remote"
    with tf.io.gfile.GFile(f"{root}/data/vocab.txt", "w") as f:
        f.write("\n".join(SPECIAL + CHARS) + "\n")
    with tf.io.gfile.GFile(f"{root}/data/train.tsv", "w") as f:
        f.write("pos\t很好\nneg\t很差\npos\t不错\nneg\t太差了\n" * 4)
    with tf.io.gfile.GFile(f"{root}/data/texts.txt", "w") as f:
        f.write("很好\n太差了\n")
    # BertConfig.from_json reads local files only: the config stays on disk.
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"hidden_size": 12, "num_hidden_layers": 2,
                                  "num_attention_heads": 3, "intermediate_size": 37,
                                  "max_position_embeddings": 64}))
    rows = read_classification_file(f"{root}/data/train.tsv")
    train = [(e.text, None, int(e.label == "pos")) for e in rows]
    options = TrainingOptions(model_dir=f"{root}/run", strategy="default", config=str(config),
                              vocab_file=f"{root}/data/vocab.txt", max_seq_length=16,
                              batch_size=4, learning_rate=1e-3, train_steps=4, steps_per_loop=2)
    metrics = train_classifier(options, train, train[:8], ["neg", "pos"])
    assert metrics["train_steps"] == 4
    names = set(tf.io.gfile.listdir(f"{root}/run"))
    assert {"model.keras", "vocab.txt", "task.json", "metrics.json", "backup/",
            "eval_history.jsonl"} <= {n if not tf.io.gfile.isdir(f"{root}/run/{n.rstrip('/')}")
                                      else n.rstrip("/") + "/" for n in names}
    model, vocab_file, info = load_run(f"{root}/run")
    assert info["labels"] == ["neg", "pos"] and vocab_file.startswith("ram://")
    predict_file(f"{root}/run", f"{root}/data/texts.txt", f"{root}/run/predictions.tsv")
    with tf.io.gfile.GFile(f"{root}/run/predictions.tsv") as f:
        assert [line.split("\t")[-1] for line in f.read().splitlines()] == ["很好", "太差了"]

    version_dir = export_saved_model(f"{root}/run", f"{root}/exports", "sentiment")
    assert version_dir == f"{root}/exports/sentiment/1"
    assert tf.io.gfile.exists(f"{root}/exports/models.config")
    loaded = tf.saved_model.load(version_dir)
    outputs = loaded.signatures["serving_default"](text=tf.constant(["很好", "太差了"]))
    assert outputs["probabilities"].shape == (2, 2)
    assert set(outputs["label"].numpy().tolist()) <= {b"neg", b"pos"}
    assert os.listdir(tmp_path) == ["config.json"]  # nothing landed in the working directory
