"""Vocabulary files: reading with validation, the normalizer record, and WordPiece learning.

A vocabulary is a `vocab.txt` (one token per line, the line number is the id) plus an
optional `vocab_info.json` beside it that records how text must be normalized before the
word-piece lookup: `{"lower_case": true, "normalizer": "fast", "max_chars_per_word": 100}`.
Vocabularies imported from the original BERT or Hugging Face have no record and are read with
the bit-exact normalizer; vocabularies learned by `learn_vocab` record `"fast"` (TFLite-ready).
"""

import collections
import json
import os
import time

import tensorflow as tf

REQUIRED_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]")
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
NORMALIZERS = ("exact", "fast")
INFO_FILE = "vocab_info.json"


def _is_cjk(char):
    """The CJK ideograph ranges of google-research/bert `_is_chinese_char`."""
    cp = ord(char)
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def load_vocab(vocab_file):
    """Reads `vocab_file` into a list of tokens; raises `ValueError` naming the file and line."""
    if not tf.io.gfile.exists(vocab_file):
        raise ValueError(f"`vocab_file` ({vocab_file!r}) does not exist.")
    with tf.io.gfile.GFile(vocab_file, "rb") as f:
        lines = f.read().decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    tokens, seen = [], {}
    for number, line in enumerate(lines, start=1):
        token = line.rstrip("\r")
        if token == "" or token != token.strip():
            raise ValueError(f"{vocab_file}:{number}: empty token or token with surrounding "
                             f"whitespace ({token!r}).")
        if token in seen:
            raise ValueError(f"{vocab_file}:{number}: duplicate token {token!r} (first on line "
                             f"{seen[token]}).")
        seen[token] = number
        tokens.append(token)
    missing = [t for t in REQUIRED_TOKENS if t not in seen]
    if missing:
        raise ValueError(f"{vocab_file}: missing required special token(s) {missing}; a BERT "
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
        raise ValueError(f"{path}: `normalizer` ({info.get('normalizer')!r}) must be one of "
                         f"{NORMALIZERS}.")
    return info


def write_vocab_info(vocab_file, lower_case, normalizer, max_chars_per_word=100):
    if normalizer not in NORMALIZERS:
        raise ValueError(f"`normalizer` ({normalizer!r}) must be one of {NORMALIZERS}.")
    info = {"lower_case": bool(lower_case), "normalizer": normalizer,
            "max_chars_per_word": int(max_chars_per_word)}
    with tf.io.gfile.GFile(info_path(vocab_file), "w") as f:
        f.write(json.dumps(info, indent=2) + "\n")
    return info


def learn_vocab(texts, vocab_size, output_dir, lower_case=True, normalizer="fast",
                log=print):
    """Learns a WordPiece vocabulary and writes `vocab.txt` and `vocab_info.json`.

    Text is normalized exactly as `BertTokenizer` will normalize it, then split on whitespace,
    punctuation and CJK characters (each CJK character is its own word, so Chinese is never
    merged into multi-character pieces) and passed to keras-hub's
    `compute_word_piece_vocabulary`. Special tokens come first: [PAD]=0, [UNK]=1, [CLS]=2,
    [SEP]=3, [MASK]=4.

    Args:
        texts: list of str, the training text (one sentence or document per item).
        vocab_size: int, the size of the vocabulary including special tokens.
        output_dir: str, directory that receives `vocab.txt` and `vocab_info.json`.
        lower_case: bool, lower-case and strip accents. Defaults to `True`.
        normalizer: `"fast"` (default, TFLite-ready) or `"exact"`.
        log: callable for progress lines.

    Returns:
        The path of the written `vocab.txt`.
    """
    from keras_hub.tokenizers import compute_word_piece_vocabulary

    from tfbert.tokenization.tokenizer import normalize_text

    if vocab_size < len(SPECIAL_TOKENS) + 1:
        raise ValueError(f"`vocab_size` ({vocab_size}) must be larger than the "
                         f"{len(SPECIAL_TOKENS)} special tokens.")
    if normalizer not in NORMALIZERS:
        raise ValueError(f"`normalizer` ({normalizer!r}) must be one of {NORMALIZERS}.")
    start = time.time()
    texts = [t for t in texts if t.strip()]
    if not texts:
        raise ValueError("`texts` contains no non-empty text to learn a vocabulary from.")
    data = tf.data.Dataset.from_tensor_slices(tf.constant(texts)).batch(1024).map(
        lambda t: normalize_text(t, lower_case=lower_case, normalizer=normalizer))
    vocab = compute_word_piece_vocabulary(
        data, vocab_size, lowercase=False, strip_accents=False, split=True,
        split_on_cjk=True, reserved_tokens=list(SPECIAL_TOKENS))
    # The learner keeps only its 1000 most frequent characters and adds a "##" twin of each;
    # CJK characters are always words of their own, so their twins are dead weight and every
    # CJK character of the corpus should be a token: swap the twins for the missing characters.
    vocab = [t for t in vocab if t and t.strip() == t
             and not (t.startswith("##") and len(t) == 3 and _is_cjk(t[2]))]
    known = set(vocab)
    counts = collections.Counter(ch for text in texts for ch in text if _is_cjk(ch))
    vocab += [ch for ch, _ in counts.most_common() if ch not in known][:vocab_size - len(vocab)]
    log(f"learned {len(vocab)} tokens from {len(texts)} texts in {time.time() - start:.1f}s")
    tf.io.gfile.makedirs(output_dir)
    vocab_file = os.path.join(output_dir, "vocab.txt")
    with tf.io.gfile.GFile(vocab_file, "w") as f:
        f.write("".join(t + "\n" for t in vocab))
    write_vocab_info(vocab_file, lower_case, normalizer)
    load_vocab(vocab_file)  # The file we hand out must pass our own checks.
    return vocab_file
