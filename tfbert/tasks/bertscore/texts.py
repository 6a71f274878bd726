"""Candidate and reference files: one text per line, paired by line number."""

import os

from tfbert.errors import UsageError


def read_lines(path):
    """The lines of a UTF-8 file, without line ends; empty lines are kept (empty texts).

    Lines end at "\\n" only ("\\r\\n" too), so other Unicode line separators stay inside a text.
    A final line end does not add an empty text.

    Raises:
        ValueError: the file is missing, or a line is not UTF-8 (naming the line).
    """
    if not os.path.isfile(path):
        raise UsageError(f"Text file not found: {path!r}.")
    with open(path, "rb") as f:
        raw = f.read().split(b"\n")
    if raw[-1] == b"":
        raw.pop()
    lines = []
    for number, line in enumerate(raw, start=1):
        try:
            lines.append(line.decode("utf-8").removesuffix("\r"))
        except UnicodeDecodeError as error:
            raise UsageError(f"{path}:{number}: not UTF-8 ({error.reason} at byte "
                             f"{error.start}).") from None
    return lines


def read_pairs(candidates_file, references_file):
    """`(candidates, references)`: lists of str read with `read_lines`, of equal length.

    Raises:
        ValueError: as `read_lines`, or the files have different numbers of lines (naming both
            files and their counts).
    """
    candidates = read_lines(candidates_file)
    references = read_lines(references_file)
    if len(candidates) != len(references):
        raise UsageError(
            f"The candidates ({candidates_file}: {len(candidates)} lines) and the references "
            f"({references_file}: {len(references)} lines) must have the same number of lines, "
            "one text per line, paired by line number.")
    return candidates, references
