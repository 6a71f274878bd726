"""Sequence classification and regression: features, run, metrics, serving."""

from tfbert.tasks.classification.run import evaluate, predict_file, train_classifier

__all__ = ["evaluate", "predict_file", "train_classifier"]
