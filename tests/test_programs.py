"""The training programs' workers end to end on tiny models and small real data."""

import json
import os

import numpy as np
import pytest

from tfbert.training.options import TrainingOptions

TINY_CONFIG = {"hidden_size": 12, "num_hidden_layers": 2, "num_attention_heads": 3,
               "intermediate_size": 37, "max_position_embeddings": 64}


@pytest.fixture(scope="module")
def vocab_file(tmp_path_factory):
    from tfbert.data.peoples_daily import load_corpus_documents
    from tfbert.data.sentiment import load_sentiment_split
    from tfbert.tokenization.learn import learn_vocab
    documents = load_corpus_documents()[:200]
    texts = ["".join(s) for d in documents for s in d]
    texts += [t for t, _ in load_sentiment_split()[0][:2000]]
    return learn_vocab(texts, 3000, str(tmp_path_factory.mktemp("vocab")), log=lambda *_: None)


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("config") / "bert_config.json"
    path.write_text(json.dumps(TINY_CONFIG))
    return str(path)


def _options(tmp_path, name, **overrides):
    values = dict(model_dir=str(tmp_path / name), strategy="default", max_seq_length=32,
                  batch_size=16, learning_rate=1e-3, train_steps=30, steps_per_loop=15)
    values.update(overrides)
    return TrainingOptions(**values)


@pytest.mark.slow
def test_classifier_trains_saves_and_predicts(tmp_path, vocab_file, config_file):
    from tfbert.data.sentiment import load_sentiment_split
    from tfbert.tasks.classification.run import predict_file, train_classifier
    from tfbert.training.run_dir import load_run
    train, eval_ = load_sentiment_split()
    train = [(t, None, y) for t, y in train[::40]]
    eval_ = [(t, None, y) for t, y in eval_[::10]]
    options = _options(tmp_path, "cls", config=config_file, vocab_file=vocab_file)
    metrics = train_classifier(options, train, eval_, ["neg", "pos"])
    assert metrics["train_steps"] == 30
    assert 0.0 <= metrics["eval_accuracy"] <= 1.0 and metrics["eval_examples"] == len(eval_)
    with open(os.path.join(options.model_dir, "metrics.json")) as f:
        assert json.load(f)["eval_accuracy"] == metrics["eval_accuracy"]
    # Evaluated every loop (2 loops of 15 steps); the saved model is the best loop's.
    history = metrics["eval_history"]
    assert [r["step"] for r in history] == [15, 30]
    assert metrics["eval_accuracy"] == pytest.approx(max(r["accuracy"] for r in history))
    assert open(metrics["learning_curve"], "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    matrix = np.array(metrics["eval_confusion_matrix"])
    assert matrix.sum() == len(eval_) and matrix.trace() / len(eval_) == pytest.approx(
        metrics["eval_accuracy"])
    support = {name: s["support"] for name, s in metrics["eval_per_class"].items()}
    assert support == {"neg": sum(y == 0 for *_, y in eval_), "pos": sum(y == 1 for *_, y in eval_)}
    model, saved_vocab, info = load_run(options.model_dir)
    assert info == {"task": "classification", "labels": ["neg", "pos"],
                    "max_seq_length": 32, "text_pair": False}
    with open(saved_vocab) as a, open(vocab_file) as b:
        assert a.read() == b.read()
    predict_in = tmp_path / "texts.txt"
    predict_in.write_text("质量很好，非常满意\n太差了，退货\n")
    predict_file(options.model_dir, str(predict_in), str(tmp_path / "out.tsv"))
    rows = [line.split("\t") for line in (tmp_path / "out.tsv").read_text().splitlines()]
    assert [r[2] for r in rows] == ["质量很好，非常满意", "太差了，退货"]
    assert all(r[0] in ("neg", "pos") and 0.5 <= float(r[1]) <= 1.0 for r in rows)


@pytest.mark.slow
def test_text_pair_regression(tmp_path, vocab_file, config_file):
    from tfbert.tasks.classification.run import train_classifier
    rng = np.random.default_rng(0)
    words = ["好", "差", "一般", "很好", "不错"]
    train = [(rng.choice(words), rng.choice(words), float(rng.random())) for _ in range(64)]
    options = _options(tmp_path, "reg", config=config_file, vocab_file=vocab_file,
                       train_steps=4, steps_per_loop=2)
    metrics = train_classifier(options, train, train[:20], None, regression=True)
    assert set(metrics) >= {"eval_mse", "eval_pearson", "eval_spearman"}
    assert np.isfinite(metrics["eval_mse"])


def test_fine_tuning_without_a_start_point_is_rejected(tmp_path):
    from tfbert.training.options import resolve_vocab_file
    with pytest.raises(ValueError, match="Give --vocab_file"):
        resolve_vocab_file(_options(tmp_path, "x"))
    with pytest.raises(ValueError, match="Vocabulary file not found: /nope/vocab.txt"):
        resolve_vocab_file(_options(tmp_path, "x", init_checkpoint="/nope"))


def test_too_few_examples_for_a_batch(tmp_path):
    options = _options(tmp_path, "x", train_steps=None, batch_size=64)
    with pytest.raises(ValueError, match="10 training examples give no full batch of "
                                         "--batch_size=64"):
        options.total_steps(10)


@pytest.mark.slow
def test_pretraining_then_fine_tuning_from_its_encoder(tmp_path, vocab_file, config_file):
    from tfbert.checkpoints import load_encoder
    from tfbert.data.peoples_daily import load_corpus_documents
    from tfbert.tasks.classification.run import train_classifier
    from tfbert.tasks.pretraining.run import pretrain, text_pairs
    from tfbert.tokenization import BertTokenizer
    documents = load_corpus_documents()[:120]
    train_pairs, heldout = text_pairs(documents, BertTokenizer(vocab_file), 32,
                                      heldout_every=10)
    assert len(train_pairs) > 100 and len(heldout) > 10
    options = _options(tmp_path, "pretrain", config=config_file, vocab_file=vocab_file)
    metrics = pretrain(options, train_pairs=train_pairs, heldout_pairs=heldout,
                       max_predictions=5, whole_word=True)
    assert 0.0 <= metrics["heldout_mlm_accuracy"] <= 1.0
    assert 0.0 <= metrics["heldout_nsp_accuracy"] <= 1.0
    encoder = load_encoder(metrics["encoder_dir"])
    assert encoder.hidden_size == 12
    # The normalizer record travels with the encoder's vocabulary.
    assert os.path.exists(os.path.join(metrics["encoder_dir"], "vocab_info.json"))
    fine_tune = _options(tmp_path, "cls", init_checkpoint=metrics["encoder_dir"],
                         train_steps=2, steps_per_loop=2)
    result = train_classifier(fine_tune, [("很好", None, 1), ("很差", None, 0)] * 16,
                              [("好", None, 1)], ["neg", "pos"])
    assert result["eval_examples"] == 1


@pytest.mark.slow
def test_pretraining_records_round_trip(tmp_path, vocab_file, config_file):
    from tfbert.data.peoples_daily import load_corpus_documents
    from tfbert.tasks.pretraining import features as data
    from tfbert.tasks.pretraining.run import pretrain
    from tfbert.tokenization import BertTokenizer
    tokenizer = BertTokenizer(vocab_file)
    docs = data.tokenize_documents(load_corpus_documents()[:40], tokenizer)
    pairs = data.create_nsp_pairs(docs, 32)
    masker = data.PretrainingMasker(
        tokenizer.vocab_size, {"cls": tokenizer.cls_id, "sep": tokenizer.sep_id,
                               "pad": tokenizer.pad_id, "mask": tokenizer.mask_id}, 32, 5)
    path = str(tmp_path / "train.tfrecord")
    written = data.write_tfrecords(path, data.masked_dataset(
        data.pairs_dataset(pairs), masker, 8, shuffle=False, drop_remainder=False))
    assert written == len(pairs)
    assert written >= 8, written
    options = _options(tmp_path, "pretrain", config=config_file, vocab_file=vocab_file,
                       train_steps=3, steps_per_loop=3, batch_size=4)
    metrics = pretrain(options, train_records=path, heldout_records=path, max_predictions=5)
    assert metrics["train_steps"] == 3 and np.isfinite(metrics["train_loss"])
    assert 0.0 <= metrics["heldout_mlm_accuracy"] <= 1.0


@pytest.mark.slow
def test_create_pretraining_data_program(tmp_path, vocab_file):
    from apps.create_pretraining_data import create_pretraining_data
    from tfbert.tasks.pretraining.features import read_tfrecords
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n\n".join(
        "\n".join(f"Document {d} says sentence {s} about topic {d * s}." for s in range(6))
        for d in range(45)) + "\n")
    counts = create_pretraining_data(str(corpus), vocab_file, str(tmp_path / "t.tfrecord"),
                                     str(tmp_path / "h.tfrecord"), 32, 5, 2, "auto", 7)
    assert counts["train"] > 10 and counts["heldout"] >= 1
    features, labels, weights = next(iter(read_tfrecords(
        str(tmp_path / "t.tfrecord"), 32, 5, 4, shuffle=False)))
    assert features["token_ids"].shape == (4, 32)
    assert set(np.unique(labels["nsp_logits"])) <= {0, 1}
    positions = features["masked_positions"].numpy()
    real = weights["mlm_logits"].numpy() > 0
    assert real.any(axis=1).all()
    # A masked position holds [MASK], a random id or the original id, and never a special slot.
    assert (positions[real] > 0).all()


@pytest.mark.slow
def test_classify_program_exits_zero_with_user_files(tmp_path, vocab_file, config_file):
    import subprocess
    import sys
    data = tmp_path / "train.tsv"
    data.write_text("pos\t很好\nneg\t很差\n" * 8)
    done = subprocess.run(
        [sys.executable, "-m", "apps.classify", f"--config={config_file}",
         f"--vocab_file={vocab_file}", f"--model_dir={tmp_path / 'run'}",
         f"--train_file={data}", f"--eval_file={data}", "--train_steps=2",
         "--batch_size=4", "--max_seq_length=16", f"--predict_file={data}", "--do_predict"],
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "run" / "predictions.tsv").exists()
    bad = subprocess.run(
        [sys.executable, "-m", "apps.classify", f"--model_dir={tmp_path / 'x'}"],
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0
    assert "--init_checkpoint=DIR" in bad.stderr


def test_sequence_longer_than_the_position_table_is_rejected(tmp_path, config_file):
    from tests.helpers import tiny_config, write_vocab
    from tfbert.checkpoints import save_encoder
    from tfbert.models import bert_encoder
    from tfbert.training.options import build_encoder
    vocab = write_vocab(tmp_path, [f"t{i}" for i in range(94)]
                        + ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    save_encoder(bert_encoder(tiny_config()), vocab, str(tmp_path / "encoder"))
    options = _options(tmp_path, "x", init_checkpoint=str(tmp_path / "encoder"),
                       max_seq_length=32)
    with pytest.raises(ValueError, match=r"--max_seq_length=32 exceeds the "
                                         r"max_position_embeddings \(16\) of --init_checkpoint="):
        build_encoder(options, 99)
    options = _options(tmp_path, "x", config=config_file, max_seq_length=65)
    with pytest.raises(ValueError, match=r"--max_seq_length=65 exceeds the "
                                         r"max_position_embeddings \(64\) of --config="):
        build_encoder(options, 99)


def test_gradient_accumulation_and_jit_compile_reach_the_train_step(tmp_path):
    """`--gradient_accumulation_steps=2` moves the weights every second batch; `--jit_compile`
    compiles the step with XLA."""
    import keras

    from tests.export_fixtures import tiny_task_model
    from tfbert.training.loop import compile_for_training
    options = _options(tmp_path, "accumulate", gradient_accumulation_steps=2, jit_compile=True,
                       learning_rate=1e-2, adam_beta2=0.98)
    model = tiny_task_model("classification", 3)
    compile_for_training(model, options, total_steps=4,
                         loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert model.jit_compile and model.optimizer.gradient_accumulation_steps == 2
    assert model.optimizer.beta_2 == 0.98
    rng = np.random.default_rng(0)
    inputs = {"token_ids": rng.integers(5, 50, (4, 7)).astype("int32"),
              "segment_ids": np.zeros((4, 7), "int32"), "padding_mask": np.ones((4, 7), "int32")}
    labels = np.array([0, 1, 2, 1])
    before = [w.numpy().copy() for w in model.trainable_weights]
    model.train_on_batch(inputs, labels)
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, model.trainable_weights))
    model.train_on_batch(inputs, labels)
    assert not all(np.array_equal(a, w.numpy()) for a, w in zip(before, model.trainable_weights))


@pytest.mark.slow
def test_build_vocab_program_reads_peoples_daily_lines(tmp_path):
    import subprocess
    import sys
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("19980101-01-001-001/m  迈向/v  充满/v  希望/n  的/u  新/a  世纪/n\n\n"
                      "北京/ns  欢迎/v  你/r\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "apps.build_vocab", f"--input_files={corpus}",
         f"--output_dir={tmp_path / 'vocab'}", "--vocab_size=40", "--format=peoples_daily",
         "--max_lines=3"], cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    vocab_file = tmp_path / "vocab" / "vocab.txt"
    tokens = open(vocab_file, encoding="utf-8").read().split()
    assert tokens[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert {"迈", "京", "你"} <= set(tokens) and not any("/" in t for t in tokens)
    info = json.load(open(os.path.join(tmp_path, "vocab", "vocab_info.json")))
    assert info["normalizer"] == "fast"


@pytest.mark.slow
def test_same_seed_same_run_other_seed_other_run(tmp_path, vocab_file, config_file):
    from tfbert.data.sentiment import load_sentiment_split
    from tfbert.tasks.classification.run import train_classifier
    train, eval_ = load_sentiment_split()
    train = [(t, None, y) for t, y in train[::80]]
    eval_ = [(t, None, y) for t, y in eval_[::20]]
    runs = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        options = _options(tmp_path, name, config=config_file, vocab_file=vocab_file,
                           train_steps=10, steps_per_loop=10, seed=seed)
        runs.append(train_classifier(options, train, eval_, ["neg", "pos"]))
    keys = ("train_loss", "eval_loss", "eval_accuracy")
    assert [runs[0][k] for k in keys] == [runs[1][k] for k in keys]
    assert runs[0]["train_loss"] != runs[2]["train_loss"]


def test_periodic_evaluation_keeps_best_and_stops_early(tmp_path):
    """Scripted scores 0.5, 0.7, NaN, 0.6: the second loop is best (NaN never is), patience 2
    stops after the fourth, its weights come back, and a restarted run stays stopped."""
    import keras

    from tests.export_fixtures import tiny_task_model
    from tfbert.training.evaluation import PeriodicEvaluation, read_history
    from tfbert.training.loop import fit

    model = tiny_task_model("classification", 3)
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    scores = iter([0.5, 0.7, float("nan"), 0.6, 0.9])
    snapshots = []

    def evaluate(m):
        snapshots.append([w.copy() for w in m.get_weights()])
        return {"accuracy": next(scores), "loss": 1.0}

    rng = np.random.default_rng(0)
    x = {"token_ids": rng.integers(5, 50, (4, 7)).astype("int32"),
         "segment_ids": np.zeros((4, 7), "int32"), "padding_mask": np.ones((4, 7), "int32")}
    data = tf_dataset(x, np.array([0, 1, 2, 1]))
    run_dir = str(tmp_path / "run")
    evaluation = PeriodicEvaluation(evaluate, "accuracy", run_dir, patience=2)
    fit(model, data, model_dir=run_dir, total_steps=10, steps_per_loop=1,
        evaluation=evaluation, verbose=0)
    assert [r["step"] for r in read_history(run_dir)] == [1, 2, 3, 4]  # stopped early
    assert evaluation.best == 0.7
    for kept, now in zip(snapshots[1], model.get_weights()):  # the best loop's weights
        np.testing.assert_array_equal(kept, now)
    again = PeriodicEvaluation(evaluate, "accuracy", run_dir, patience=2)
    assert fit(model, data, model_dir=run_dir, total_steps=10, steps_per_loop=1,
               evaluation=again, verbose=0) is None
    assert len(snapshots) == 4 and again.best == 0.7  # nothing trained or evaluated
    with pytest.raises(ValueError, match="not the monitored 'f1'"):
        missing = PeriodicEvaluation(lambda m: {"accuracy": 1.0}, "f1", run_dir)
        missing.resume(0, 1)
        missing.on_epoch_end(0)


def tf_dataset(x, y):
    import tensorflow as tf
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(4)


@pytest.mark.slow
def test_classify_modes_eval_and_predict_and_flagfile(tmp_path, vocab_file, config_file):
    import subprocess
    import sys
    main = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    data = tmp_path / "train.tsv"
    data.write_text("good\t很好\nbad\t很差\n" * 8)
    texts = tmp_path / "texts.txt"
    texts.write_text("很好\n很差\n")
    run = tmp_path / "run"

    def program(*args):
        done = subprocess.run([sys.executable, "-m", "apps.classify", f"--model_dir={run}", *args],
                              cwd=main, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        return done

    program(f"--config={config_file}", f"--vocab_file={vocab_file}", f"--train_file={data}",
            f"--eval_file={data}", "--train_steps=2", "--batch_size=4", "--max_seq_length=16",
            "--seed=7")
    flagfile = (run / "flags.txt").read_text()
    assert "--seed=7" in flagfile and f"--train_file={data}" in flagfile
    assert "--mode=train" in flagfile
    done = program("--mode=eval", f"--eval_file={data}")
    scores = json.loads((run / "eval_metrics.json").read_text())
    assert scores["eval_examples"] == 16 and "confusion matrix" in done.stdout
    assert scores["eval_accuracy"] == pytest.approx(
        json.loads((run / "metrics.json").read_text())["eval_accuracy"])
    refused = subprocess.run([sys.executable, "-m", "apps.classify", f"--model_dir={run}",
                              "--mode=eval"], cwd=main, capture_output=True, text=True,
                             timeout=300)
    assert refused.returncode != 0 and "--mode=eval needs --eval_file" in refused.stderr
    program("--mode=predict", f"--predict_file={texts}")
    rows = (run / "predictions.tsv").read_text().splitlines()
    assert [r.split("\t")[-1] for r in rows] == ["很好", "很差"]
