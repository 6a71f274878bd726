"""In-graph BERT word-piece tokenizer on tensorflow-text's fast (TFLite-capable) kernels.

Two normalizers sit in front of tf-text's `FastBertTokenizer`:

`"exact"` — bit-exact to the reference BERT tokenization (Hugging Face `BertTokenizerFast`,
which agrees with google-research/bert `tokenization.py` except where noted below). Core TF
string ops do the normalization and the fast tokenizer runs with its own normalization off,
doing only whitespace/punctuation/CJK splitting and WordPiece:
  1. drop control and format characters (Cc except \\t\\n\\r, Cf, private use Co, U+FFFD);
  2. if `lower_case`: capital sigma to small sigma (the reference lower-cases character by
     character, so no word-final ς), NFD, drop combining marks (Mn), lower-case with ICU;
  3. after WordPiece, each word longer than `max_chars_per_word` characters (after
     normalization) becomes one [UNK], as in the reference (tf-text's limit counts bytes).
  Ops in the graph: `StaticRegexReplace`, `NormalizeUTF8`, `StringLower` (core TF / tf-text
  classic ops, no TFLite kernels: a TFLite conversion keeps them as unresolved custom ops or
  needs the Flex delegate), `FastWordpieceTokenizeWithOffsets`, `FastBertNormalize`
  (a no-op pass with normalization off). Good for training, TF Serving and SavedModels.

`"fast"` — tf-text's own `lower_case_nfd_strip_accents` normalizer. Ops in the graph:
  `FastBertNormalize`, `FastWordpieceTokenizeWithOffsets` (plus `RaggedTensorToTensor` from the
  packer), all with TFLite kernels in `tf_text.tflite_registrar.SELECT_TFTEXT_OPS`. It differs
  from the reference: lower-casing is NFKC case folding (ß→ss, ﬁ→fi, full-width ，１Ｆ→,1f,
  ς→σ, Ⅷ→viii), control characters split words instead of vanishing, and the over-long-word
  limit counts UTF-8 bytes rather than characters. Vocabularies learned by `learn_vocab` use
  it, so training and the device see the same ids.

Where the two references disagree, "exact" follows Hugging Face: private-use characters are
dropped (the original keeps them as [UNK]) and capital sigma always becomes σ. Characters newer
than a reference's Unicode tables (TF's ICU is newer than Python's and the Rust crates') may
be classified differently.

Both paths reject rank-0 input: the fast kernels crash the process (SIGSEGV) on a scalar.
"""

import tensorflow as tf
import tensorflow_text as tf_text

from tfbert.tokenization import vocab as vocab_lib

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


class BertTokenizer(tf.Module):
    """BERT word-piece tokenizer that runs inside TF graphs (tf.data, Keras, SavedModel).

    Args:
        vocab_file: str, path of `vocab.txt`. A `vocab_info.json` beside it supplies the
            defaults for `lower_case`, `normalizer` and `max_chars_per_word`.
        lower_case: bool, lower-case and strip accents (uncased BERT). Defaults to the
            vocabulary record, else `True`.
        max_chars_per_word: int, longer words become one [UNK]. Defaults to the record, else
            100 (`BertTokenizerFast`; the original BERT uses 200).
        normalizer: `"exact"` (bit-exact to the reference) or `"fast"` (TFLite kernels only).
            Defaults to the record, else `"exact"` (imported vocabularies).

    Call `tokenize(text)` with tf.string [batch]; it returns int32 ragged [batch, (pieces)]
    without special tokens.

    Example:
    >>> tokenizer = BertTokenizer("vocab.txt")
    >>> tokenizer.tokenize(tf.constant(["Hello, world!"]))  # [[7592, 1010, 2088, 999]]
    """

    def __init__(self, vocab_file, lower_case=None, max_chars_per_word=None, normalizer=None,
                 name=None):
        super().__init__(name=name)
        info = vocab_lib.read_vocab_info(vocab_file)
        self.vocab_file = vocab_file
        self.lower_case = bool(info.get("lower_case", True) if lower_case is None
                               else lower_case)
        self.normalizer = normalizer or info.get("normalizer", "exact")
        self.max_chars_per_word = int(max_chars_per_word or info.get("max_chars_per_word", 100))
        if self.normalizer not in vocab_lib.NORMALIZERS:
            raise ValueError(f"`normalizer` ({self.normalizer!r}) must be one of "
                             f"{vocab_lib.NORMALIZERS}.")
        if self.max_chars_per_word < 1:
            raise ValueError(f"`max_chars_per_word` ({self.max_chars_per_word}) must be >= 1.")
        self.vocab = vocab_lib.load_vocab(vocab_file)
        self._ids = {t: i for i, t in enumerate(self.vocab)}
        if self.normalizer == "fast":
            self._tokenizer = tf_text.FastBertTokenizer(
                vocab=self.vocab, token_out_type=tf.int32,
                lower_case_nfd_strip_accents=self.lower_case,
                max_bytes_per_word=self.max_chars_per_word)
        else:
            # Words are at most 4 bytes per character here; longer ones were replaced.
            self._tokenizer = tf_text.FastBertTokenizer(
                vocab=self.vocab, token_out_type=tf.int32, lower_case_nfd_strip_accents=False,
                max_bytes_per_word=4 * self.max_chars_per_word)
            self._is_suffix = tf.constant([t.startswith("##") for t in self.vocab])

    @property
    def vocab_size(self):
        return len(self.vocab)

    @property
    def pad_id(self):
        return self._ids["[PAD]"]

    @property
    def unk_id(self):
        return self._ids["[UNK]"]

    @property
    def cls_id(self):
        return self._ids["[CLS]"]

    @property
    def sep_id(self):
        return self._ids["[SEP]"]

    @property
    def mask_id(self):
        """Id of [MASK]; `ValueError` if the vocabulary has none (it is only for pretraining)."""
        if "[MASK]" not in self._ids:
            raise ValueError(f"{self.vocab_file}: the vocabulary has no [MASK] token.")
        return self._ids["[MASK]"]

    def token_to_id(self, token):
        return self._ids.get(token, self.unk_id)

    def id_to_token(self, token_id):
        return self.vocab[int(token_id)]

    def _check(self, text):
        text = tf.convert_to_tensor(text, dtype=tf.string)
        if text.shape.rank is not None and text.shape.rank != 1:
            raise ValueError(f"`text` must be a tf.string vector [batch], got shape {text.shape}.")
        # The fast kernels SIGSEGV on a rank-0 tensor fed to a [None] signature.
        return tf.ensure_shape(text, [None])

    def normalize(self, text):
        """Normalized text, tf.string [batch] (the "fast" path normalizes in the tokenizer)."""
        return normalize_text(self._check(text), self.lower_case, self.normalizer)

    def tokenize(self, text):
        """Word-piece ids, int32 ragged [batch, (pieces)], for tf.string text [batch]."""
        text = self._check(text)
        if self.normalizer == "fast":
            return self._tokenizer.tokenize(text)
        normalized = normalize_text(text, self.lower_case, "exact")
        rows, ids, _, _, keep = self._tokenize_normalized(normalized)
        return tf.RaggedTensor.from_value_rowids(tf.boolean_mask(ids, keep),
                                                 tf.boolean_mask(rows, keep),
                                                 nrows=tf.shape(text, out_type=tf.int64)[0])

    def tokenize_with_offsets(self, text):
        """Ids and UTF-8 byte spans of each piece in the original (unnormalized) text.

        Returns:
            `(ids, starts, ends)`, each int32 ragged [batch, (pieces)]; `text[start:end]` is the
            source of the piece (a whole word for an [UNK]). `packing.char_offsets` turns them
            into character offsets.
        """
        text = self._check(text)
        if self.normalizer == "fast":
            ids, starts, ends = self._tokenizer.tokenize_with_offsets(text)
            return ids, tf.cast(starts, tf.int32), tf.cast(ends, tf.int32)
        return self._exact_with_offsets(text)

    def tokenize_with_dense_offsets(self, text, max_pieces):
        """`tokenize_with_offsets` for devices: offsets come out dense, from TFLite kernels only.

        tf-text maps normalized offsets back to the input with a ragged gather
        (RaggedGather/RaggedRange, no TFLite kernels); here the mapping is a dense
        `gather(batch_dims=1)`. Only the "fast" normalizer has TFLite kernels.

        Returns:
            `(ids, starts, ends)`: ids int32 ragged [batch, (pieces)]; starts/ends int32
            [batch, max_pieces], UTF-8 byte offsets into `text` of the first `max_pieces`
            pieces (values past a row's pieces are meaningless: mask with `ids.row_lengths()`).
        """
        if self.normalizer != "fast":
            raise ValueError(f"{self.vocab_file}: dense offsets need the 'fast' normalizer "
                             f"(this tokenizer uses {self.normalizer!r}).")
        text = self._check(text)
        if not hasattr(self, "_device_parts"):
            self._device_parts = (
                tf_text.FastBertNormalizer(lower_case_nfd_strip_accents=self.lower_case),
                tf_text.FastWordpieceTokenizer(
                    vocab=self.vocab, token_out_type=tf.int32, no_pretokenization=False,
                    max_bytes_per_word=self.max_chars_per_word))
        normalizer, wordpiece = self._device_parts
        normalized, offsets = normalizer.normalize_with_offsets(text)
        ids, starts, ends = wordpiece.tokenize_with_offsets(normalized)
        offsets = tf.cast(offsets.to_tensor(0), tf.int32)  # [batch, normalized bytes + 1]
        shape = [None, max_pieces]
        starts = tf.gather(offsets, tf.cast(starts.to_tensor(0, shape=shape), tf.int32),
                           batch_dims=1)
        ends = tf.gather(offsets, tf.cast(ends.to_tensor(0, shape=shape), tf.int32),
                         batch_dims=1)
        return ids, starts, ends

    def _tokenize_normalized(self, normalized):
        """Tokenizes exact-normalized text; words longer than `max_chars_per_word` characters
        become one [UNK] spanning the word (tf-text counts bytes, the reference characters).

        Returns flat `rows`, `ids`, `starts`, `ends` (bytes into `normalized`) and `keep`, the
        mask of pieces that survive.
        """
        ids, starts, ends = self._tokenizer.tokenize_with_offsets(normalized)
        rows = ids.value_rowids()
        ids = ids.flat_values
        starts = tf.cast(starts.flat_values, tf.int32)
        ends = tf.cast(ends.flat_values, tf.int32)
        is_suffix = tf.gather(self._is_suffix, ids)
        is_first = 1 - tf.cast(is_suffix, tf.int32)
        word = tf.cumsum(is_first) - 1  # word index of each piece
        num_words = tf.reduce_sum(is_first)
        word_start = tf.math.unsorted_segment_min(starts, word, num_words)
        word_end = tf.math.unsorted_segment_max(ends, word, num_words)
        word_row = tf.math.unsorted_segment_min(rows, word, num_words)
        word_text = tf.strings.substr(tf.gather(normalized, word_row), word_start,
                                      word_end - word_start)
        long_word = tf.gather(tf.strings.length(word_text, unit="UTF8_CHAR")
                              > self.max_chars_per_word, word)
        ids = tf.where(long_word, self.unk_id, ids)
        ends = tf.where(long_word, tf.gather(word_end, word), ends)
        keep = tf.logical_not(long_word & is_suffix)
        return rows, ids, starts, ends, keep

    def _exact_with_offsets(self, text):
        # Normalize character by character so every normalized byte maps back to its source
        # character; then tokenize the joined result and map piece spans back.
        chars, char_starts = tf.strings.unicode_split_with_offsets(text, "UTF-8")
        char_starts = tf.cast(char_starts.flat_values, tf.int32)
        char_ends = char_starts + tf.strings.length(chars.flat_values)
        normalized = normalize_text(chars.flat_values, self.lower_case, "exact")
        joined = tf.strings.reduce_join(chars.with_flat_values(normalized), axis=1)
        norm_ends = tf.cumsum(tf.strings.length(normalized))  # global, non-decreasing
        row_base = tf.gather(tf.concat([[0], norm_ends], 0), chars.row_splits[:-1])  # [batch]

        rows, ids, starts, ends, keep = self._tokenize_normalized(joined)
        base = tf.gather(row_base, rows)
        first_char = tf.searchsorted(norm_ends, starts + base, side="right")
        last_char = tf.searchsorted(norm_ends, ends + base, side="left")
        orig_starts = tf.gather(char_starts, first_char)
        orig_ends = tf.gather(char_ends, last_char)
        nrows = tf.shape(text, out_type=tf.int64)[0]
        kept_rows = tf.boolean_mask(rows, keep)

        def ragged(values):
            return tf.RaggedTensor.from_value_rowids(tf.boolean_mask(values, keep), kept_rows,
                                                     nrows=nrows)

        return ragged(ids), ragged(orig_starts), ragged(orig_ends)
