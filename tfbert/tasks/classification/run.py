"""Sequence classification and regression: train, evaluate, save, predict."""

import keras
import numpy as np

from tfbert import training
from tfbert.data.files import read_lines
from tfbert.models import BertClassifier
from tfbert.tasks.classification import metrics as metrics_lib
from tfbert.tasks.classification.features import classification_dataset
from tfbert.tokenization import BertTokenizer
from tfbert.training.distribution import get_strategy
from tfbert.training.run_dir import load_run, save_run


def _columns(examples):
    texts = [e[0] for e in examples]
    pairs = [e[1] for e in examples]
    has_pair = any(p is not None for p in pairs)
    if has_pair and not all(p is not None for p in pairs):
        raise ValueError("Either every example has a text pair or none does.")
    return texts, (pairs if has_pair else None), [e[2] for e in examples]


def evaluate(model, dataset, labels, regression):
    """Metrics of `model` on `dataset` against the true `labels` (a list)."""
    outputs = model.predict(dataset, verbose=0)
    if regression:
        predicted = outputs[:, 0]
        return {"eval_mse": float(np.mean((predicted - np.asarray(labels)) ** 2)),
                "eval_pearson": metrics_lib.pearson(labels, predicted),
                "eval_spearman": metrics_lib.spearman(labels, predicted),
                "eval_examples": len(labels)}
    predicted = outputs.argmax(-1)
    return {"eval_accuracy": float(np.mean(predicted == np.asarray(labels))),
            "eval_macro_f1": metrics_lib.macro_f1(labels, predicted),
            "eval_examples": len(labels)}


def train_classifier(options, train, eval_examples, label_names, regression=False):
    """Fine-tunes a `BertClassifier` and returns its metrics (also in `metrics.json`).

    Args:
        options: `tfbert.training.TrainingOptions`.
        train, eval_examples: lists of `(text, text_pair or None, label)`; labels are class
            ids (or floats with `regression`).
        label_names: list of str class names (None for regression).
    """
    timer = training.PhaseTimer()
    strategy = get_strategy(options.strategy, options.tpu, options.cpu_devices)
    vocab_file = training.resolve_vocab_file(options)
    tokenizer = BertTokenizer(vocab_file)
    texts, pairs, labels = _columns(train)
    dtype = "float32" if regression else "int32"
    train_ds = classification_dataset(
        texts, np.asarray(labels, dtype), tokenizer, options.max_seq_length,
        options.batch_size, text_pairs=pairs, shuffle=True, drop_remainder=True)
    total_steps = options.total_steps(len(train))
    with timer.phase("build model"), strategy.scope():
        encoder = training.build_encoder(options, tokenizer.vocab_size)
        model = BertClassifier(encoder, num_classes=1 if regression else len(label_names))
        loss = (keras.losses.MeanSquaredError() if regression else
                keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        training.compile_for_training(
            model, options, total_steps,
            loss=loss,
            metrics=[] if regression else [keras.metrics.SparseCategoricalAccuracy("accuracy")])
    print(f"Training on {len(train)} examples for {total_steps} steps of "
          f"{options.batch_size} ({strategy.num_replicas_in_sync} replica(s)).", flush=True)
    with timer.phase("train"):
        history = training.fit(model, train_ds, model_dir=options.model_dir,
                               total_steps=total_steps, steps_per_loop=options.steps_per_loop)
    results = training.train_results(history, total_steps)
    if eval_examples:
        with timer.phase("evaluate"):
            e_texts, e_pairs, e_labels = _columns(eval_examples)
            eval_ds = classification_dataset(
                e_texts, np.asarray(e_labels, dtype), tokenizer, options.max_seq_length,
                options.batch_size, text_pairs=e_pairs)
            results.update(evaluate(model, eval_ds, e_labels, regression))
    save_run(options.model_dir, model, vocab_file,
             "regression" if regression else "classification", options.max_seq_length,
             labels=label_names, text_pair=pairs is not None)
    return training.finish_run(options.model_dir, timer, results)


def predict_file(model_dir, input_file, output_file, batch_size=64):
    """Labels every line of `input_file` (`text` or `text<TAB>text_pair`) into a TSV."""
    model, vocab_file, info = load_run(model_dir)
    rows = [line.split("\t") for _, line in read_lines(input_file) if line.strip()]
    texts = [r[0] for r in rows]
    pairs = [r[1] if len(r) > 1 else "" for r in rows] if info["text_pair"] else None
    ds = classification_dataset(texts, np.zeros(len(texts), "int32"), BertTokenizer(vocab_file),
                                info["max_seq_length"], batch_size, text_pairs=pairs)
    outputs = model.predict(ds, verbose=0)
    with open(output_file, "w", encoding="utf-8") as f:
        for text, row in zip(texts, outputs):
            if info["task"] == "regression":
                f.write(f"{row[0]:.6f}\t{text}\n")
            else:
                probs = np.exp(row - row.max()) / np.exp(row - row.max()).sum()
                f.write(f"{info['labels'][int(probs.argmax())]}\t{probs.max():.4f}\t{text}\n")
    print(f"Wrote {len(texts)} predictions to {output_file}", flush=True)
