"""GLUE tasks (https://gluebenchmark.com) in the layout of the GLUE download script:

    CoLA/ SST-2/ MRPC/ STS-B/ QQP/ QNLI/ RTE/ WNLI/   train.tsv  dev.tsv  test.tsv
    MNLI/            train.tsv  dev_matched.tsv  dev_mismatched.tsv
                     test_matched.tsv  test_mismatched.tsv
    diagnostic/      diagnostic.tsv (AX: `index sentence1 sentence2`, labelled by an MNLI model)

Files are tab-separated and read with quoting off: a `"` is text (QQP and MNLI hold stray
quotes that a CSV reader would join across rows). Every file starts with a header except
CoLA's train and dev, which have 4 columns: source, label, the original judgement (`*` or
empty) and the sentence. Columns are found by their header names:

    task    text        text_pair   label                               test ids
    CoLA    sentence    -           label (the 2nd column)              index
    SST-2   sentence    -           label (0/1)                         index
    MRPC    #1 String   #2 String   Quality (0/1)                       index
    STS-B   sentence1   sentence2   score (float, 0-5)                  index
    QQP     question1   question2   is_duplicate (0/1)                  id
    MNLI    sentence1   sentence2   gold_label (last of 12 or 16)       index
    QNLI    question    sentence    label (entailment/not_entailment)   index
    RTE     sentence1   sentence2   label (entailment/not_entailment)   index
    WNLI    sentence1   sentence2   label (0/1)                         index

Rows whose column count differs from the header's are errors naming the file and line, except
in QQP's train and dev files, where a few such rows are known: they are skipped, counted and
reported in one line ("skipped 2 malformed rows of QQP/train.tsv (lines 5, 9)").
"""

import os
import typing

from tfbert.data import files
from tfbert.data.leaderboard import TaskExample, TaskFile, report_skipped
from tfbert.errors import UsageError


class GlueTask(typing.NamedTuple):
    """How one GLUE task's files read.

    Fields:
        labels: tuple of str class names in label-id order; None for regression (STS-B).
        columns: `(text, text_pair or None, label)` header names.
        test_id: header name of the id column of test files.
        files: `{split: path under the data directory}`.
    """

    labels: tuple | None
    columns: tuple
    test_id: str
    files: dict


def _splits(folder):
    return {split: f"{folder}/{split}.tsv" for split in ("train", "dev", "test")}


_BINARY = ("0", "1")
_NLI = ("entailment", "not_entailment")
GLUE_TASKS = {
    "CoLA": GlueTask(_BINARY, ("sentence", None, "label"), "index", _splits("CoLA")),
    "SST-2": GlueTask(_BINARY, ("sentence", None, "label"), "index", _splits("SST-2")),
    "MRPC": GlueTask(_BINARY, ("#1 String", "#2 String", "Quality"), "index", _splits("MRPC")),
    "STS-B": GlueTask(None, ("sentence1", "sentence2", "score"), "index", _splits("STS-B")),
    "QQP": GlueTask(_BINARY, ("question1", "question2", "is_duplicate"), "id", _splits("QQP")),
    "MNLI": GlueTask(
        ("contradiction", "entailment", "neutral"), ("sentence1", "sentence2", "gold_label"),
        "index",
        {"train": "MNLI/train.tsv", "dev_matched": "MNLI/dev_matched.tsv",
         "dev_mismatched": "MNLI/dev_mismatched.tsv", "test_matched": "MNLI/test_matched.tsv",
         "test_mismatched": "MNLI/test_mismatched.tsv",
         "diagnostic": "diagnostic/diagnostic.tsv"}),
    "QNLI": GlueTask(_NLI, ("question", "sentence", "label"), "index", _splits("QNLI")),
    "RTE": GlueTask(_NLI, ("sentence1", "sentence2", "label"), "index", _splits("RTE")),
    "WNLI": GlueTask(_BINARY, ("sentence1", "sentence2", "label"), "index", _splits("WNLI")),
}
# CoLA's train and dev files have no header: these are their columns.
_COLA_COLUMNS = ("source", "label", "original_judgement", "sentence")


def read_glue_file(task, path, labelled=True, log=print, strict=False):
    """Reads one GLUE file of `task` (see the module docstring for the layouts).

    Args:
        task: str, a key of `GLUE_TASKS` ("CoLA", "SST-2", ..., "MNLI" also for the AX
            diagnostic file).
        path: str or os.PathLike, the TSV file (UTF-8).
        labelled: bool, default True; False for test files (and AX), which have an id column
            and no label.
        log: callable taking a str, where the skipped-rows line goes.
        strict: bool, a row that would be skipped is an error instead.

    Returns:
        `TaskFile(path, examples, skipped)`: `TaskExample(id, text, text_pair, label)`s in
        file order (label None when not `labelled`; id the `index`/`id` value, else the line
        number), and the line numbers of the skipped QQP rows.

    Raises:
        ValueError: naming the file and line, on a header without the task's columns, a row
            with the wrong column count (outside QQP's train/dev), an unknown label, a score
            that is not a number, a file with no rows, or bytes that are not UTF-8.

    Example:
    >>> # rte.tsv: "index<TAB>sentence1<TAB>sentence2<TAB>label" then
    >>> # "0<TAB>A man sleeps.<TAB>A man is awake.<TAB>not_entailment"
    >>> read_glue_file("RTE", "rte.tsv").examples[0]
    TaskExample(id='0', text='A man sleeps.', text_pair='A man is awake.', label='not_entailment')
    """
    if task not in GLUE_TASKS:
        raise UsageError(f"`task` must be one of {list(GLUE_TASKS)}, got {task!r}.")
    spec = GLUE_TASKS[task]
    name = os.fspath(path)
    text_column, pair_column, label_column = spec.columns
    wanted = [c for c in (text_column, pair_column) if c]
    wanted.append(label_column if labelled else spec.test_id)
    header = _COLA_COLUMNS if task == "CoLA" and labelled else None
    examples, skipped = [], []
    for line_number, line in files.read_lines(path):
        if not line.strip():
            continue
        fields = line.split("\t")
        if header is None:
            header = tuple(field.strip() for field in fields)
            missing = [c for c in wanted if c not in header]
            if missing:
                raise UsageError(
                    f"{name}:{line_number}: expected a {task} "
                    f"{'header' if labelled else 'test-file header'} with the columns "
                    f"{wanted}; missing {missing} in {list(header)}")
            continue
        if len(fields) != len(header):
            if task == "QQP" and labelled:
                if strict:
                    raise UsageError(f"{name}:{line_number}: malformed row ({len(fields)} "
                                     f"fields, the header has {len(header)}); --strict stops "
                                     "here, without it the row is skipped and counted")
                skipped.append(line_number)
                continue
            raise UsageError(
                f"{name}:{line_number}: expected {len(header)} tab-separated columns "
                f"({', '.join(header)}), got {len(fields)}")
        row = dict(zip(header, fields))
        label = None
        if labelled:
            label = _check_label(spec, row[label_column].strip(),
                                 f"{name}:{line_number}: {label_column}")
        id_column = spec.test_id if spec.test_id in row else "index"
        example_id = row[id_column].strip() if id_column in row else str(line_number)
        examples.append(TaskExample(example_id, row[text_column],
                                    row[pair_column] if pair_column else None, label))
    if not examples:
        raise UsageError(f"{name}: no rows (expected a {task} file)")
    report_skipped(name, skipped, ("malformed row", "malformed rows"), log)
    return TaskFile(name, examples, tuple(skipped))


def _check_label(spec, label, where):
    if spec.labels is None:
        try:
            float(label)
        except ValueError:
            raise UsageError(f"{where} {label!r} is not a number") from None
    elif label not in spec.labels:
        raise UsageError(f"{where} {label!r} is not one of {list(spec.labels)}")
    return label
