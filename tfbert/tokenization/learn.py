"""Learning a WordPiece vocabulary with keras-hub's learner, CJK characters kept whole."""

import collections
import os
import time

import tensorflow as tf
from keras_hub.tokenizers import compute_word_piece_vocabulary

from tfbert.tokenization import vocab as vocab_lib
from tfbert.tokenization.normalize import normalize_text


def _is_cjk(char):
    """The CJK ideograph ranges of google-research/bert `_is_chinese_char`."""
    cp = ord(char)
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


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
    if vocab_size < len(vocab_lib.SPECIAL_TOKENS) + 1:
        raise ValueError(f"`vocab_size` ({vocab_size}) must be larger than the "
                         f"{len(vocab_lib.SPECIAL_TOKENS)} special tokens.")
    if normalizer not in vocab_lib.NORMALIZERS:
        raise ValueError(f"`normalizer` ({normalizer!r}) must be one of {vocab_lib.NORMALIZERS}.")
    start = time.time()
    texts = [t for t in texts if t.strip()]
    if not texts:
        raise ValueError("`texts` contains no non-empty text to learn a vocabulary from.")
    data = tf.data.Dataset.from_tensor_slices(tf.constant(texts)).batch(1024).map(
        lambda t: normalize_text(t, lower_case=lower_case, normalizer=normalizer))
    vocab = compute_word_piece_vocabulary(
        data, vocab_size, lowercase=False, strip_accents=False, split=True,
        split_on_cjk=True, reserved_tokens=list(vocab_lib.SPECIAL_TOKENS))
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
    vocab_lib.write_vocab_info(vocab_file, lower_case, normalizer)
    vocab_lib.load_vocab(vocab_file)  # The file we hand out must pass our own checks.
    return vocab_file
