"""Named-entity recognition (token classification): features, run, metrics, postprocess, serving."""

from tfbert.tasks.ner.run import evaluate, evaluate_run, predict_file, predict_tags, train_ner

__all__ = ["evaluate", "evaluate_run", "predict_file", "predict_tags", "train_ner"]
