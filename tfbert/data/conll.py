"""CoNLL-style NER files: one `token ... tag` per line, a blank line between sentences."""

import os

from tfbert.data import files
from tfbert.data.tags import split_tag
from tfbert.errors import UsageError


def read_conll(path):
    """Reads a CoNLL-style NER file into `(tokens, tags)` pairs, one per sentence.

    Each non-blank line holds whitespace-separated columns: the token is the first column
    and its tag the last (so CoNLL-2003's `EU NNP B-NP B-ORG` and a plain `EU B-ORG` both
    work). Tags are BIO: `O`, `B-TYPE` or `I-TYPE`. Blank lines end sentences; `-DOCSTART-`
    lines end a sentence and are otherwise skipped.

    Args:
        path: str or os.PathLike, the file (UTF-8).

    Returns:
        A list of `(tokens, tags)`, two lists of str of equal length.

    Raises:
        ValueError: naming the file and line, on a line with fewer than 2 columns, a tag
            that is not BIO, or bytes that are not UTF-8.
    """
    name = os.fspath(path)
    sentences, tokens, tags = [], [], []
    for line_number, line in files.read_lines(path):
        columns = line.split()
        if not columns or columns[0] == "-DOCSTART-":
            if tokens:
                sentences.append((tokens, tags))
                tokens, tags = [], []
            continue
        if len(columns) < 2:
            raise UsageError(
                f"{name}:{line_number}: expected `token tag` (whitespace-separated), got "
                f"{line.strip()!r}"
            )
        if (split_tag(columns[-1]) or (None,))[0] not in ("O", "B", "I"):
            raise UsageError(
                f"{name}:{line_number}: tag {columns[-1]!r} is not BIO: expected `O`, "
                "`B-TYPE` or `I-TYPE`"
            )
        tokens.append(columns[0])
        tags.append(columns[-1])
    if tokens:
        sentences.append((tokens, tags))
    return sentences
