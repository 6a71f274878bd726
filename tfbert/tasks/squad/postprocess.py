"""SQuAD answers from start/end logits, as `run_squad.py`'s `write_predictions`."""

import collections

import numpy as np


def _softmax(scores):
    scores = np.asarray(scores, np.float64)
    exp = np.exp(scores - scores.max())
    return exp / exp.sum()


def postprocess(examples, features, start_logits, end_logits, n_best_size=20,
                max_answer_length=30, version_2_with_negative=False,
                null_score_diff_threshold=0.0):
    """Best answers per example from start/end logits [features, seq].

    As `run_squad.py`'s `write_predictions`: the `n_best_size` top starts and ends of each
    window pair into spans inside the context, start in its max-context window, end >=
    start, at most `max_answer_length` pieces; score = start + end logit. With
    `version_2_with_negative` the null score is the lowest [CLS] score over the windows and
    the answer is "" when `null - best span > null_score_diff_threshold`.

    Returns:
        `(predictions, nbest, null_odds)`: `{id: text}`, `{id: [{"text", "probability",
        "start_logit", "end_logit"}]}`, and `{id: null - best span score}` (v2 only, else {}).
    """
    by_example = collections.defaultdict(list)
    for f, n in enumerate(features.example):
        by_example[int(n)].append(f)
    predictions, nbest_out, null_odds = {}, {}, {}
    for n, example in enumerate(examples):
        candidates, null = [], None
        for f in by_example.get(n, []):
            start, end = start_logits[f], end_logits[f]
            null_score = float(start[0] + end[0])
            if null is None or null_score < null[0]:
                null = (null_score, float(start[0]), float(end[0]))
            tops = np.argsort(-start)[:n_best_size], np.argsort(-end)[:n_best_size]
            for s in tops[0]:
                if features.char_start[f, s] < 0 or not features.max_context[f, s]:
                    continue
                for e in tops[1]:
                    if (features.char_start[f, e] < 0 or e < s
                            or e - s + 1 > max_answer_length):
                        continue
                    a, b = int(features.char_start[f, s]), int(features.char_end[f, e])
                    candidates.append((float(start[s] + end[e]), float(start[s]),
                                       float(end[e]), example.context[a:b]))
        if version_2_with_negative and null is not None:
            candidates.append((null[0], null[1], null[2], ""))
        candidates.sort(key=lambda c: -c[0])
        nbest, seen = [], set()
        for candidate in candidates:
            if candidate[3] in seen:
                continue
            seen.add(candidate[3])
            nbest.append(candidate)
            if len(nbest) >= n_best_size:
                break
        if not nbest:
            nbest = [(0.0, 0.0, 0.0, "")]
        probabilities = _softmax([c[0] for c in nbest])
        nbest_out[example.id] = [
            {"text": c[3], "probability": float(p), "start_logit": c[1], "end_logit": c[2]}
            for c, p in zip(nbest, probabilities)]
        best_span = next((c for c in nbest if c[3]), None)
        if not version_2_with_negative:
            predictions[example.id] = best_span[3] if best_span else ""
            continue
        diff = null[0] - best_span[0] if (best_span and null) else (
            float("inf") if null else float("-inf"))
        null_odds[example.id] = diff
        predictions[example.id] = "" if (best_span is None or
                                         diff > null_score_diff_threshold) else best_span[3]
    return predictions, nbest_out, null_odds
