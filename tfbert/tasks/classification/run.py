"""Sequence classification and regression: train, evaluate, save, predict."""

import functools

import keras
import numpy as np
import tensorflow as tf

from tfbert.data.files import read_lines
from tfbert.errors import UsageError
from tfbert.models import BertClassifier
from tfbert.tasks.classification import metrics as metrics_lib
from tfbert.tasks.classification.features import classification_dataset
from tfbert.tokenization import BertTokenizer
from tfbert.training.evaluation import PeriodicEvaluation, task_figures
from tfbert.training.loop import PhaseTimer, compile_for_training, fit, train_results
from tfbert.training.options import build_encoder, prepare
from tfbert.training.report import finish_run, print_table, write_metrics
from tfbert.training.run_dir import load_run, load_run_info, save_run


def _columns(examples):
    texts = [e[0] for e in examples]
    pairs = [e[1] for e in examples]
    has_pair = any(p is not None for p in pairs)
    if has_pair and not all(p is not None for p in pairs):
        raise ValueError("Either every example has a text pair or none does.")
    return texts, (pairs if has_pair else None), [e[2] for e in examples]


def evaluate(model, dataset, labels, regression, label_names=None):
    """Metrics of `model` on `dataset` against the true `labels` (a list).

    Classification: loss, accuracy, macro-F1 and, given `label_names`, per-class precision /
    recall / F1 and the confusion matrix (rows true, columns predicted). Regression: MSE,
    Pearson, Spearman.
    """
    outputs = model.predict(dataset, verbose=0)
    if regression:
        predicted = outputs[:, 0]
        return {"eval_mse": float(np.mean((predicted - np.asarray(labels)) ** 2)),
                "eval_pearson": metrics_lib.pearson(labels, predicted),
                "eval_spearman": metrics_lib.spearman(labels, predicted),
                "eval_examples": len(labels)}
    predicted = outputs.argmax(-1)
    scores = {"eval_loss": metrics_lib.cross_entropy(outputs, labels),
              "eval_accuracy": float(np.mean(predicted == np.asarray(labels))),
              "eval_macro_f1": metrics_lib.macro_f1(labels, predicted),
              "eval_examples": len(labels)}
    if label_names:
        matrix = metrics_lib.confusion_matrix(labels, predicted, len(label_names))
        scores["eval_per_class"] = metrics_lib.per_class_scores(matrix, label_names)
        scores["eval_confusion_matrix"] = matrix.tolist()
    return scores


def print_scores(scores):
    """The per-class table and confusion matrix of `evaluate`, on stdout."""
    if "eval_per_class" not in scores:
        return
    per_class = scores["eval_per_class"]
    print_table(
        f"accuracy {scores['eval_accuracy']:.4f}, macro-F1 {scores['eval_macro_f1']:.4f}",
        ["class", "precision", "recall", "f1", "support"],
        [[name, s["precision"], s["recall"], s["f1"], s["support"]]
         for name, s in per_class.items()])
    print_table("confusion matrix (rows: true, columns: predicted)",
                         ["", *per_class], [[name, *row] for name, row in
                                            zip(per_class, scores["eval_confusion_matrix"])])


def _dataset(examples, tokenizer, max_seq_length, batch_size, regression, training_pass=False,
             seed=0, bucket_width=None):
    """`(dataset, labels, has_text_pairs)` of `(text, text_pair or None, label)` examples."""
    texts, pairs, labels = _columns(examples)
    dataset = classification_dataset(
        texts, np.asarray(labels, "float32" if regression else "int32"), tokenizer,
        max_seq_length, batch_size, text_pairs=pairs, shuffle=training_pass,
        drop_remainder=training_pass, seed=seed, bucket_width=bucket_width)
    return dataset, labels, pairs is not None


def train_classifier(options, train, eval_examples, label_names, regression=False):
    """Fine-tunes a `BertClassifier` and returns its metrics (also in `metrics.json`).

    With `eval_examples` the model is evaluated after every `steps_per_loop` steps (history
    in `eval_history.jsonl`, TensorBoard and `learning_curve.png`); with `keep_best` the best
    loop's weights (accuracy, or Pearson for regression) are the ones saved.

    Args:
        options: `tfbert.training.TrainingOptions`.
        train, eval_examples: lists of `(text, text_pair or None, label)`; labels are class
            ids (or floats with `regression`).
        label_names: list of str class names (None for regression).
    """
    timer = PhaseTimer()
    strategy, vocab_file = prepare(options)
    tokenizer = BertTokenizer(vocab_file)
    dataset = functools.partial(_dataset, tokenizer=tokenizer,
                                max_seq_length=options.max_seq_length,
                                batch_size=options.batch_size, regression=regression,
                                bucket_width=options.bucket_width or None)
    train_ds, _, text_pair = dataset(train, training_pass=True, seed=options.seed)
    total_steps = options.total_steps(len(train))
    with timer.phase("build model"), strategy.scope():
        encoder = build_encoder(options, tokenizer.vocab_size)
        model = BertClassifier(encoder, num_classes=1 if regression else len(label_names))
        loss = (keras.losses.MeanSquaredError() if regression else
                keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        compile_for_training(
            model, options, total_steps,
            loss=loss,
            metrics=[] if regression else [keras.metrics.SparseCategoricalAccuracy("accuracy")])
    evaluation = None
    if eval_examples:
        eval_ds, eval_labels, _ = dataset(eval_examples)
        monitor = "pearson" if regression else "accuracy"
        evaluation = PeriodicEvaluation(
            lambda m: task_figures(evaluate(m, eval_ds, eval_labels, regression)),
            monitor, options.model_dir, keep_best=options.keep_best,
            patience=options.early_stopping_patience)
    print(f"Training on {len(train)} examples for {total_steps} steps of "
          f"{options.batch_size} ({strategy.num_replicas_in_sync} replica(s)).", flush=True)
    with timer.phase("train"):
        history = fit(model, train_ds, model_dir=options.model_dir,
                      total_steps=total_steps, steps_per_loop=options.steps_per_loop,
                      evaluation=evaluation)
    results = train_results(history, total_steps)
    if eval_examples:
        with timer.phase("evaluate"):
            results.update(evaluate(model, eval_ds, eval_labels, regression, label_names))
        print_scores(results)
    save_run(options.model_dir, model, vocab_file,
             "regression" if regression else "classification", options.max_seq_length,
             labels=label_names, text_pair=text_pair)
    return finish_run(options.model_dir, timer, results,
                      curve_metric="pearson" if regression else "accuracy")


def evaluate_run(model_dir, eval_examples, batch_size=64):
    """Scores a finished run on `(text, text_pair or None, label)` examples; writes
    `eval_metrics.json` beside it and returns the metrics."""
    model, vocab_file, info = _load_classifier(model_dir)
    regression = info["task"] == "regression"
    eval_ds, labels, _ = _dataset(eval_examples, BertTokenizer(vocab_file),
                                  info["max_seq_length"], batch_size, regression,
                                  bucket_width=32)
    scores = evaluate(model, eval_ds, labels, regression, info.get("labels"))
    print_scores(scores)
    print(f"Wrote {write_metrics(model_dir, scores, 'eval_metrics.json')}", flush=True)
    return scores


def _load_classifier(model_dir):
    task = load_run_info(model_dir)["task"]
    if task not in ("classification", "regression"):
        raise UsageError(f"--model_dir={model_dir} holds a {task!r} run, not a classification "
                         "or regression run.")
    return load_run(model_dir)


def predict_file(model_dir, input_file, output_file, batch_size=64):
    """Labels every line of `input_file` (`text` or `text<TAB>text_pair`) into a TSV."""
    model, vocab_file, info = _load_classifier(model_dir)
    rows = [line.split("\t") for _, line in read_lines(input_file) if line.strip()]
    texts = [r[0] for r in rows]
    pairs = [r[1] if len(r) > 1 else "" for r in rows] if info["text_pair"] else None
    ds = classification_dataset(texts, np.zeros(len(texts), "int32"), BertTokenizer(vocab_file),
                                info["max_seq_length"], batch_size, text_pairs=pairs,
                                bucket_width=32)
    outputs = model.predict(ds, verbose=0)
    with tf.io.gfile.GFile(output_file, "w") as f:
        for text, row in zip(texts, outputs):
            if info["task"] == "regression":
                f.write(f"{row[0]:.6f}\t{text}\n")
            else:
                probs = np.exp(row - row.max()) / np.exp(row - row.max()).sum()
                f.write(f"{info['labels'][int(probs.argmax())]}\t{probs.max():.4f}\t{text}\n")
    print(f"Wrote {len(texts)} predictions to {output_file}", flush=True)
