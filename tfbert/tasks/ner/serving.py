"""NER signature: raw text in, entity types, texts and character spans out.

On servers the whole text is tagged: its pieces are cut into overlapping windows
(`doc_stride` apart, flattened into the model batch), each piece takes its tag from its
max-context window, and entities are decoded over the whole text. On device (TFLite) one
window with static shapes, and `truncated` says when the text had more pieces.
"""

import tensorflow as tf

from tfbert.data.tags import split_tag
from tfbert.tasks.signature import TaskSignatures, cut_windows, window_values
from tfbert.tokenization import char_offsets, trim_padding


def _entity_tables(labels):
    """Per-class entity type index (0 = outside) and begin flag, and the type names."""
    types, class_type, class_begin = [""], [], []
    for label in labels:
        prefix, type_ = split_tag(label) or ("O", "")
        if prefix == "O":
            class_type.append(0)
            class_begin.append(False)
            continue
        if type_ not in types:
            types.append(type_)
        class_type.append(types.index(type_))
        class_begin.append(prefix in "BS")
    return types, class_type, class_begin


class NerSignatures(TaskSignatures):
    """`serving_default(text)` -> entities left-aligned in slots, windows, `truncated`."""

    def shortest_window(self):
        return self.seq_length - 2

    def serve(self, text):
        """The `serving_default` body; `text` is tf.string [batch]."""
        # A rank-0 string SIGSEGVs the fast tf-text kernels; this makes it INVALID_ARGUMENT.
        text = tf.ensure_shape(text, [None])
        if self.on_device:
            return self._serve_one_window(text)
        return self._serve_windows(text)

    def _suffix_table(self):
        return tf.constant([t.startswith("##") for t in self.tokenizer.vocab])

    def _serve_windows(self, text):
        """Tags every piece of each text through windows; entities over the whole text."""
        ids, starts, ends = self.tokenizer.tokenize_with_offsets(text)
        splits = tf.cast(ids.row_splits, tf.int32)
        batch, total = tf.shape(text)[0], splits[-1]
        width = self.seq_length - 2
        windows = cut_windows(splits, tf.fill([batch], width), self.doc_stride, width)
        inputs = self._pack(window_values(ids.flat_values, windows, self.tokenizer.pad_id))
        logits = self.model(trim_padding(inputs), training=False)  # [windows, <=seq, classes]
        tags = tf.argmax(logits, axis=-1, output_type=tf.int32)
        tags = tf.pad(tags, [[0, 0], [0, self.seq_length - tf.shape(tags)[1]]])[:, 1:width + 1]
        segment = tf.where(windows.is_max, windows.piece, total)  # [windows, width]
        tags = tf.math.unsorted_segment_max(tags, segment, total + 1)[:total]  # [pieces]
        types, class_type, class_begin = _entity_tables(self.labels)
        row = tf.cast(ids.value_rowids(), tf.int32)  # [pieces]
        row_first = tf.range(total) == tf.gather(splits, row)
        flat_ids = tf.cast(ids.flat_values, tf.int32)
        is_suffix = tf.gather(self._suffix_table(), flat_ids) & ~row_first
        # Training labels the first piece of each word: "##" pieces take their word's tag.
        word = tf.cumsum(1 - tf.cast(is_suffix, tf.int32)) - 1  # [pieces]
        word_first = tf.math.unsorted_segment_min(tf.range(total), word, total)
        tags = tf.gather(tags, tf.gather(word_first, word))
        kind = tf.gather(tf.constant(class_type, tf.int32), tags)
        previous = tf.where(row_first, 0, tf.pad(kind[:-1], [[1, 0]]))
        begin = ((kind > 0) & ~is_suffix
                 & (tf.gather(tf.constant(class_begin), tags) | (kind != previous)))
        count = tf.reduce_sum(tf.cast(begin, tf.int32))
        entity = tf.where(kind > 0, tf.cumsum(tf.cast(begin, tf.int32)) - 1, count)
        start_byte = tf.math.unsorted_segment_min(tf.cast(starts.flat_values, tf.int32), entity,
                                                  count + 1)[:count]  # [entities]
        end_byte = tf.math.unsorted_segment_max(tf.cast(ends.flat_values, tf.int32), entity,
                                                count + 1)[:count]
        entity_row = tf.boolean_mask(row, begin)
        nested = lambda values: tf.RaggedTensor.from_value_rowids(  # noqa: E731
            values, entity_row, nrows=batch)
        char_start, char_end = char_offsets(text, nested(start_byte), nested(end_byte))
        entity_text = tf.strings.substr(tf.gather(text, entity_row), start_byte,
                                        end_byte - start_byte)
        # At least max_seq_length - 2 slots (what one window can hold), more for long texts.
        slots = tf.maximum(width, tf.reduce_max(tf.concat([[0], char_start.row_lengths()], 0)))
        dense = lambda ragged, fill: ragged.to_tensor(fill, shape=tf.stack(  # noqa: E731
            [tf.cast(batch, tf.int64), tf.cast(slots, tf.int64)]))
        return {"entity_type": dense(nested(tf.gather(tf.constant(types),
                                                      tf.boolean_mask(kind, begin))), ""),
                "entity_text": dense(nested(entity_text), ""),
                "entity_start": dense(char_start, -1),
                "entity_end": dense(char_end, -1),
                "num_entities": tf.math.unsorted_segment_sum(
                    tf.cast(begin, tf.int32), row, batch),
                "num_windows": windows.count,
                "truncated": tf.zeros([batch], tf.bool)}

    def _serve_one_window(self, text):
        """The first `max_seq_length - 2` pieces, dense ops only (TFLite)."""
        ids, starts, ends = self._device_packed_offsets(text)
        inputs = self._pack(ids)
        logits = self.model(inputs, training=False)  # [batch, seq, classes]
        types, class_type, class_begin = _entity_tables(self.labels)
        tags = tf.argmax(logits, axis=-1, output_type=tf.int32)
        is_piece = starts >= 0
        # Training labels the first piece of each word: "##" pieces take their word's tag.
        is_suffix = tf.gather(self._suffix_table(), inputs["token_ids"]) & is_piece
        word = tf.cumsum(1 - tf.cast(is_suffix, tf.int32), axis=1)  # [batch, seq]
        # same_word_first[b, p, q]: q is the first piece of p's word.  [batch, seq, seq]
        same_word_first = ((word[:, :, None] == word[:, None, :])
                           & tf.logical_not(is_suffix)[:, None, :])
        tags = tf.reduce_max(tf.where(same_word_first, tags[:, None, :], 0), axis=2)
        kind = tf.where(is_piece, tf.gather(tf.constant(class_type, tf.int32), tags), 0)
        previous = tf.pad(kind[:, :-1], [[0, 0], [1, 0]])
        begin = ((kind > 0) & ~is_suffix  # a word's "##" pieces continue its entity
                 & (tf.gather(tf.constant(class_begin), tags) | (kind != previous)))
        entity = tf.cumsum(tf.cast(begin, tf.int32), axis=1) - 1  # entity index of each piece
        slots = self.seq_length - 2
        # member[b, e, p]: piece p belongs to entity e.  [batch, slots, seq]
        member = ((kind > 0)[:, None, :]
                  & (entity[:, None, :] == tf.range(slots, dtype=tf.int32)[None, :, None]))
        present = tf.reduce_any(member, axis=2)  # [batch, slots]
        start_byte = tf.reduce_min(tf.where(member, starts[:, None, :], 2**30), axis=2)
        end_byte = tf.reduce_max(tf.where(member, ends[:, None, :], -1), axis=2)
        start_byte = tf.where(present, start_byte, -1)
        type_index = tf.reduce_max(tf.where(member, kind[:, None, :], 0), axis=2)
        batch = tf.shape(text)[:1]
        # UTF-8 byte spans: substrings and char counts have no kernels.
        return {"entity_type": tf.gather(tf.constant(types), type_index),
                "num_entities": tf.reduce_sum(tf.cast(begin, tf.int32), axis=1),
                "entity_start_byte": start_byte, "entity_end_byte": end_byte,
                "num_windows": tf.ones(batch, tf.int32),
                "truncated": tf.cast(ids.row_lengths(), tf.int32) > self.seq_length - 2}

    def _device_packed_offsets(self, text):
        """Ids and byte offsets packed like `pack_offsets`, with TFLite kernels only."""
        pieces = self.seq_length - 2
        ids, starts, ends = self.tokenizer.tokenize_with_dense_offsets(text, pieces)
        kept = tf.minimum(tf.cast(ids.row_lengths(), tf.int32), pieces)[:, None]
        real = tf.range(pieces)[None, :] < kept  # [batch, seq - 2]
        place = lambda x: tf.pad(tf.where(real, x, -1), [[0, 0], [1, 1]],  # noqa: E731
                                 constant_values=-1)  # [CLS] and last slot
        return ids, place(starts), place(ends)
