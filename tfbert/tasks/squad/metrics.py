"""Extractive QA scores, as the official scripts count them: SQuAD (English), CMRC 2018 (Chinese).

SQuAD: answers are normalized before comparison: lower-cased, ASCII punctuation removed, the
articles `a`, `an`, `the` removed as words, whitespace collapsed. A question scores the
best over its gold answers. F1 is over the bag of normalized tokens. An unanswerable
question (v2.0) has the single gold answer "", so only the empty prediction scores 1 on
it; an empty prediction against a real answer scores 0. Scores are percentages, as the
official scripts print them.

CMRC 2018 (`cmrc_scores`): EM compares answers after lower-casing, stripping and removing
the script's punctuation characters; F1 is over the longest common run of segments (each
Chinese character and punctuation mark a segment, other runs split into words, numbers and
symbols), against the best gold answer. `qa_scores` picks CMRC for Chinese contexts.
"""

import collections
import re
import string

import numpy as np

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


# === CMRC 2018 ===

# The characters the CMRC 2018 script removes (its list; only these, not all punctuation).
_CMRC_PUNCTUATION = frozenset(
    "-:_*^/\\~`+=，。：？！“”；’《》·、「」（）－～『』")
_CJK = re.compile(r"[\u4e00-\u9fa5]")
# Non-Chinese runs: numbers with their inner points and commas, words, single symbols.
_NON_CJK_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|\w+|[^\w\s]")


def cmrc_segments(text, remove_punctuation=False):
    """CMRC 2018 segmentation: one segment per Chinese character or punctuation mark,
    words / numbers / symbols elsewhere (the script uses NLTK's `word_tokenize` there;
    the two agree on words, numbers and symbols, not on English contractions)."""
    segments, run = [], []
    for char in text.lower().strip():
        if remove_punctuation and char in _CMRC_PUNCTUATION:
            continue
        if _CJK.match(char) or char in _CMRC_PUNCTUATION:
            segments.extend(_NON_CJK_TOKEN.findall("".join(run)))
            run = []
            segments.append(char)
        else:
            run.append(char)
    segments.extend(_NON_CJK_TOKEN.findall("".join(run)))
    return segments


def _longest_common_run(a, b):
    """Length of the longest contiguous run of segments shared by `a` and `b`."""
    if not a or not b:
        return 0
    matches = np.equal.outer(np.array(a, object), np.array(b, object))
    best = 0
    previous = np.zeros(len(b) + 1, int)
    for row in matches:
        current = np.zeros(len(b) + 1, int)
        current[1:] = np.where(row, previous[:-1] + 1, 0)
        best = max(best, int(current.max()))
        previous = current
    return best


def cmrc_exact_match(prediction, gold):
    def strip(text):
        return "".join(c for c in text.lower().strip() if c not in _CMRC_PUNCTUATION)
    return float(strip(prediction) == strip(gold))


def cmrc_f1(prediction, gold):
    """F1 of the longest common run of segments (0.0 when nothing is shared)."""
    predicted = cmrc_segments(prediction, remove_punctuation=True)
    true = cmrc_segments(gold, remove_punctuation=True)
    common = _longest_common_run(true, predicted)
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(true)
    return 2 * precision * recall / (precision + recall)


def cmrc_scores(examples, predictions):
    """CMRC 2018 EM and F1 (percent), `average` of the two as its leaderboard ranks.

    Returns:
        dict with `exact`, `f1`, `average`, `total` and `skipped` (questions without a
        prediction, scored 0 as the official script does).
    """
    exact = f1_total = 0.0
    skipped = 0
    for example in examples:
        golds = [text for text, _ in example.answers] or [""]
        if example.id not in predictions:
            skipped += 1
            continue
        prediction = predictions[example.id]
        exact += max(cmrc_exact_match(prediction, g) for g in golds)
        f1_total += max(cmrc_f1(prediction, g) for g in golds)
    total = len(examples)
    exact, f1_total = (100.0 * exact / total, 100.0 * f1_total / total) if total else (0, 0)
    return {"exact": exact, "f1": f1_total, "average": (exact + f1_total) / 2,
            "total": total, "skipped": skipped}


def is_chinese(examples, threshold=0.3):
    """Whether Chinese characters are at least `threshold` of the contexts' characters."""
    text = "".join(example.context for example in examples)
    return bool(text) and len(_CJK.findall(text)) >= threshold * len(text)


QA_METRICS = ("auto", "squad", "cmrc")


def qa_scores(examples, predictions, metric="auto"):
    """`squad_scores` or `cmrc_scores`; `"auto"` picks CMRC for Chinese contexts.

    Returns the scores plus `metric`, the name of the one used.
    """
    if metric not in QA_METRICS:
        raise ValueError(f"`metric` must be one of {QA_METRICS}, got {metric!r}.")
    if metric == "auto":
        metric = "cmrc" if is_chinese(examples) else "squad"
    scores = (cmrc_scores if metric == "cmrc" else squad_scores)(examples, predictions)
    return {**scores, "metric": metric}
