"""NER signature: raw text in, entity types, texts and character spans out."""

import tensorflow as tf

from tfbert.data.tags import split_tag
from tfbert.tasks.signature import TaskSignatures, dense_char_offsets
from tfbert.tokenization import pack_offsets


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
    """`serving_default(text)` -> entities left-aligned in `max_seq_length - 2` slots."""

    def serve(self, text):
        """The `serving_default` body; `text` is tf.string [batch]."""
        # A rank-0 string SIGSEGVs the fast tf-text kernels; this makes it INVALID_ARGUMENT.
        text = tf.ensure_shape(text, [None])
        if self.on_device:
            ids, starts, ends = self._device_packed_offsets(text)
        else:
            ids, starts, ends = self.tokenizer.tokenize_with_offsets(text)
            starts, ends = pack_offsets(starts, ends, self.seq_length)  # [batch, seq], -1 off
        inputs = self._pack(ids)
        logits = self.model(inputs, training=False)  # [batch, seq, classes]
        types, class_type, class_begin = _entity_tables(self.labels)
        tags = tf.argmax(logits, axis=-1, output_type=tf.int32)
        is_piece = starts >= 0
        # Training labels the first piece of each word: "##" pieces take their word's tag.
        is_suffix = tf.gather(tf.constant([t.startswith("##") for t in self.tokenizer.vocab]),
                              inputs["token_ids"]) & is_piece
        word = tf.cumsum(1 - tf.cast(is_suffix, tf.int32), axis=1)  # [batch, seq]
        # same_word_first[b, p, q]: q is the first piece of p's word.  [batch, seq, seq]
        same_word_first = ((word[:, :, None] == word[:, None, :])
                           & tf.logical_not(is_suffix)[:, None, :])
        tags = tf.reduce_max(tf.where(same_word_first, tags[:, None, :], 0), axis=2)
        kind = tf.where(is_piece, tf.gather(tf.constant(class_type, tf.int32), tags), 0)
        previous = tf.pad(kind[:, :-1], [[0, 0], [1, 0]])
        begin = (kind > 0) & (tf.gather(tf.constant(class_begin), tags) | (kind != previous))
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
        outputs = {"entity_type": tf.gather(tf.constant(types), type_index),
                   "num_entities": tf.reduce_sum(tf.cast(begin, tf.int32), axis=1)}
        if self.on_device:  # UTF-8 byte spans: substrings and char counts have no kernels
            outputs["entity_start_byte"] = start_byte
            outputs["entity_end_byte"] = end_byte
            return outputs
        rows = tf.broadcast_to(text[:, None], tf.shape(start_byte))
        outputs["entity_text"] = tf.strings.substr(rows, tf.maximum(start_byte, 0),
                                                   tf.maximum(end_byte - start_byte, 0))
        outputs["entity_start"] = tf.where(present, dense_char_offsets(text, start_byte), -1)
        outputs["entity_end"] = tf.where(present, dense_char_offsets(text, end_byte), -1)
        return outputs

    def _device_packed_offsets(self, text):
        """Ids and byte offsets packed like `pack_offsets`, with TFLite kernels only."""
        pieces = self.seq_length - 2
        ids, starts, ends = self.tokenizer.tokenize_with_dense_offsets(text, pieces)
        kept = tf.minimum(tf.cast(ids.row_lengths(), tf.int32), pieces)[:, None]
        real = tf.range(pieces)[None, :] < kept  # [batch, seq - 2]
        place = lambda x: tf.pad(tf.where(real, x, -1), [[0, 0], [1, 1]],  # noqa: E731
                                 constant_values=-1)  # [CLS] and last slot
        return ids, place(starts), place(ends)
