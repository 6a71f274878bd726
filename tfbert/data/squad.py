"""SQuAD v1.1 and v2.0 JSON files: questions over paragraphs with character-offset answers."""

import json
import logging
import os
import typing

from tfbert.data import files
from tfbert.errors import UsageError


class SquadExample(typing.NamedTuple):
    """One question. `answers` is a list of `(text, start)` with
    `context[start:start + len(text)] == text`; empty when `is_impossible`."""

    id: str
    question: str
    context: str
    answers: list
    is_impossible: bool = False


def _field(record, key, kind, where):
    if key not in record:
        raise UsageError(f"{where}: missing key {key!r}")
    value = record[key]
    if not isinstance(value, kind):
        raise UsageError(
            f"{where}: {key!r} must be a {kind.__name__}, got {type(value).__name__}"
        )
    return value


def _load_json(path):
    name = os.fspath(path)
    try:
        return json.loads(files.read_text(path))
    except json.JSONDecodeError as e:
        raise UsageError(f"{name}:{e.lineno}:{e.colno}: not valid JSON: {e.msg}") from None


def read_squad(path, skip_mismatched_answers=False):
    """Reads a SQuAD v1.1 or v2.0 JSON file into one `SquadExample` per question.

    v2.0's `is_impossible` is read when present (v1.1 has none: every question is
    answerable). Every answer is checked against its context: `context[answer_start:
    answer_start + len(text)]` must equal `text`, else the model would learn a wrong span.

    Args:
        path: str or os.PathLike, the JSON file (UTF-8): `{"data": [{"paragraphs":
            [{"context": ..., "qas": [{"id", "question", "answers": [{"text",
            "answer_start"}], "is_impossible"?}]}]}]}`.
        skip_mismatched_answers: bool, default False. If True, answers whose text does not
            match the context are dropped with a warning naming the question id (and a
            question left with none is dropped too) instead of raising.

    Returns:
        A list of `SquadExample(id, question, context, answers, is_impossible)`.

    Raises:
        ValueError: naming the file and the record (`data[3].paragraphs[7].qas[2]` and the
            question id) on a missing or mistyped field, an answerable question without
            answers, an impossible one with answers, or an answer that does not match its
            context (all mismatches listed); naming the file and line on bad JSON or bytes
            that are not UTF-8.
    """
    name = os.fspath(path)
    root = _load_json(path)
    if not isinstance(root, dict):
        raise UsageError(f"{name}: expected a JSON object with key 'data'")
    examples, mismatches = [], []
    for i, article in enumerate(_field(root, "data", list, name)):
        where_article = f"{name}: data[{i}]"
        if not isinstance(article, dict):
            raise UsageError(f"{where_article}: expected an object")
        for j, paragraph in enumerate(_field(article, "paragraphs", list, where_article)):
            where_paragraph = f"{where_article}.paragraphs[{j}]"
            if not isinstance(paragraph, dict):
                raise UsageError(f"{where_paragraph}: expected an object")
            context = _field(paragraph, "context", str, where_paragraph)
            for k, qa in enumerate(_field(paragraph, "qas", list, where_paragraph)):
                where = f"{where_paragraph}.qas[{k}]"
                if not isinstance(qa, dict):
                    raise UsageError(f"{where}: expected an object")
                qid = _field(qa, "id", str, where)
                where = f"{where} (id {qid!r})"
                question = _field(qa, "question", str, where)
                is_impossible = _field(qa, "is_impossible", bool, where) if (
                    "is_impossible" in qa
                ) else False
                answers = []
                for a, answer in enumerate(_field(qa, "answers", list, where)):
                    where_answer = f"{where}.answers[{a}]"
                    if not isinstance(answer, dict):
                        raise UsageError(f"{where_answer}: expected an object")
                    text = _field(answer, "text", str, where_answer)
                    start = _field(answer, "answer_start", int, where_answer)
                    found = context[start:start + len(text)] if start >= 0 else ""
                    if not text or found != text:
                        mismatches.append(
                            f"{where_answer}: answer {text!r} at {start} does not match "
                            f"context[{start}:{start + len(text)}] = {found!r}"
                        )
                        continue
                    answers.append((text, start))
                num_answers = len(qa["answers"])
                if is_impossible and num_answers:
                    raise UsageError(
                        f"{where}: is_impossible is true but {num_answers} answers are "
                        "given (put them in 'plausible_answers')"
                    )
                if not is_impossible and not num_answers:
                    raise UsageError(
                        f"{where}: no answers; an unanswerable question needs "
                        "'is_impossible': true (SQuAD v2.0)"
                    )
                if not is_impossible and not answers:
                    continue  # every answer mismatched: reported above
                examples.append(SquadExample(qid, question, context, answers, is_impossible))
    if mismatches:
        report = "\n".join(mismatches[:20])
        more = f"\n... and {len(mismatches) - 20} more" if len(mismatches) > 20 else ""
        if not skip_mismatched_answers:
            raise UsageError(
                f"{len(mismatches)} answer(s) do not match their context: "
                f"{'; '.join(mismatches[:3])}{'; ...' if len(mismatches) > 3 else ''} "
                "(--skip_mismatched_answers drops them)"
            )
        logging.warning("dropped %d mismatched answer(s):\n%s%s", len(mismatches), report, more)
    return examples
