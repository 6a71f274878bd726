"""Packing word pieces into fixed-length BERT inputs, with dense ops only.

TFLite has kernels for `RaggedTensorToTensor` but not for `RaggedRange`/`RaggedGather`, which
ragged slicing and concatenation produce; so every ragged input is turned dense once with
`to_tensor(shape=...)` and the rest is `range`, `gather`, `where` on [batch, seq] tensors.
"""

import tensorflow as tf


def truncate_lengths(first_length, second_length, budget):
    """Longest-first truncation of a pair, as google-research/bert `_truncate_seq_pair`.

    Removes one token at a time from the longer segment (from the second on a tie) until
    `first + second <= budget`. Closed form, int32 tensors [batch].
    """
    first_keep = tf.minimum(first_length, tf.maximum((budget + 1) // 2, budget - second_length))
    second_keep = tf.minimum(second_length, budget - first_keep)
    return first_keep, second_keep


def _dense(values, length, fill):
    values = tf.cast(values, tf.int32)
    return values.to_tensor(default_value=fill, shape=[None, length])


def _pack(first, second, max_seq_length, cls_id, sep_id, pad_id):
    length = max_seq_length
    first_length = tf.cast(first.row_lengths(), tf.int32)
    first_dense = _dense(first, length, pad_id)  # [batch, seq]
    pos = tf.range(length)[None, :]  # [1, seq]
    if second is None:
        first_keep = tf.minimum(first_length, length - 2)[:, None]  # [batch, 1]
        second_keep = tf.zeros_like(first_keep)
        total = first_keep + 2
    else:
        second_length = tf.cast(second.row_lengths(), tf.int32)
        first_keep, second_keep = truncate_lengths(first_length, second_length, length - 3)
        first_keep, second_keep = first_keep[:, None], second_keep[:, None]
        total = first_keep + second_keep + 3
    in_first = (pos >= 1) & (pos <= first_keep)
    ids = tf.gather(first_dense, tf.clip_by_value(pos - 1, 0, length - 1) + 0 * first_keep,
                    batch_dims=1)
    ids = tf.where(in_first, ids, pad_id)
    ids = tf.where(pos == 0, cls_id, ids)
    ids = tf.where(pos == first_keep + 1, sep_id, ids)
    segment_ids = tf.zeros_like(ids)
    if second is not None:
        second_dense = _dense(second, length, pad_id)
        second_start = first_keep + 2  # [batch, 1]
        in_second = (pos >= second_start) & (pos < second_start + second_keep)
        second_ids = tf.gather(second_dense, tf.clip_by_value(pos - second_start, 0, length - 1),
                               batch_dims=1)
        ids = tf.where(in_second, second_ids, ids)
        ids = tf.where(pos == total - 1, sep_id, ids)
        # `where`, not a cast of the bool: the TFLite converter folds `cast(bool) < 0` (the
        # embedding lookup's index check) into a bool `zeros_like` it cannot lower.
        segment_ids = tf.where((pos >= second_start) & (pos < total), 1, 0)
    padding_mask = tf.cast(pos < total, tf.int32)
    return {"token_ids": ids, "segment_ids": segment_ids, "padding_mask": padding_mask}


def pack_inputs(first, max_seq_length, cls_id, sep_id, pad_id, second=None):
    """Packs one or two segments as `[CLS] first [SEP] (second [SEP])`, then pads.

    Args:
        first: int ragged [batch, (pieces)], word-piece ids of the first segment.
        max_seq_length: int, static output length (at least 3 for a pair, 2 otherwise).
        cls_id, sep_id, pad_id: int, special token ids.
        second: optional int ragged [batch, (pieces)], the second segment.

    Returns:
        dict of int32 [batch, max_seq_length]: `token_ids`, `segment_ids` (1 over the second
        segment and its [SEP]), `padding_mask` (1 over real tokens).
    """
    minimum = 2 if second is None else 3
    if max_seq_length < minimum:
        raise ValueError(f"`max_seq_length` ({max_seq_length}) must be at least {minimum}.")
    return _pack(first, second, max_seq_length, cls_id, sep_id, pad_id)


def trim_padding(inputs, multiple=8):
    """Drops the padding columns no row needs: packed inputs [batch, max_seq_length] become
    [batch, width], `width` the longest row rounded up to `multiple` (at most max_seq_length).

    For serving on CPU/GPU, where short texts then cost short sequences; outputs at real
    positions do not change (the padding mask hides padding). Keep static shapes on TPU and
    TFLite.
    """
    length = inputs["padding_mask"].shape[1]
    longest = tf.maximum(tf.reduce_max(tf.reduce_sum(inputs["padding_mask"], axis=1)), 1)
    width = tf.minimum((longest + multiple - 1) // multiple * multiple, length)
    return {name: value[:, :width] for name, value in inputs.items()}


def pack_offsets(first_starts, first_ends, max_seq_length, second_starts=None,
                 second_ends=None):
    """Places piece offsets at the positions `pack_inputs` gives their pieces.

    Returns:
        `(starts, ends)`, int32 [batch, max_seq_length], -1 at [CLS], [SEP] and padding.
        Use with `BertTokenizer.tokenize_with_offsets` for NER labels and QA answer spans.
    """
    starts = _pack(first_starts, second_starts, max_seq_length, -1, -1, -1)["token_ids"]
    ends = _pack(first_ends, second_ends, max_seq_length, -1, -1, -1)["token_ids"]
    return starts, ends


def char_offsets(text, byte_starts, byte_ends):
    """Converts UTF-8 byte offsets (ragged [batch, (pieces)]) into character offsets.

    Args:
        text: tf.string [batch], the strings the offsets point into.
        byte_starts, byte_ends: int ragged [batch, (pieces)].

    Returns:
        `(starts, ends)`, int32 ragged [batch, (pieces)]: Python `str` indices.
    """
    _, char_starts = tf.strings.unicode_split_with_offsets(text, "UTF-8")
    row_base = tf.cumsum(tf.strings.length(text), exclusive=True)  # [batch]
    global_chars = tf.cast(char_starts.flat_values, tf.int32) + tf.gather(
        row_base, tf.cast(char_starts.value_rowids(), tf.int32))
    char_base = tf.cast(char_starts.row_starts(), tf.int32)

    def convert(offsets):
        rows = offsets.value_rowids()
        values = tf.cast(offsets.flat_values, tf.int32) + tf.gather(row_base, rows)
        index = tf.searchsorted(global_chars, values, side="left", out_type=tf.int32)
        return offsets.with_flat_values(index - tf.gather(char_base, rows))

    return convert(byte_starts), convert(byte_ends)
