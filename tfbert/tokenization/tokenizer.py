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
     A word's length is the sum of its pieces' lengths, so no offsets are needed; and the
     pass runs only for batches where a regex finds a run of that many characters that are
     not certain word boundaries (ASCII symbols, CJK ideographs and punctuation).
  Ops in the graph: `StaticRegexReplace`, `NormalizeUTF8`, `StringLower`, `RegexFullMatch`
  (core TF / tf-text classic ops, no TFLite kernels: a TFLite conversion keeps them as
  unresolved custom ops or needs the Flex delegate), `FastWordpieceTokenize[WithOffsets]`.
  Good for training, TF Serving and SavedModels.

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
from tfbert.tokenization.case import detect_lower_case
from tfbert.tokenization.normalize import normalize_text

# Characters that always end a word in exact-normalized text: ASCII whitespace and symbols,
# CJK ideographs (each is a word), common CJK and full-width punctuation. Anything else may
# belong to a word, so a run of more than `max_chars_per_word` of them flags a batch whose
# words need counting. Small on purpose: RE2 expands the counted repetition of this class.
WORD_BOUNDARY_CHARS = (
    r"\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f\x{2010}-\x{2027}\x{3000}-\x{3003}"
    r"\x{3008}-\x{3011}\x{3014}-\x{301f}\x{3400}-\x{4dbf}\x{4e00}-\x{9fff}\x{f900}-\x{faff}"
    r"\x{ff01}-\x{ff03}\x{ff05}-\x{ff0a}\x{ff0c}-\x{ff0f}\x{ff1a}\x{ff1b}\x{ff1f}\x{ff20}")
# Beyond this the counted regex gets large; every batch is then counted.
_MAX_REGEX_RUN = 200


class BertTokenizer(tf.Module):
    """BERT word-piece tokenizer that runs inside TF graphs (tf.data, Keras, SavedModel).

    Args:
        vocab_file: str, path of `vocab.txt`. A `vocab_info.json` beside it supplies the
            defaults for `lower_case`, `normalizer` and `max_chars_per_word`.
        lower_case: bool, lower-case and strip accents (uncased BERT). Defaults to the
            vocabulary record, else what its folder says (a Hugging Face
            `tokenizer_config.json`, the original BERT's `cased_`/`uncased_` names) or its
            content (capitalised pieces: cased), else `True`; see `tfbert.tokenization.case`.
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
        self.normalizer = normalizer or info.get("normalizer", "exact")
        self.max_chars_per_word = int(max_chars_per_word or info.get("max_chars_per_word", 100))
        if self.normalizer not in vocab_lib.NORMALIZERS:
            raise ValueError(f"`normalizer` ({self.normalizer!r}) must be one of "
                             f"{vocab_lib.NORMALIZERS}.")
        if self.max_chars_per_word < 1:
            raise ValueError(f"`max_chars_per_word` ({self.max_chars_per_word}) must be >= 1.")
        self.vocab = vocab_lib.load_vocab(vocab_file)
        self.lower_case = bool(detect_lower_case(vocab_file, tokens=self.vocab)
                               if lower_case is None else lower_case)
        self._ids = {t: i for i, t in enumerate(self.vocab)}
        if self.normalizer == "fast":
            self._tokenizer = tf_text.FastBertTokenizer(
                vocab=self.vocab, token_out_type=tf.int32,
                lower_case_nfd_strip_accents=self.lower_case,
                max_bytes_per_word=self.max_chars_per_word)
        else:
            # Text arrives normalized, so WordPiece runs without tf-text's normalizer. Words
            # are at most 4 bytes per character; `_unk_long_words` handles the rest.
            self._tokenizer = tf_text.FastWordpieceTokenizer(
                vocab=self.vocab, token_out_type=tf.int32, no_pretokenization=False,
                max_bytes_per_word=4 * self.max_chars_per_word)
            self._is_suffix = tf.constant([t.startswith("##") for t in self.vocab])
            # Characters of the word text each piece covers ([UNK] is a whole word already).
            self._piece_chars = tf.constant(
                [0 if i == self.unk_id else len(t[2:]) if t.startswith("##") else len(t)
                 for i, t in enumerate(self.vocab)], tf.int32)

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

    def id_to_token(self, token_id):
        return self.vocab[int(token_id)]

    def _check(self, text):
        text = tf.convert_to_tensor(text, dtype=tf.string)
        if text.shape.rank is not None and text.shape.rank != 1:
            raise ValueError(f"`text` must be a tf.string vector [batch], got shape {text.shape}.")
        # The fast kernels SIGSEGV on a rank-0 tensor fed to a [None] signature.
        return tf.ensure_shape(text, [None])

    def tokenize(self, text):
        """Word-piece ids, int32 ragged [batch, (pieces)], for tf.string text [batch]."""
        text = self._check(text)
        if self.normalizer == "fast":
            return self._tokenizer.tokenize(text)
        normalized = normalize_text(text, self.lower_case, "exact")
        return self._unk_long_words(self._tokenizer.tokenize(normalized), normalized)[0]

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

    def _may_have_long_words(self, normalized):
        """Scalar bool: could a word of `normalized` [batch] exceed `max_chars_per_word`?"""
        if self.max_chars_per_word > _MAX_REGEX_RUN:
            return tf.constant(True)
        candidates = tf.boolean_mask(normalized, tf.strings.length(normalized)
                                     > self.max_chars_per_word)
        pattern = f"(?s).*[^{WORD_BOUNDARY_CHARS}]{{{self.max_chars_per_word + 1},}}.*"
        return tf.reduce_any(tf.strings.regex_full_match(candidates, pattern))

    def _unk_long_words(self, ids, normalized, starts=None, ends=None):
        """Makes each word longer than `max_chars_per_word` characters one [UNK] spanning it
        (tf-text's limit counts bytes, the reference characters).

        Args:
            ids: int32 ragged [batch, (pieces)] from WordPiece on `normalized`, the
                exact-normalized text [batch].
            starts, ends: optional int32 ragged byte offsets of the pieces, merged like the ids.

        Returns:
            `(ids, starts, ends)` ragged (offsets `None` if not given).
        """
        splits = ids.row_splits
        given = (ids.flat_values,) if starts is None else (
            ids.flat_values, starts.flat_values, ends.flat_values)

        def merge_long_words():
            flat = given[0]
            is_suffix = tf.gather(self._is_suffix, flat)
            word = tf.cumsum(1 - tf.cast(is_suffix, tf.int32)) - 1  # word index of each piece
            word_chars = tf.math.segment_sum(tf.gather(self._piece_chars, flat), word)
            long_word = tf.gather(word_chars > self.max_chars_per_word, word)
            keep = tf.logical_not(long_word & is_suffix)
            kept_before = tf.concat([[0], tf.cumsum(tf.cast(keep, splits.dtype))], 0)
            merged = [tf.where(long_word, self.unk_id, flat)]
            if starts is not None:
                word_end = tf.gather(tf.math.segment_max(given[2], word), word)
                merged += [given[1], tf.where(long_word, word_end, given[2])]
            return (tf.gather(kept_before, splits),
                    *(tf.boolean_mask(values, keep) for values in merged))

        # Plain tensors through the cond: ragged validation ops inside a branch run even when
        # it is not taken in tf.data functions.
        splits, *values = tf.cond(self._may_have_long_words(normalized), merge_long_words,
                                  lambda: (splits, *given))
        ragged = [tf.RaggedTensor.from_row_splits(v, splits, validate=False) for v in values]
        return tuple(ragged) if starts is not None else (ragged[0], None, None)

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

        ids, starts, ends = self._tokenizer.tokenize_with_offsets(joined)
        ids, starts, ends = self._unk_long_words(ids, joined, tf.cast(starts, tf.int32),
                                                 tf.cast(ends, tf.int32))
        base = tf.gather(row_base, ids.value_rowids())
        first_char = tf.searchsorted(norm_ends, starts.flat_values + base, side="right")
        last_char = tf.searchsorted(norm_ends, ends.flat_values + base, side="left")
        return (ids, ids.with_flat_values(tf.gather(char_starts, first_char)),
                ids.with_flat_values(tf.gather(char_ends, last_char)))
