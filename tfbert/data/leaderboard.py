"""What the GLUE and CLUE readers share: one example type, one file result, and the line
that accounts for every row a reader leaves out."""

import typing


class TaskExample(typing.NamedTuple):
    """One row of a benchmark file.

    `id` is what a submission names the row by: the test file's `index`/`id` value (kept as
    the file has it: str in GLUE's TSV, usually int in CLUE's JSON), else the row's line
    number. `label` is a str (a class name, or STS-B's score as written), None in test
    files; `text_pair` is None for single-text tasks.
    """

    id: str | int
    text: str
    text_pair: str | None
    label: str | None


class TaskFile(typing.NamedTuple):
    """A read file: its examples, and the line numbers of the rows it left out (reported)."""

    path: str
    examples: list
    skipped: tuple


def report_skipped(path, lines, rows, log, shown=10):
    """Logs "skipped N {rows} of PATH (lines a, b, ...)" when `lines` is not empty.

    `rows` is `(singular, plural)`, e.g. `("malformed row", "malformed rows")`.
    """
    if not lines:
        return
    listed = ", ".join(str(n) for n in lines[:shown]) + (", ..." if len(lines) > shown else "")
    many = len(lines) > 1
    log(f"skipped {len(lines)} {rows[many]} of {path} (line{'s' if many else ''} {listed})")
