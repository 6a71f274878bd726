"""Extractive QA signature: question and context in, the best answer span out."""

import tensorflow as tf

from tfbert.tasks.signature import TaskSignatures, dense_char_offsets
from tfbert.tokenization import pack_offsets
from tfbert.tokenization.packing import truncate_lengths

MAX_ANSWER_PIECES = 30


class SquadSignatures(TaskSignatures):
    """`serving_default(question, context)` -> `answer`, `start`, `end`, `score`."""

    def _device_context_offsets(self, question_ids, context):
        """Context ids and byte offsets at their packed positions (-1 elsewhere), dense."""
        seq = self.seq_length
        ids, starts, ends = self.tokenizer.tokenize_with_dense_offsets(context, seq)
        question_keep, context_keep = truncate_lengths(
            tf.cast(question_ids.row_lengths(), tf.int32), tf.cast(ids.row_lengths(), tf.int32),
            seq - 3)
        piece = tf.range(seq)[None, :] - (question_keep + 2)[:, None]  # [batch, seq]
        inside = (piece >= 0) & (piece < context_keep[:, None])
        index = tf.clip_by_value(piece, 0, seq - 1)
        place = lambda x: tf.where(inside, tf.gather(x, index, batch_dims=1), -1)  # noqa: E731
        return ids, place(starts), place(ends)

    def text_inputs(self):
        return ["question", "context"]

    def serve(self, question, context):
        """The `serving_default` body; `question`, `context` are tf.string [batch]."""
        # A rank-0 string SIGSEGVs the fast tf-text kernels; this makes it INVALID_ARGUMENT.
        question = tf.ensure_shape(question, [None])
        context = tf.ensure_shape(context, [None])
        if self.on_device:
            q_ids = self.tokenizer.tokenize(question)
            c_ids, starts, ends = self._device_context_offsets(q_ids, context)
        else:
            q_ids, q_starts, q_ends = self.tokenizer.tokenize_with_offsets(question)
            c_ids, c_starts, c_ends = self.tokenizer.tokenize_with_offsets(context)
            # Question pieces get offset -1, like [CLS]/[SEP]/padding: only context answers.
            starts, ends = pack_offsets(q_starts * 0 - 1, q_ends * 0 - 1, self.seq_length,
                                        c_starts, c_ends)
        logits = self.model(self._pack(q_ids, c_ids), training=False)
        is_context = starts >= 0  # [batch, seq]
        pos = tf.range(self.seq_length)
        width = pos[None, :] - pos[:, None]  # [seq(start), seq(end)]: end - start
        allowed = (width >= 0) & (width < MAX_ANSWER_PIECES)
        valid = allowed[None] & is_context[:, :, None] & is_context[:, None, :]
        span_score = logits["start_logits"][:, :, None] + logits["end_logits"][:, None, :]
        span_score = tf.where(valid, span_score, -3e38)
        flat = tf.reshape(span_score, [-1, self.seq_length * self.seq_length])
        best = tf.argmax(flat, axis=-1, output_type=tf.int32)
        start_pos, end_pos = best // self.seq_length, best % self.seq_length
        found = tf.reduce_any(is_context, axis=1)
        start_byte = tf.where(found, tf.gather(starts, start_pos, batch_dims=1), -1)
        end_byte = tf.where(found, tf.gather(ends, end_pos, batch_dims=1), -1)
        score = tf.where(found, tf.reduce_max(flat, axis=-1), 0.0)
        if self.on_device:  # UTF-8 byte spans: substrings and char counts have no kernels
            return {"score": score, "start_byte": start_byte, "end_byte": end_byte}
        answer = tf.strings.substr(context, tf.maximum(start_byte, 0),
                                   tf.maximum(end_byte - start_byte, 0))
        start = dense_char_offsets(context, start_byte[:, None])[:, 0]
        end = dense_char_offsets(context, end_byte[:, None])[:, 0]
        return {"answer": answer, "score": score,
                "start": tf.where(found, start, -1), "end": tf.where(found, end, -1)}
