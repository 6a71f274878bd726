"""Whether a vocabulary is cased: read from its checkpoint, checked against its content.

Uncased BERT lower-cases and strips accents before the word-piece lookup; cased BERT keeps the
text as it is. Running one with the other's setting does not fail: it silently turns words into
other pieces (or [UNK]). The evidence, strongest first:

1. `vocab_info.json` beside `vocab.txt` (the project's own record, `"lower_case"`);
2. a Hugging Face `tokenizer_config.json` (`"do_lower_case"`) in the checkpoint directory or
   beside the vocabulary;
3. the original BERT's folder names (`uncased_L-12_H-768_A-12`, `cased_L-12_H-768_A-12`,
   `multi_cased_...`, `wwm_uncased_...`; `multilingual_...` and `chinese_...` are uncased);
4. the vocabulary itself: an uncased vocabulary has no capital letters (lower-cased text cannot
   produce them), a cased one has many.

`resolve_lower_case` picks the setting (a given `do_lower_case` wins) and logs one warning
line when the evidence disagrees with it, as the original BERT's
`validate_case_matches_checkpoint` does for the published checkpoints.
"""

import json
import os
import re

import tensorflow as tf
from absl import logging

TOKENIZER_CONFIG = "tokenizer_config.json"
INFO_FILE = "vocab_info.json"
_ORIGINAL_NAME = re.compile(r"(?:^|_)(uncased|cased)_L-\d+_H-\d+_A-\d+$")
# Published uncased checkpoints whose names do not say so (`validate_case_matches_checkpoint`).
_ORIGINAL_UNCASED = re.compile(r"^(multilingual|chinese)_L-\d+_H-\d+_A-\d+$")
# Capitalised share of the pieces with cased letters: at most this -> uncased, at least
# `_CASED_SHARE` (and two pieces) -> cased; in between no verdict. bert-base-uncased has none.
_UNCASED_SHARE = 0.001
_CASED_SHARE = 0.01


def _read_json(path):
    if not tf.io.gfile.exists(path):
        return {}
    with tf.io.gfile.GFile(path) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError:
            return {}


def content_case(tokens):
    """What a vocabulary's tokens say: `(lower_case or None, evidence)`.

    Special tokens (`[CLS]`, `[unused0]`) are skipped and `##` prefixes removed.
    """
    pieces = [t[2:] if t.startswith("##") else t for t in tokens
              if not (t.startswith("[") and t.endswith("]"))]
    cased = [p for p in pieces if any(c.lower() != c.upper() for c in p)]
    capitals = sum(any(c.isupper() for c in p) for p in cased)
    if not cased:
        return None, "the vocabulary has no cased letters"
    share = capitals / len(cased)
    evidence = (f"the vocabulary has {capitals} capitalised piece(s) of {len(cased)} with "
                f"letters ({share:.1%})")
    if share <= _UNCASED_SHARE:
        return True, evidence
    if share >= _CASED_SHARE and capitals >= 2:
        return False, evidence
    return None, evidence


def directory_case(directory):
    """What a checkpoint directory's files and name say: `(lower_case or None, evidence)`."""
    if not directory:
        return None, ""
    config_path = os.path.join(directory, TOKENIZER_CONFIG)
    value = _read_json(config_path).get("do_lower_case")
    if isinstance(value, bool):
        return value, f"{config_path} has do_lower_case={str(value).lower()}"
    name = os.path.basename(os.path.normpath(directory))
    match = _ORIGINAL_NAME.search(name)
    if match:
        return match.group(1) == "uncased", f"the original BERT's folder name {name}"
    if _ORIGINAL_UNCASED.match(name):
        return True, f"the original BERT's folder name {name} (an uncased model)"
    return None, ""


def case_evidence(vocab_file, checkpoint=None, tokens=None):
    """Every verdict on `vocab_file` (and the `checkpoint` directory it came with), strongest
    first: a list of `(lower_case, evidence)`."""
    vocab_dir = os.path.dirname(vocab_file)
    found = []
    record = _read_json(os.path.join(vocab_dir, INFO_FILE)).get("lower_case")
    if isinstance(record, bool):
        found.append((record, f"{os.path.join(vocab_dir, INFO_FILE)} has "
                              f"lower_case={str(record).lower()}"))
    directories = [checkpoint] if checkpoint else []
    if not checkpoint or os.path.normpath(checkpoint) != os.path.normpath(vocab_dir):
        directories.append(vocab_dir)
    for directory in directories:
        value, evidence = directory_case(directory)
        if value is not None:
            found.append((value, evidence))
    if tokens is None:
        with tf.io.gfile.GFile(vocab_file, "rb") as f:
            tokens = f.read().decode("utf-8").split()
    value, evidence = content_case(tokens)
    if value is not None:
        found.append((value, evidence))
    return found


def detect_lower_case(vocab_file, checkpoint=None, tokens=None, default=True):
    """The strongest verdict of `case_evidence`, else `default`."""
    found = case_evidence(vocab_file, checkpoint, tokens)
    return found[0][0] if found else default


def resolve_lower_case(vocab_file, checkpoint=None, do_lower_case=None):
    """The case setting of a run; warns (one line) when the evidence disagrees with it.

    Args:
        vocab_file: str, the run's `vocab.txt`.
        checkpoint: optional str, the checkpoint directory the run starts from.
        do_lower_case: optional bool, the user's setting (`--do_lower_case`); it wins.

    Returns:
        bool, whether the run lower-cases (and strips accents).
    """
    found = case_evidence(vocab_file, checkpoint)
    if do_lower_case is not None:
        chosen, because = bool(do_lower_case), f"--do_lower_case={bool(do_lower_case)}"
    elif found:
        chosen, because = found[0]
    else:
        chosen, because = True, "no evidence either way, the default"
    against = [evidence for value, evidence in found if value != chosen]
    if against:
        logging.warning(
            "Case mismatch for %s: tokenizing with lower_case=%s (%s), but %s. The encoder "
            "would see other word pieces than it was trained with: set --do_lower_case to "
            "what the checkpoint needs.", checkpoint or vocab_file, chosen, because,
            "; and ".join(against))
    return chosen
