"""CLUE classification tasks (https://www.cluebenchmarks.com) as the benchmark ships them:
JSON lines, one object a line, in `<task>_public/` folders.

    afqmc_public/        sentence1, sentence2, label "0"/"1"
    tnews_public/        sentence, label "100".."116", label_desc, keywords
    iflytek_public/      sentence, label "0".."118", label_des
    cmnli_public/        sentence1, sentence2, label entailment/neutral/contradiction or "-"
    ocnli_public/        the same fields (train file `train.50k.json`)
    csl_public/          abst, keyword (a list of str), label "0"/"1"
    cluewsc2020_public/  text, target {span1_text, span1_index, span2_text, span2_index},
                         label "true"/"false"

Each folder holds `train.json`, `dev.json` and `test.json` (CLUE 1.1's test files: TNEWS and
CLUEWSC2020 1.0's are `test1.0.json`); test rows carry an `id` and no label. How a row
becomes BERT input (the CLUE baselines' choices):

- TNEWS and IFLYTEK: the sentence alone (TNEWS's keywords are left out).
- AFQMC, CMNLI, OCNLI: sentence1, then sentence2 as the second segment.
- CSL: the keywords joined by spaces, then the abstract as the second segment.
- CLUEWSC2020: the text alone, with the candidate (span 1) between underscores and the
  pronoun (span 2) in brackets: "_小明_看见小红，[他]..." — the spans are checked against
  the text.

CMNLI and OCNLI rows labelled "-" (annotators did not agree) have no gold label: they are
left out of train and dev, counted and reported in one line.
"""

import json
import os
import typing

from tfbert.data import files
from tfbert.data.leaderboard import TaskExample, TaskFile, report_skipped
from tfbert.errors import UsageError


def _text(row, key):
    value = row.get(key)
    if not isinstance(value, str):
        raise UsageError(f"field {key!r} must be a string, got {value!r}")
    return value


def _sentence(row):
    return _text(row, "sentence"), None


def _sentence_pair(row):
    return _text(row, "sentence1"), _text(row, "sentence2")


def _keywords_and_abstract(row):
    keywords = row.get("keyword")
    if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
        raise UsageError(f"field 'keyword' must be a list of strings, got {keywords!r}")
    return " ".join(keywords), _text(row, "abst")


def _marked_spans(row):
    """The text with span 1 as `_span_` and span 2 as `[span]`, inserted right to left so
    the earlier index stays valid."""
    text, target = _text(row, "text"), row.get("target")
    if not isinstance(target, dict):
        raise UsageError(f"field 'target' must be an object, got {target!r}")
    spans = []
    for number, (left, right) in (("1", "__"), ("2", "[]")):
        span, start = _text(target, f"span{number}_text"), target.get(f"span{number}_index")
        if not isinstance(start, int) or text[start:start + len(span)] != span:
            raise UsageError(f"target span{number}_text {span!r} is not at span{number}_index "
                             f"{start!r} of the text")
        spans.append((start, len(span), left, right))
    for start, length, left, right in sorted(spans, reverse=True):
        end = start + length
        text = text[:start] + left + text[start:end] + right + text[end:]
    return text, None


class ClueTask(typing.NamedTuple):
    """How one CLUE task's files read.

    Fields:
        labels: tuple of str class names in label-id order.
        encode: row dict -> `(text, text_pair or None)`; raises ValueError on a bad field.
        files: `{split: path under the data directory}`.
        ungraded: a label value meaning "no gold label" (rows left out), or None.
    """

    labels: tuple
    encode: typing.Callable
    files: dict
    ungraded: str | None = None


def _splits(folder, train="train.json"):
    return {"train": f"{folder}/{train}", "dev": f"{folder}/dev.json",
            "test": f"{folder}/test.json"}


_NLI = ("contradiction", "entailment", "neutral")
# TNEWS's 15 news categories (codes 105 and 111 are unused).
_TNEWS = tuple(str(code) for code in range(100, 117) if code not in (105, 111))
CLUE_TASKS = {
    "AFQMC": ClueTask(("0", "1"), _sentence_pair, _splits("afqmc_public")),
    "TNEWS": ClueTask(_TNEWS, _sentence, _splits("tnews_public")),
    "IFLYTEK": ClueTask(tuple(str(i) for i in range(119)), _sentence,
                        _splits("iflytek_public")),
    "CMNLI": ClueTask(_NLI, _sentence_pair, _splits("cmnli_public"), ungraded="-"),
    "OCNLI": ClueTask(_NLI, _sentence_pair, _splits("ocnli_public", "train.50k.json"),
                      ungraded="-"),
    "CSL": ClueTask(("0", "1"), _keywords_and_abstract, _splits("csl_public")),
    "CLUEWSC2020": ClueTask(("true", "false"), _marked_spans, _splits("cluewsc2020_public")),
}


def read_clue_file(task, path, labelled=True, log=print, strict=False):
    """Reads one CLUE JSON-lines file of `task` (see the module docstring for the fields).

    Args:
        task: str, a key of `CLUE_TASKS`.
        path: str or os.PathLike, the file (UTF-8, one JSON object a line).
        labelled: bool, default True; False for test files (`id`, no label).
        log: callable taking a str, where the line about rows left out goes.
        strict: bool, a row that would be left out is an error instead.

    Returns:
        `TaskFile(path, examples, skipped)`: `TaskExample(id, text, text_pair, label)`s in
        file order (labels as str, None when not `labelled`; id the row's `id`, else its
        line number) and the line numbers of rows without a gold label ("-").

    Raises:
        ValueError: naming the file and line, on a line that is not a JSON object, a missing
            or mistyped field, CLUEWSC spans that are not where their index says, a label
            not among the task's, a test row without `id`, a file with no rows, or bytes
            that are not UTF-8.

    Example:
    >>> # test.json: {"id": 0, "sentence1": "借呗取消的时间", "sentence2": "借呗什么时候取消"}
    >>> read_clue_file("AFQMC", "test.json", labelled=False).examples[0]
    TaskExample(id=0, text='借呗取消的时间', text_pair='借呗什么时候取消', label=None)
    """
    if task not in CLUE_TASKS:
        raise UsageError(f"`task` must be one of {list(CLUE_TASKS)}, got {task!r}.")
    spec = CLUE_TASKS[task]
    name = os.fspath(path)
    examples, skipped = [], []
    for line_number, line in files.read_lines(path):
        if not line.strip():
            continue
        where = f"{name}:{line_number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise UsageError(f"{where}: not JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(row, dict):
            raise UsageError(f"{where}: expected a JSON object, got {type(row).__name__}")
        label = None
        if labelled:
            if "label" not in row:
                raise UsageError(f"{where}: no field 'label' (a test file? pass "
                                 "labelled=False)")
            label = row["label"]
            # CLUEWSC's labels are "true"/"false"; accept JSON booleans and numbers as such.
            label = str(label).lower() if isinstance(label, bool) else str(label)
            if label == spec.ungraded:
                if strict:
                    raise UsageError(f"{where}: label {label!r} (no gold label); --strict "
                                     "stops here, without it the row is skipped and counted")
                skipped.append(line_number)
                continue
            if label not in spec.labels:
                shown = ", ".join(spec.labels[:5]) + (", ..." if len(spec.labels) > 5 else "")
                raise UsageError(f"{where}: label {label!r} is not a {task} label ({shown})")
        elif "id" not in row:
            raise UsageError(f"{where}: test rows need an 'id' (submissions name rows by it)")
        try:
            text, text_pair = spec.encode(row)
        except ValueError as e:
            raise UsageError(f"{where}: {e}") from None
        examples.append(TaskExample(row.get("id", line_number), text, text_pair, label))
    if not examples:
        raise UsageError(f"{name}: no rows (expected a {task} file)")
    report_skipped(name, skipped, ("row labelled '-' (no gold label)",
                                   "rows labelled '-' (no gold label)"), log)
    return TaskFile(name, examples, tuple(skipped))
