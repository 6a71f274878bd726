"""Extractive question answering (SQuAD v1.1 / v2.0): features, run, metrics, postprocess,
serving."""

from tfbert.tasks.squad.run import predict_squad, train_squad

__all__ = ["predict_squad", "train_squad"]
