"""Extractive question answering (SQuAD v1.1 / v2.0): train, predict, score, save."""

import json
import os

import keras
import tensorflow as tf

from tfbert.models import BertSpanQA
from tfbert.tasks.squad import features as squad_inputs
from tfbert.tasks.squad import metrics as squad_metrics
from tfbert.tasks.squad import postprocess as squad_postprocess
from tfbert.tokenization import BertTokenizer
from tfbert.training.loop import PhaseTimer, compile_for_training, fit, train_results
from tfbert.training.options import build_encoder, prepare
from tfbert.training.report import finish_run
from tfbert.training.run_dir import save_run


def _write_json(path, value):
    with tf.io.gfile.GFile(path, "w") as f:
        json.dump(value, f, indent=2, ensure_ascii=False)
        f.write("\n")
    return path


def predict_squad(model, examples, features, output_dir, batch_size=64, n_best_size=20,
                  max_answer_length=30, version_2_with_negative=False,
                  null_score_diff_threshold=0.0):
    """Runs `model` over `features`; writes `predictions.json` and `nbest_predictions.json`
    (and `null_odds.json` for v2.0) in `output_dir`; returns `{id: answer text}`."""
    ds = tf.data.Dataset.from_tensor_slices(features.inputs).batch(batch_size)
    outputs = model.predict(ds, verbose=0)
    predictions, nbest, null_odds = squad_postprocess.postprocess(
        examples, features, outputs["start_logits"], outputs["end_logits"],
        n_best_size=n_best_size, max_answer_length=max_answer_length,
        version_2_with_negative=version_2_with_negative,
        null_score_diff_threshold=null_score_diff_threshold)
    _write_json(os.path.join(output_dir, "predictions.json"), predictions)
    _write_json(os.path.join(output_dir, "nbest_predictions.json"), nbest)
    if version_2_with_negative:
        _write_json(os.path.join(output_dir, "null_odds.json"), null_odds)
    return predictions


def train_squad(options, train, eval_examples, version_2_with_negative=False, doc_stride=128,
                max_query_length=64, n_best_size=20, max_answer_length=30,
                null_score_diff_threshold=0.0, qa_metric="auto"):
    """Fine-tunes a `BertSpanQA`; predicts and scores `eval_examples` if any.

    Args:
        options: `tfbert.training.TrainingOptions`.
        train, eval_examples: lists of `tfbert.data.squad.SquadExample`.
        version_2_with_negative: bool, questions may have no answer (SQuAD v2.0).
        doc_stride, max_query_length, n_best_size, max_answer_length,
            null_score_diff_threshold: as in google-research/bert `run_squad.py`.
        qa_metric: `"squad"`, `"cmrc"` (CMRC 2018's Chinese EM / F1) or `"auto"` (CMRC
            when the evaluation contexts are Chinese).

    Returns:
        metrics (also in `metrics.json`): `eval_exact`, `eval_f1` (percent), `eval_metric`
        (which scoring was used) and more.
    """
    for examples, name in ((train, "train"), (eval_examples, "eval")):
        if not version_2_with_negative and any(e.is_impossible for e in examples):
            raise ValueError(f"The {name} data has unanswerable questions (SQuAD v2.0): "
                             "pass --version_2_with_negative.")
    timer = PhaseTimer()
    strategy, vocab_file = prepare(options)
    tokenizer = BertTokenizer(vocab_file)
    window = dict(max_seq_length=options.max_seq_length, doc_stride=doc_stride,
                  max_query_length=max_query_length)
    with timer.phase("features"):
        features = squad_inputs.squad_features(train, tokenizer, **window)
    targets = {"start_logits": features.start_positions, "end_logits": features.end_positions}
    train_ds = (tf.data.Dataset.from_tensor_slices((features.inputs, targets))
                .shuffle(len(features.example), seed=options.seed, reshuffle_each_iteration=True)
                .batch(options.batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE))
    total_steps = options.total_steps(len(features.example))
    with timer.phase("build model"), strategy.scope():
        encoder = build_encoder(options, tokenizer.vocab_size)
        model = BertSpanQA(encoder)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        compile_for_training(
            model, options, total_steps,
            # The mean of the start and end losses, as run_squad.py.
            loss={"start_logits": loss, "end_logits": loss},
            loss_weights={"start_logits": 0.5, "end_logits": 0.5})
    print(f"Training on {len(train)} questions ({len(features.example)} windows) for "
          f"{total_steps} steps of {options.batch_size} "
          f"({strategy.num_replicas_in_sync} replica(s)).", flush=True)
    with timer.phase("train"):
        history = fit(model, train_ds, model_dir=options.model_dir,
                      total_steps=total_steps, steps_per_loop=options.steps_per_loop)
    results = train_results(history, total_steps)
    results["train_windows"] = int(len(features.example))
    if eval_examples:
        with timer.phase("evaluate"):
            eval_features = squad_inputs.squad_features(eval_examples, tokenizer, **window)
            predictions = predict_squad(
                model, eval_examples, eval_features, options.model_dir, options.batch_size,
                n_best_size=n_best_size, max_answer_length=max_answer_length,
                version_2_with_negative=version_2_with_negative,
                null_score_diff_threshold=null_score_diff_threshold)
            scores = squad_metrics.qa_scores(eval_examples, predictions, qa_metric)
            results.update({f"eval_{k}": v for k, v in scores.items()})
    # The windows of training, for the export's (`tfbert/tasks/squad/serving.py`).
    save_run(options.model_dir, model, vocab_file, "squad", options.max_seq_length,
             doc_stride=doc_stride, max_query_length=max_query_length)
    return finish_run(options.model_dir, timer, results)
