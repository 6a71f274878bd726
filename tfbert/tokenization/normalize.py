"""Text normalization before word-piece splitting: "exact" (reference BERT) or "fast" (tf-text).

See `tfbert/tokenization/tokenizer.py` for what each normalizer does and which ops it puts in
the graph.
"""

import tensorflow as tf
import tensorflow_text as tf_text

_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\p{Cf}\p{Co}\x{fffd}]"


def normalize_text(text, lower_case=True, normalizer="exact"):
    """Normalizes tf.string text as the tokenizer does before splitting (any shape)."""
    if normalizer == "fast":
        return tf_text.FastBertNormalizer(lower_case_nfd_strip_accents=lower_case).normalize(text)
    text = tf.strings.regex_replace(text, _CONTROL, "")
    if lower_case:
        text = tf.strings.regex_replace(text, "\u03a3", "\u03c3")
        text = tf_text.normalize_utf8(text, "NFD")
        text = tf.strings.regex_replace(text, r"\p{Mn}", "")
        # ICU full lower-casing, as Python's str.lower and Rust's char::to_lowercase do
        # (the default "" encoding would touch ASCII only).
        text = tf.strings.lower(text, encoding="utf-8")
    return text
