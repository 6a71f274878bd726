"""SQuAD exact match and F1, counted as the official v1.1/v2.0 evaluation scripts count.

Answers are normalized before comparison: lower-cased, ASCII punctuation removed, the
articles `a`, `an`, `the` removed as words, whitespace collapsed. A question scores the
best over its gold answers. F1 is over the bag of normalized tokens. An unanswerable
question (v2.0) has the single gold answer "", so only the empty prediction scores 1 on
it; an empty prediction against a real answer scores 0. Scores are percentages, as the
official scripts print them.
"""

import collections
import re
import string

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text):
    """Lower case, drop punctuation, drop articles, collapse whitespace."""
    text = "".join(c for c in text.lower() if c not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction, gold):
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1(prediction, gold):
    """Token-overlap F1 of normalized answers (1.0 when both are empty)."""
    predicted, true = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not predicted or not true:
        return float(predicted == true)
    common = sum((collections.Counter(predicted) & collections.Counter(true)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(true)
    return 2 * precision * recall / (precision + recall)


def squad_scores(examples, predictions):
    """EM and F1 (percent) of `predictions` (`{id: text}`) against `SquadExample`s.

    A question with no prediction scores 0 (as the v1.1 script counts it).

    Returns:
        dict with `exact`, `f1`, `total`, and for data with unanswerable questions also
        `HasAns_exact`, `HasAns_f1`, `HasAns_total`, `NoAns_exact`, `NoAns_f1`, `NoAns_total`.
    """
    exact_scores, f1_scores = {}, {}
    for example in examples:
        golds = [text for text, _ in example.answers if normalize_answer(text)] or [""]
        if example.id not in predictions:
            exact_scores[example.id] = f1_scores[example.id] = 0.0
            continue
        prediction = predictions[example.id]
        exact_scores[example.id] = max(exact_match(prediction, g) for g in golds)
        f1_scores[example.id] = max(f1(prediction, g) for g in golds)

    def summary(ids, prefix=""):
        total = len(ids)
        return {f"{prefix}exact": 100.0 * sum(exact_scores[i] for i in ids) / total if total
                else 0.0,
                f"{prefix}f1": 100.0 * sum(f1_scores[i] for i in ids) / total if total else 0.0,
                f"{prefix}total": total}

    result = summary([e.id for e in examples])
    if any(e.is_impossible for e in examples):
        result.update(summary([e.id for e in examples if not e.is_impossible], "HasAns_"))
        result.update(summary([e.id for e in examples if e.is_impossible], "NoAns_"))
    return result
