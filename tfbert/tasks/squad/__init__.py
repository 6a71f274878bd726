"""Extractive question answering (SQuAD v1.1 / v2.0): features, run, metrics, postprocess,
serving."""
