"""Mistakes users make, and faults during training: one `error:` line, nothing lost.

The table runs each program as a user would (a subprocess) with one mistake, and checks the
exit status, the single `error: ...` line (its key words), that no traceback is shown, and
that the finished run next to it is byte-for-byte untouched and no new directory appeared.
"""

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

MAIN = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = {"hidden_size": 12, "num_hidden_layers": 2, "num_attention_heads": 3,
        "intermediate_size": 37, "max_position_embeddings": 64}
CHARS = sorted(set("很好差不错一般质量满意太了退货非常"))
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
TRAIN = ["--train_steps=4", "--steps_per_loop=2", "--batch_size=4", "--max_seq_length=16"]


def program(*args, timeout=300, env=None):
    return subprocess.run([sys.executable, "-m", *args], cwd=MAIN, capture_output=True,
                          text=True, timeout=timeout,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env or {})))


def tree_hash(directory):
    """{relative path: sha256} of every file under `directory`."""
    digests = {}
    for folder, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                digests[os.path.relpath(path, directory)] = hashlib.sha256(f.read()).hexdigest()
    return digests


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("error:")]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Files a user has around: a vocabulary, a tiny config, data (good and bad), and a
    finished classification run."""
    root = tmp_path_factory.mktemp("world")
    (root / "vocab.txt").write_text("\n".join(SPECIAL + CHARS) + "\n", encoding="utf-8")
    (root / "other").mkdir()
    (root / "other" / "vocab.txt").write_text("\n".join(SPECIAL + CHARS[:-1]) + "\n",
                                              encoding="utf-8")
    (root / "config.json").write_text(json.dumps(TINY))
    (root / "train.tsv").write_text("pos\t很好\nneg\t很差\npos\t不错\nneg\t太差了\n" * 4,
                                    encoding="utf-8")
    (root / "empty.tsv").write_text("")
    (root / "latin1.tsv").write_bytes("pos\tgoed\nneg\tmauvais caf\xe9\n".encode("latin-1"))
    (root / "short.tsv").write_text("pos\t很好\nneg\n", encoding="utf-8")
    (root / "gaps.tsv").write_text("pos\t很好\n\nneg\t很差\n" * 4, encoding="utf-8")
    (root / "unknown_label.tsv").write_text("maybe\t很好\n", encoding="utf-8")
    (root / "bad_tag.conll").write_text("很 B-PER\n好 X-PER\n", encoding="utf-8")
    (root / "model.tflite").write_bytes(b"TFL3" + bytes(60))
    (root / "encoder_dir").mkdir()
    run = root / "run"
    done = program("apps.classify", f"--config={root / 'config.json'}",
                   f"--vocab_file={root / 'vocab.txt'}", f"--model_dir={run}",
                   f"--train_file={root / 'train.tsv'}", f"--eval_file={root / 'train.tsv'}",
                   *TRAIN)
    assert done.returncode == 0, done.stderr[-3000:]
    return root


def _cases():
    """(name, program args with {w} for the world folder, exit status, key words)."""
    config, vocab, data = "--config={w}/config.json", "--vocab_file={w}/vocab.txt", \
        "--train_file={w}/train.tsv"
    new = "--model_dir={w}/new"
    return [
        ("unknown preset", ["apps.classify", new, "--config=gigantic", vocab, data, *TRAIN],
         1, ["--config=gigantic", "tiny, mini, small, medium, base, large"]),
        ("empty training file", ["apps.classify", new, config, vocab,
                                 "--train_file={w}/empty.tsv", *TRAIN],
         1, ["--train_file=", "empty.tsv", "no examples"]),
        ("latin-1 file", ["apps.classify", new, config, vocab, "--train_file={w}/latin1.tsv",
                          *TRAIN], 1, ["latin1.tsv:2", "not valid UTF-8"]),
        ("row without text", ["apps.classify", new, config, vocab, "--train_file={w}/short.tsv",
                              *TRAIN], 1, ["short.tsv:2", "expected label<TAB>text"]),
        ("directory as training file", ["apps.classify", new, config, vocab,
                                        "--train_file={w}", *TRAIN],
         1, ["--train_file=", "is a directory"]),
        ("missing training file", ["apps.classify", new, config, vocab,
                                   "--train_file={w}/nope.tsv", *TRAIN],
         1, ["--train_file=", "nope.tsv", "file not found"]),
        ("directory as vocab file", ["apps.classify", new, config, "--vocab_file={w}", data,
                                     *TRAIN], 1, ["--vocab_file=", "is a directory"]),
        ("checkpoint dir without checkpoint", ["apps.classify", new,
                                               "--init_checkpoint={w}/encoder_dir", data,
                                               *TRAIN],
         1, ["--init_checkpoint=", "no checkpoint in this directory", "bert_config.json"]),
        ("fine-tuning run as checkpoint", ["apps.classify", new, "--init_checkpoint={w}/run",
                                           data, *TRAIN],
         1, ["--init_checkpoint=", "finished fine-tuning run"]),
        ("restart with another config", ["apps.classify", "--model_dir={w}/run", "--config=mini",
                                         vocab, data, *TRAIN],
         1, ["--model_dir=", "--config: run has", "got mini", "flags.txt"]),
        ("vocab from another run", ["apps.classify", "--model_dir={w}/run", config,
                                    "--vocab_file={w}/other/vocab.txt", data, *TRAIN],
         1, ["vocabulary: run has", "other/vocab.txt"]),
        ("unknown strategy", ["apps.classify", new, config, vocab, data, "--strategy=fast"],
         2, ["--strategy=fast", "auto|default|mirrored|multi_worker|tpu"]),
        ("swapped flag values", ["apps.classify", new, "--config=4", vocab, data,
                                 "--batch_size=tiny"], 2, ["--batch_size=tiny"]),
        ("file as model_dir", ["apps.classify", "--model_dir={w}/train.tsv", config, vocab, data,
                               *TRAIN], 2, ["--model_dir=", "is a file"]),
        ("sequence longer than positions", ["apps.classify", new, config, vocab, data,
                                            "--max_seq_length=100"],
         1, ["--max_seq_length=100", "max_position_embeddings (64)"]),
        ("NER program on a classification run", [
            "apps.ner", "--model_dir={w}/run", "--mode=predict", "--predict_file={w}/train.tsv"],
         1, ["--model_dir=", "holds a 'classification' run, not an NER run"]),
        ("predict a missing file", ["apps.classify", "--model_dir={w}/run", "--mode=predict",
                                    "--predict_file={w}/nope.txt"],
         1, ["--predict_file=", "file not found"]),
        ("eval label unknown to the run", ["apps.classify", "--model_dir={w}/run", "--mode=eval",
                                           "--eval_file={w}/unknown_label.tsv"],
         1, ["label 'maybe' is not among the run's labels"]),
        ("regression on text labels", ["apps.classify", new, config, vocab, data,
                                       "--regression", *TRAIN],
         1, ["--regression", "'pos'", "is not a number"]),
        ("strict on an empty line", ["apps.classify", new, config, vocab,
                                     "--train_file={w}/gaps.tsv", "--strict", *TRAIN],
         1, ["gaps.tsv:2", "empty line", "--strict"]),
        ("NER tag not BIO", ["apps.ner", new, config, vocab, "--train_file={w}/bad_tag.conll",
                             *TRAIN], 1, ["bad_tag.conll:2", "is not BIO"]),
        ("SQuAD without training file", ["apps.squad", new, config, vocab],
         2, ["--train_file"]),
        ("pretraining records that match nothing", [
            "apps.pretrain", new, config, vocab, "--train_records={w}/none-*.tfrecord",
            "--train_steps=2", "--max_seq_length=16"], 1, ["--train_records=", "no file matches"]),
        ("TFLite file as a run to export", ["export.saved_model", "--model_dir={w}/model.tflite",
                                            "--export_base={w}/exports"],
         1, ["--model_dir=", "model.tflite", "is a file"]),
        ("unfinished directory to export", ["export.saved_model", "--model_dir={w}/encoder_dir",
                                            "--export_base={w}/exports"],
         1, ["task.json not found", "finished fine-tuning run"]),
        ("file as export base", ["export.saved_model", "--model_dir={w}/run",
                                 "--export_base={w}/train.tsv"],
         1, ["--export_base=", "is a file"]),
        ("TFLite file as a SavedModel", ["export.tflite", "--saved_model_dir={w}/model.tflite",
                                         "--output={w}/again.tflite"],
         1, ["--saved_model_dir=", "already a TFLite model"]),
        ("directory as TFLite output", ["export.tflite", "--model_dir={w}/run", "--output={w}"],
         1, ["--output=", "is a directory"]),
        ("client texts file missing", ["export.client", "--input_file={w}/nope.txt",
                                       "--model_name=m"], 1, ["--input_file=", "file not found"]),
        ("missing corpus for a vocabulary", ["apps.build_vocab",
                                                    "--input_files={w}/nope.txt",
                                                    "--output_dir={w}/new"],
         1, ["--input_files=", "nope.txt", "file not found"]),
    ]


CASES = _cases()


@pytest.mark.slow
@pytest.mark.parametrize("name,args,status,words", CASES, ids=[c[0] for c in CASES])
def test_a_mistake_ends_in_one_line(world, name, args, status, words):
    before = tree_hash(world / "run")
    done = program(*[a.format(w=world) for a in args])
    lines = error_lines(done.stderr)
    assert done.returncode == status, done.stderr[-3000:]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    for word in words:
        assert word.format(w=world) in lines[0], lines[0]
    assert tree_hash(world / "run") == before, f"{name} changed the finished run"
    assert not (world / "new").exists() and not (world / "exports").exists()


def test_table_is_long_enough():
    assert len(CASES) >= 20 and len({c[1][0] for c in CASES}) >= 6


@pytest.mark.slow
def test_verbose_and_tfbert_debug_show_the_traceback(world):
    args = ["apps.classify", f"--model_dir={world}/new", "--config=gigantic",
            f"--vocab_file={world}/vocab.txt", f"--train_file={world}/train.tsv"]
    for done in (program(*args, "--verbose"), program(*args, env={"TFBERT_DEBUG": "1"})):
        assert done.returncode == 1
        assert "Traceback" in done.stderr and "UsageError" in done.stderr
        assert error_lines(done.stderr)[-1].startswith("error: --config=gigantic")


def test_only_the_project_error_becomes_one_line(monkeypatch, capsys):
    """A UsageError exits with one line; any other exception (a bug) keeps its traceback."""
    from absl import flags

    from tfbert.errors import UsageError, run_program
    monkeypatch.setattr(sys, "argv", ["prog"])
    flags.FLAGS.unparse_flags()

    def mistake(argv):
        raise UsageError("--x=1: wrong\nsecond line", exit_code=3)

    with pytest.raises(SystemExit) as exit_info:
        run_program(mistake)
    assert exit_info.value.code == 3
    assert capsys.readouterr().err.splitlines() == ["error: --x=1: wrong second line"]

    def bug(argv):
        raise KeyError("a bug")

    flags.FLAGS.unparse_flags()
    with pytest.raises(KeyError):
        run_program(bug)


# === Faults during training ===


def _regression_data(nan_at=None, rows=8):
    import tensorflow as tf
    rng = np.random.default_rng(0)
    x = {"token_ids": rng.integers(5, 50, (rows, 7)).astype("int32"),
         "segment_ids": np.zeros((rows, 7), "int32"), "padding_mask": np.ones((rows, 7), "int32")}
    y = rng.random(rows).astype("float32")
    if nan_at is not None:
        y[nan_at] = np.nan
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(1)


def _regression_model():
    import keras

    from tests.export_fixtures import tiny_task_model
    model = tiny_task_model("regression", 1)
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    return model


def test_nan_loss_stops_at_its_step_and_keeps_the_last_good_checkpoint(tmp_path):
    from tfbert.errors import UsageError
    from tfbert.training.loop import fit
    run_dir = str(tmp_path / "run")
    model = _regression_model()
    with pytest.raises(UsageError) as error:  # row 4 (step 5) has a NaN label
        fit(model, _regression_data(nan_at=4), model_dir=run_dir, total_steps=8,
            steps_per_loop=2, verbose=0)
    backup = os.path.join(run_dir, "backup")
    assert str(error.value) == (
        f"training loss became nan at step 5: stopped without saving; the last good checkpoint "
        f"is {backup} (step 4; the same command resumes from it). Lower --learning_rate or "
        "check the data.")
    assert json.load(open(os.path.join(backup, "training_metadata.json")))["epoch"] == 2
    assert not all(np.isfinite(w).all() for w in model.get_weights())  # the state it refused
    fresh = _regression_model()
    fresh.load_weights(os.path.join(backup, "latest.weights.h5"))
    assert all(np.isfinite(w).all() for w in fresh.get_weights())


def test_failed_write_keeps_the_previous_checkpoint_and_resumes(tmp_path, monkeypatch, capsys):
    """The second loop's checkpoint write fails half-way with ENOSPC: one clear error, and the
    next run resumes from the first loop's checkpoint (kept as `.bkp`)."""
    import keras

    from tfbert.errors import UsageError
    from tfbert.training.loop import fit
    run_dir = str(tmp_path / "run")
    save_weights, calls = keras.Model.save_weights, []

    def disk_fills(self, filepath, *args, **kwargs):
        calls.append(filepath)
        if len(calls) == 2:
            with open(filepath, "wb") as f:  # a torn write
                f.write(b"\x89HDF\r\n")
            raise OSError(errno.ENOSPC, "No space left on device", filepath)
        return save_weights(self, filepath, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "save_weights", disk_fills)
    with pytest.raises(UsageError, match=f"cannot write {run_dir}: no space left on the device"):
        fit(_regression_model(), _regression_data(), model_dir=run_dir, total_steps=6,
            steps_per_loop=2, verbose=0)
    monkeypatch.setattr(keras.Model, "save_weights", save_weights)
    capsys.readouterr()
    history = fit(_regression_model(), _regression_data(), model_dir=run_dir, total_steps=6,
                  steps_per_loop=2, verbose=0)
    assert "Resuming from step 2 of 6" in capsys.readouterr().out
    assert len(history.history["loss"]) == 2  # loops 2 and 3 trained again


@pytest.mark.slow
def test_sigterm_saves_at_the_next_step_and_the_same_command_resumes(world, tmp_path):
    run = tmp_path / "run"
    command = [sys.executable, "-m", "apps.classify", f"--config={world}/config.json",
               f"--vocab_file={world}/vocab.txt", f"--train_file={world}/train.tsv",
               f"--eval_file={world}/train.tsv", f"--model_dir={run}", "--train_steps=600",
               "--steps_per_loop=300", "--batch_size=4", "--max_seq_length=16"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    child = subprocess.Popen(command, cwd=MAIN, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while not (run / "logs").exists():  # TensorBoard's folder: fit has started
        assert child.poll() is None and time.time() < deadline
        time.sleep(0.05)
    child.send_signal(signal.SIGTERM)
    out, err = child.communicate(timeout=240)
    assert child.returncode == 128 + signal.SIGTERM, err[-3000:]
    lines = error_lines(err)
    assert len(lines) == 1 and "Traceback" not in err, err[-3000:]
    metadata = json.loads((run / "backup" / "training_metadata.json").read_text())
    step = metadata["epoch"] * 300 + metadata["batch"]
    assert 0 < step < 600 and not (run / "model.keras").exists()
    assert lines[0] == (f"error: stopped by SIGTERM at step {step}: saved {run}/backup; run the "
                        "same command to resume.")
    done = subprocess.run(command, cwd=MAIN, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"Resuming from step {step} of 600" in done.stdout
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["train_steps"] == 600
    assert [r["step"] for r in metrics["eval_history"]] == [300, 600]


def test_resume_check_names_what_differs_and_allows_the_rest(tmp_path):
    from tfbert.errors import UsageError
    from tfbert.training import run_dir
    from tfbert.training.options import TrainingOptions
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(SPECIAL + CHARS) + "\n", encoding="utf-8")
    model_dir = str(tmp_path / "run")
    options = TrainingOptions(model_dir=model_dir, config="tiny", train_steps=100)
    settings = run_dir.run_settings(options, "classification", str(vocab), ["neg", "pos"])
    run_dir.record_run(model_dir, settings)
    run_dir.check_resume(model_dir, {**settings, "config": "mini"})  # nothing trained yet
    os.makedirs(os.path.join(model_dir, "backup"))
    open(os.path.join(model_dir, "backup", "training_metadata.json"), "w").write('{"epoch": 1}')
    longer = TrainingOptions(model_dir=model_dir, config="tiny", train_steps=500,
                             learning_rate=1e-3, batch_size=8, seed=3)
    copy = tmp_path / "elsewhere" / "vocab.txt"
    copy.parent.mkdir()
    copy.write_bytes(vocab.read_bytes())  # the same vocabulary in another place
    run_dir.check_resume(model_dir, run_dir.run_settings(longer, "classification", str(copy),
                                                         ["neg", "pos"]))
    other = TrainingOptions(model_dir=model_dir, config="mini", max_seq_length=64)
    with pytest.raises(UsageError) as error:
        run_dir.check_resume(model_dir, run_dir.run_settings(other, "ner", str(vocab), ["O"]))
    message = str(error.value)
    for part in ("task: run has classification, got ner", "labels: run has ['neg', 'pos'], "
                 "got ['O']", "--config: run has tiny, got mini",
                 "--max_seq_length: run has 128, got 64", f"--flagfile={model_dir}/flags.txt"):
        assert part in message, message


@pytest.mark.slow
def test_failed_export_write_keeps_the_published_version(tmp_path, monkeypatch):
    import export.saved_model as saved_model
    from tests.export_fixtures import tiny_run
    from tfbert.errors import UsageError
    run = tiny_run(str(tmp_path / "run"))
    base = tmp_path / "exports"
    first = saved_model.export_saved_model(run, str(base), "m")
    before = tree_hash(base)

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(saved_model, "write_warmup_requests", disk_full)
    with pytest.raises(UsageError, match=f"cannot write --export_base={base}: no space left"):
        saved_model.export_saved_model(run, str(base), "m")
    assert tree_hash(base) == before and os.listdir(base / "m") == ["1"]
    assert first.endswith("/m/1")
