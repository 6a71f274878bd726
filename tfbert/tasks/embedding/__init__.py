"""Sentence embeddings: mean pooling over real tokens, L2-normalised (sentence-transformers),
the checkpoint settings, the serving signature and cosine similarity of text pairs."""
