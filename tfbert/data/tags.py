"""Entity tags: `O` or `PREFIX-TYPE`, PREFIX one of B, I (and E, S in IOBES data)."""

import re

_TAG = re.compile(r"O|([BIES])-(\S+)")


def split_tag(tag):
    """`(prefix, type)` of a tag — `("O", "")` for outside — or None when malformed.

    Example:
    >>> split_tag("B-PER"), split_tag("O"), split_tag("PER")
    (('B', 'PER'), ('O', ''), None)
    """
    match = _TAG.fullmatch(tag) if isinstance(tag, str) else None
    if match is None:
        return None
    return ("O", "") if tag == "O" else (match.group(1), match.group(2))
