"""Masked-LM + next-sentence pretraining: features, run, metrics."""

from tfbert.tasks.pretraining.run import pretrain, special_ids, text_pairs

__all__ = ["pretrain", "special_ids", "text_pairs"]
