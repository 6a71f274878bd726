"""BERTScore: precision, recall and F1 of candidate texts against references from one encoder
layer's token states, with the rules of the reference `bert-score` package (see `score`)."""

from tfbert.tasks.bertscore.score import (
    LayerEmbedder,
    bert_score,
    greedy_match,
    idf_weights,
    load_embedder,
    read_baseline,
    uniform_weights,
)
from tfbert.tasks.bertscore.texts import read_lines, read_pairs

__all__ = ["LayerEmbedder", "bert_score", "greedy_match", "idf_weights", "load_embedder",
           "read_baseline", "read_lines", "read_pairs", "uniform_weights"]
