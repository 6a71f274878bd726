"""Masked-LM + next-sentence pretraining: features, run, metrics."""
