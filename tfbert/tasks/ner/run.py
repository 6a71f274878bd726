"""Named-entity recognition (token classification): train, evaluate, save, predict."""

import json
import os

import keras
import numpy as np
import tensorflow as tf

from tfbert.data.files import read_lines
from tfbert.errors import UsageError
from tfbert.models import BertTokenClassifier
from tfbert.tasks.ner import features as ner_inputs
from tfbert.tasks.ner import metrics as metrics_lib
from tfbert.tasks.ner import postprocess as ner_postprocess
from tfbert.tokenization import BertTokenizer
from tfbert.training.batching import length_bucketed
from tfbert.training.evaluation import PeriodicEvaluation, task_figures
from tfbert.training.loop import PhaseTimer, compile_for_training, fit, train_results
from tfbert.training.options import build_encoder, prepare
from tfbert.training.report import finish_run, print_table, write_metrics
from tfbert.training.run_dir import load_run, load_run_info, save_run


def _dataset(features, batch_size, max_seq_length, seed=0, bucket_width=None):
    """Shuffled training batches of `(inputs, labels, weights)` windows."""
    ds = tf.data.Dataset.from_tensor_slices(
        (features.inputs, features.labels, features.weights))
    # Repeated before bucketing: each bucket's remainder then joins the next pass.
    ds = ds.shuffle(len(features.labels), seed=seed, reshuffle_each_iteration=True).repeat()
    if bucket_width:
        ds = length_bucketed(ds, batch_size, max_seq_length, drop_remainder=True,
                             width=bucket_width)
    else:
        ds = ds.batch(batch_size, drop_remainder=True)
    return ds.prefetch(tf.data.AUTOTUNE)


def predict_tags(model, tokenizer, sentences, max_seq_length, label_names, batch_size=64,
                 features=None):
    """Tag lists for word lists: windows through `model`, first-piece argmax per word."""
    features = features or ner_inputs.ner_features(sentences, tokenizer, max_seq_length)
    if len(features.labels):
        ds = tf.data.Dataset.from_tensor_slices(features.inputs).batch(batch_size)
        class_ids = model.predict(ds, verbose=0).argmax(-1)
    else:
        class_ids = np.zeros_like(features.labels)
    return ner_postprocess.window_tags(features, class_ids, sentences, label_names)


def evaluate(model, tokenizer, examples, max_seq_length, label_names, batch_size=64,
             features=None):
    """Entity precision/recall/F1 (seqeval-exact), overall and per type, on `(words, tags)`."""
    sentences = [words for words, _ in examples]
    predicted = predict_tags(model, tokenizer, sentences, max_seq_length, label_names,
                             batch_size, features)
    scores = metrics_lib.entity_scores([tags for _, tags in examples], predicted)
    return {"eval_precision": scores["precision"], "eval_recall": scores["recall"],
            "eval_f1": scores["f1"], "eval_per_type": scores["per_type"],
            "eval_sentences": len(examples),
            "eval_entities": sum(t["support"] for t in scores["per_type"].values())}


def print_scores(scores):
    """Overall and per-type precision / recall / F1 of `evaluate`, on stdout."""
    print_table(
        f"entity F1 {scores['eval_f1']:.4f} (P {scores['eval_precision']:.4f}, "
        f"R {scores['eval_recall']:.4f})", ["type", "precision", "recall", "f1", "support"],
        [[name, s["precision"], s["recall"], s["f1"], s["support"]]
         for name, s in scores["eval_per_type"].items()])


def train_ner(options, train, eval_examples, label_names, word_split="chars"):
    """Fine-tunes a `BertTokenClassifier` and returns its metrics (also in `metrics.json`).

    Args:
        options: `tfbert.training.TrainingOptions`.
        train, eval_examples: lists of `(words, tags)`, two equal-length lists of str.
        label_names: list of str BIO tags, `O` first; index = class id.
        word_split: how `predict_file` splits raw text into words: `"chars"` (every
            character, as the People's Daily data) or `"whitespace"` (CoNLL tokens).
    """
    if word_split not in ner_inputs.WORD_SPLITS:
        raise ValueError(f"`word_split` must be one of {ner_inputs.WORD_SPLITS}, "
                         f"got {word_split!r}.")
    timer = PhaseTimer()
    strategy, vocab_file = prepare(options)
    tokenizer = BertTokenizer(vocab_file)
    with timer.phase("features"):
        features = ner_inputs.ner_features(
            [w for w, _ in train], tokenizer, options.max_seq_length,
            tags=[t for _, t in train], label_names=label_names)
    train_ds = _dataset(features, options.batch_size, options.max_seq_length, options.seed,
                        options.bucket_width or None)
    windows = len(features.labels)
    total_steps = options.total_steps(windows)
    with timer.phase("build model"), strategy.scope():
        encoder = build_encoder(options, tokenizer.vocab_size)
        model = BertTokenClassifier(encoder, num_classes=len(label_names))
        compile_for_training(
            model, options, total_steps,
            # Averaged over first pieces only (weight 1), not over every position.
            loss=keras.losses.SparseCategoricalCrossentropy(
                from_logits=True, reduction="mean_with_sample_weight"),
            weighted_metrics=[keras.metrics.SparseCategoricalAccuracy("accuracy")])
    evaluation = None
    if eval_examples:
        eval_features = ner_inputs.ner_features(
            [w for w, _ in eval_examples], tokenizer, options.max_seq_length)
        evaluation = PeriodicEvaluation(
            lambda m: task_figures(evaluate(m, tokenizer, eval_examples, options.max_seq_length,
                                            label_names, options.batch_size, eval_features)),
            "f1", options.model_dir, keep_best=options.keep_best,
            patience=options.early_stopping_patience)
    print(f"Training on {len(train)} sentences ({windows} windows of <= "
          f"{options.max_seq_length} tokens) for {total_steps} steps of {options.batch_size} "
          f"({strategy.num_replicas_in_sync} replica(s)).", flush=True)
    with timer.phase("train"):
        history = fit(model, train_ds, model_dir=options.model_dir,
                      total_steps=total_steps, steps_per_loop=options.steps_per_loop,
                      evaluation=evaluation)
    results = train_results(history, total_steps)
    results["train_windows"] = windows
    if eval_examples:
        with timer.phase("evaluate"):
            results.update(evaluate(model, tokenizer, eval_examples, options.max_seq_length,
                                    label_names, options.batch_size, eval_features))
        print_scores(results)
    # `word_split`: how raw text becomes words at prediction time.
    save_run(options.model_dir, model, vocab_file, "ner", options.max_seq_length,
             labels=list(label_names), word_split=word_split)
    return finish_run(options.model_dir, timer, results, curve_metric="f1")


def evaluate_run(model_dir, eval_examples, batch_size=64):
    """Scores a finished NER run on `(words, tags)` examples; writes `eval_metrics.json`
    beside it and returns the metrics."""
    model, vocab_file, info = _load_ner(model_dir)
    scores = evaluate(model, BertTokenizer(vocab_file), eval_examples, info["max_seq_length"],
                      info["labels"], batch_size)
    print_scores(scores)
    print(f"Wrote {write_metrics(model_dir, scores, 'eval_metrics.json')}", flush=True)
    return scores


def _load_ner(model_dir):
    task = load_run_info(model_dir)["task"]
    if task != "ner":
        raise UsageError(f"--model_dir={model_dir} holds a {task!r} run, not an NER run.")
    return load_run(model_dir)


def predict_file(model_dir, input_file, output_file, batch_size=64):
    """Tags every line of `input_file`; writes one JSON line per text with its entities.

    Each output line is `{"text": ..., "entities": [{"type", "text", "start", "end"}]}`
    with character offsets into the text (`end` exclusive).
    """
    model, vocab_file, info = _load_ner(model_dir)
    texts = [line for _, line in read_lines(input_file) if line.strip()]
    split = [ner_inputs.split_words(t, info.get("word_split", "chars")) for t in texts]
    tags = predict_tags(model, BertTokenizer(vocab_file), [words for words, _ in split],
                        info["max_seq_length"], info["labels"], batch_size)
    with tf.io.gfile.GFile(output_file, "w") as f:
        for text, (_, spans), text_tags in zip(texts, split, tags):
            entities = ner_postprocess.tagged_entities(text, spans, text_tags)
            f.write(json.dumps({"text": text, "entities": entities}, ensure_ascii=False) + "\n")
    print(f"Wrote entities of {len(texts)} texts to {output_file}", flush=True)
    return os.path.abspath(output_file)
