"""Counting figures every task's metrics share."""


def precision_recall_f1(correct, predicted, actual):
    """Precision, recall and F1 from counts; 0.0 where a ratio is 0/0."""
    precision = correct / predicted if predicted else 0.0
    recall = correct / actual if actual else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1
