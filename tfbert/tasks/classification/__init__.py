"""Sequence classification and regression: features, run, metrics, serving."""

from tfbert.tasks.classification.run import evaluate, evaluate_run, predict_file, train_classifier

__all__ = ["evaluate", "evaluate_run", "predict_file", "train_classifier"]
