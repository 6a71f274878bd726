"""Classification and regression metrics in numpy: accuracy, macro-F1, binary F1, Matthews
correlation, Pearson and Spearman (the GLUE and CLUE leaderboards' figures among them)."""

import numpy as np

from tfbert.tasks.scores import precision_recall_f1


def _check_labels(labels, predictions):
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    if labels.shape != predictions.shape or labels.ndim != 1:
        raise ValueError(
            f"`labels` {labels.shape} and `predictions` {predictions.shape} must be 1-D "
            "and the same length"
        )
    return labels, predictions


def accuracy(labels, predictions):
    """Share of `predictions` equal to `labels` (1-D array-likes); 0.0 when empty.

    Example:
    >>> accuracy([0, 1, 1, 2], [0, 1, 0, 2])
    0.75
    """
    labels, predictions = _check_labels(labels, predictions)
    return float(np.mean(labels == predictions)) if labels.size else 0.0


def binary_f1(labels, predictions, positive=1):
    """F1 of the `positive` class (scikit-learn's `f1_score`, `average="binary"`): the MRPC
    and QQP figure. 0.0 when the class is neither true nor predicted anywhere.

    Example:
    >>> binary_f1([1, 1, 0, 0], [1, 0, 1, 0])
    0.5
    """
    labels, predictions = _check_labels(labels, predictions)
    true, pred = labels == positive, predictions == positive
    return precision_recall_f1(int(np.sum(true & pred)), int(np.sum(pred)), int(np.sum(true)))[2]


def matthews_corrcoef(labels, predictions):
    """Matthews correlation coefficient, multi-class (Gorodkin's R_K), as scikit-learn's
    `matthews_corrcoef`: the CoLA figure. 0.0 where it is undefined (a constant column).

    With `c` correct predictions of `s`, `t_k` true and `p_k` predicted members of class k:
    `(c * s - sum_k t_k p_k) / sqrt((s^2 - sum_k p_k^2) * (s^2 - sum_k t_k^2))`; for two
    classes this is `(TP*TN - FP*FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN))`.

    Example:
    >>> matthews_corrcoef([1, 1, 0, 0], [1, 0, 0, 0])
    0.5773502691896258
    """
    labels, predictions = _check_labels(labels, predictions)
    classes, codes = np.unique(np.concatenate([labels, predictions]), return_inverse=True)
    true, pred = codes[:len(labels)], codes[len(labels):]
    t = np.bincount(true, minlength=len(classes)).astype(np.float64)
    p = np.bincount(pred, minlength=len(classes)).astype(np.float64)
    s, c = float(len(labels)), float(np.sum(true == pred))
    denominator = np.sqrt((s * s - np.dot(p, p)) * (s * s - np.dot(t, t)))
    return float((c * s - np.dot(t, p)) / denominator) if denominator else 0.0


def macro_f1(labels, predictions):
    """Unweighted mean of per-class F1 over the classes in `labels` or `predictions`.

    Same as scikit-learn's `f1_score(average="macro")` (a class never predicted and never
    true does not count; a 0/0 ratio is 0.0).

    Args:
        labels: 1-D array-like of class ids or names.
        predictions: 1-D array-like of the same length.

    Example:
    >>> macro_f1([0, 0, 1, 2], [0, 1, 1, 2])
    0.7777777777777777
    """
    labels, predictions = _check_labels(labels, predictions)
    scores = []
    for c in np.union1d(labels, predictions):
        true, pred = labels == c, predictions == c
        counts = int(np.sum(true & pred)), int(np.sum(pred)), int(np.sum(true))
        scores.append(precision_recall_f1(*counts)[2])
    return float(np.mean(scores)) if scores else 0.0


def _check_pair(x, y):
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or x.size < 2:
        raise ValueError(
            f"`x` {x.shape} and `y` {y.shape} must be 1-D, the same length and at least 2 long"
        )
    return x, y


def pearson(x, y):
    """Pearson correlation of two 1-D arrays; nan if either is constant (as scipy)."""
    x, y = _check_pair(x, y)
    x, y = x - x.mean(), y - y.mean()
    denominator = np.sqrt(np.sum(x * x) * np.sum(y * y))
    return float(np.sum(x * y) / denominator) if denominator else float("nan")


def _ranks(x):
    """1-based ranks, ties given their average rank (scipy's `rankdata` default)."""
    order = np.argsort(x, kind="stable")
    sorted_x = x[order]
    # Boundaries of runs of equal values in sorted order.
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    ends = np.r_[starts[1:], len(x)]
    average = (starts + ends + 1) / 2.0  # mean of ranks starts+1 .. ends
    ranks = np.empty(len(x))
    ranks[order] = np.repeat(average, ends - starts)
    return ranks


def spearman(x, y):
    """Spearman rank correlation of two 1-D arrays (Pearson of average ranks, as scipy)."""
    x, y = _check_pair(x, y)
    return pearson(_ranks(x), _ranks(y))


def confusion_matrix(labels, predictions, num_classes):
    """int [num_classes, num_classes]: row = true class, column = predicted class."""
    matrix = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(matrix, (np.asarray(labels, np.int64), np.asarray(predictions, np.int64)), 1)
    return matrix


def per_class_scores(matrix, names):
    """`{name: {"precision", "recall", "f1", "support"}}` from a confusion matrix."""
    scores = {}
    for c, name in enumerate(names):
        p, r, f = precision_recall_f1(int(matrix[c, c]), int(matrix[:, c].sum()),
                                      int(matrix[c].sum()))
        scores[name] = {"precision": p, "recall": r, "f1": f, "support": int(matrix[c].sum())}
    return scores


def cross_entropy(logits, labels):
    """Mean softmax cross-entropy of float logits [n, classes] against int labels [n]."""
    logits = np.asarray(logits, np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return float(-np.mean(log_probs[np.arange(len(labels)), np.asarray(labels)]))
