"""Sequence classification and regression: features, run, metrics, serving."""
