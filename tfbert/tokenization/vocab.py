"""Vocabulary files: reading with validation, and the normalizer record beside them.

A vocabulary is a `vocab.txt` (one token per line, the line number is the id) plus an
optional `vocab_info.json` beside it that records how text must be normalized before the
word-piece lookup: `{"lower_case": true, "normalizer": "fast", "max_chars_per_word": 100}`.
Vocabularies imported from the original BERT or Hugging Face have no record and are read with
the bit-exact normalizer; vocabularies learned by `learn_vocab` record `"fast"` (TFLite-ready).
"""

import json
import os

import tensorflow as tf

from tfbert.errors import UsageError
from tfbert.tokenization.case import detect_lower_case

REQUIRED_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]")
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
NORMALIZERS = ("exact", "fast")
INFO_FILE = "vocab_info.json"


def load_vocab(vocab_file):
    """Reads `vocab_file` into a list of tokens; raises `ValueError` naming the file and line."""
    if not tf.io.gfile.exists(vocab_file):
        raise UsageError(f"`vocab_file` ({vocab_file!r}) does not exist.")
    with tf.io.gfile.GFile(vocab_file, "rb") as f:
        lines = f.read().decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    tokens, seen = [], {}
    for number, line in enumerate(lines, start=1):
        token = line.rstrip("\r")
        if token == "" or token != token.strip():
            raise UsageError(f"{vocab_file}:{number}: empty token or token with surrounding "
                             f"whitespace ({token!r}).")
        if token in seen:
            raise UsageError(f"{vocab_file}:{number}: duplicate token {token!r} (first on line "
                             f"{seen[token]}).")
        seen[token] = number
        tokens.append(token)
    missing = [t for t in REQUIRED_TOKENS if t not in seen]
    if missing:
        raise UsageError(f"{vocab_file}: missing required special token(s) {missing}; a BERT "
                         f"vocabulary needs {list(REQUIRED_TOKENS)}.")
    return tokens


def info_path(vocab_file):
    return os.path.join(os.path.dirname(vocab_file), INFO_FILE)


def read_vocab_info(vocab_file):
    """Returns the normalizer record beside `vocab_file`, or `{}` for an imported vocabulary."""
    path = info_path(vocab_file)
    if not tf.io.gfile.exists(path):
        return {}
    with tf.io.gfile.GFile(path) as f:
        info = json.load(f)
    if info.get("normalizer", "exact") not in NORMALIZERS:
        raise UsageError(f"{path}: `normalizer` ({info.get('normalizer')!r}) must be one of "
                         f"{NORMALIZERS}.")
    return info


def copy_vocab(vocab_file, directory, lower_case=None, normalizer=None):
    """Copies `vocab_file` into `directory` as `vocab.txt` with its normalizer record.

    The record travels with the vocabulary, so every later stage tokenizes exactly as the
    first did; `lower_case` / `normalizer` override it. Without a record, `lower_case` is what
    the vocabulary's folder or content says (`tfbert.tokenization.case`). Returns the new
    `vocab.txt` path.
    """
    tf.io.gfile.makedirs(directory)
    target = os.path.join(directory, "vocab.txt")
    if os.path.abspath(vocab_file) != os.path.abspath(target):
        tf.io.gfile.copy(vocab_file, target, overwrite=True)
    info = read_vocab_info(vocab_file)
    write_vocab_info(
        target, lower_case=detect_lower_case(vocab_file) if lower_case is None else lower_case,
        normalizer=normalizer or info.get("normalizer", "exact"),
        max_chars_per_word=info.get("max_chars_per_word", 100))
    return target


def write_vocab_info(vocab_file, lower_case, normalizer, max_chars_per_word=100):
    if normalizer not in NORMALIZERS:
        raise UsageError(f"`normalizer` ({normalizer!r}) must be one of {NORMALIZERS}.")
    info = {"lower_case": bool(lower_case), "normalizer": normalizer,
            "max_chars_per_word": int(max_chars_per_word)}
    path = info_path(vocab_file)
    if path.startswith("ram://") and tf.io.gfile.exists(path):  # ram:// appends on "w"
        tf.io.gfile.remove(path)
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(json.dumps(info, indent=2) + "\n")
    return info
