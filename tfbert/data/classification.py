"""Text classification files users bring: `label<TAB>text[<TAB>text_pair]` or the CSV twin."""

import csv
import os
import typing

from tfbert.data import files
from tfbert.errors import UsageError


class ClassificationExample(typing.NamedTuple):
    """One labelled text, or text pair (`text_pair` is None for single-text tasks)."""

    label: str
    text: str
    text_pair: str | None = None


def _csv_rows(path):
    """Yields `(line_number, fields)` of a CSV file (RFC 4180 quoting, strict)."""
    lines = (line + "\n" for _, line in files.read_lines(path))
    reader = csv.reader(lines, strict=True)
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise UsageError(f"{os.fspath(path)}:{reader.line_num}: bad CSV: {e}") from None
        # `line_num` is the last physical line read: a quoted field may span several lines.
        yield reader.line_num, fields


def _tsv_rows(path):
    for line_number, line in files.read_lines(path):
        yield line_number, line.split("\t")


def read_classification_file(path, header=False, strict=False, log=None):
    """Reads a classification file: one example per line, `label<TAB>text[<TAB>text_pair]`.

    Files ending in `.csv` are read with the `csv` module (comma-separated, fields with
    commas, quotes or newlines in double quotes); any other file is tab-separated with no
    quoting (a text cannot contain a tab). Fields are stripped of surrounding whitespace;
    empty lines are skipped, counted and reported in one line at the end (`files.Skipped`).
    Either every row has a `text_pair` or none does.

    Args:
        path: str or os.PathLike, the file (UTF-8).
        header: bool, default False. Whether the first non-empty row is a header to skip.
        strict: bool, default False. An empty line is an error instead of a skipped row.
        log: callable taking the skipped-rows line (default: stderr).

    Returns:
        A list of `ClassificationExample(label, text, text_pair)`; labels stay strings
        (map them to ids with a sorted label list of your own).

    Raises:
        ValueError: naming the file and line, on a row without 2 or 3 fields, an empty
            label or text, a row whose field count differs from the first row's, bad CSV
            quoting, or bytes that are not UTF-8.

    Example:
    >>> # train.tsv: "pos<TAB>great phone" / "neg<TAB>broke in a day"
    >>> read_classification_file("train.tsv")[0]
    ClassificationExample(label='pos', text='great phone', text_pair=None)
    """
    name = os.fspath(path)
    is_csv = name.lower().endswith(".csv")
    rows = _csv_rows(path) if is_csv else _tsv_rows(path)
    separator = "," if is_csv else "<TAB>"
    examples, num_fields, header_skipped = [], None, not header
    skipped = files.Skipped(name, strict, log)
    for line_number, fields in rows:
        fields = [field.strip() for field in fields]
        if not any(fields):
            skipped.skip(line_number, "empty line")
            continue
        if not header_skipped:
            header_skipped = True
            continue
        where = f"{name}:{line_number}"
        if len(fields) not in (2, 3):
            raise UsageError(
                f"{where}: expected label{separator}text[{separator}text_pair], got "
                f"{len(fields)} field{'s' if len(fields) != 1 else ''}"
            )
        if num_fields is None:
            num_fields = len(fields)
        elif len(fields) != num_fields:
            raise UsageError(
                f"{where}: got {len(fields)} fields but the first row has {num_fields}; "
                "either every row has a text_pair or none does"
            )
        label, text, text_pair = fields[0], fields[1], fields[2] if num_fields == 3 else None
        if not label:
            raise UsageError(f"{where}: empty label")
        if not text or text_pair == "":
            raise UsageError(f"{where}: empty text")
        examples.append(ClassificationExample(label, text, text_pair))
    skipped.report()
    return examples
