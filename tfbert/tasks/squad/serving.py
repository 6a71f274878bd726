"""Extractive QA signature: question and context in, the best answer span out.

On servers the whole context is searched: it is cut into windows `doc_stride` pieces apart
(`[CLS] question [SEP] window [SEP]`, the question cut to `max_query_length` pieces, the
windows flattened into the model batch), and the best span over all windows wins, as in
`run_squad.py`: start in its max-context window, scores (start + end logit) compared across
windows. On device (TFLite) one window, and `truncated` says when the context did not fit.
"""

import tensorflow as tf

from tfbert.tasks.signature import TaskSignatures, cut_windows, dense_char_offsets, window_values
from tfbert.tokenization import pack_offsets, trim_padding
from tfbert.tokenization.packing import truncate_lengths

MAX_ANSWER_PIECES = 30
MAX_QUERY_LENGTH = 64  # run_squad.py's default, when the run does not record its own


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

    @property
    def max_query_length(self):
        """Question pieces kept: the run's, else 64 but at most half of max_seq_length - 3."""
        recorded = self.info.get("max_query_length")
        if recorded:  # leaving at least one context piece per window
            return min(int(recorded), self.seq_length - 4)
        return min(MAX_QUERY_LENGTH, (self.seq_length - 3) // 2)

    def shortest_window(self):
        return self.seq_length - 3 - self.max_query_length

    def serve(self, question, context):
        """The `serving_default` body; `question`, `context` are tf.string [batch]."""
        # A rank-0 string SIGSEGVs the fast tf-text kernels; this makes it INVALID_ARGUMENT.
        question = tf.ensure_shape(question, [None])
        context = tf.ensure_shape(context, [None])
        if self.on_device:
            return self._serve_one_window(question, context)
        return self._serve_windows(question, context)

    def _best_spans(self, logits, starts, ends, is_start):
        """Best span per row of packed windows: `(score, start_byte, end_byte, found)` [rows].

        `starts`, `ends`: int32 [rows, seq] byte offsets, -1 off context; `is_start`: bool
        [rows, seq], where an answer may start.
        """
        is_context = starts >= 0  # [rows, seq]
        pos = tf.range(self.seq_length)
        width = pos[None, :] - pos[:, None]  # [seq(start), seq(end)]: end - start
        allowed = (width >= 0) & (width < MAX_ANSWER_PIECES)
        valid = allowed[None] & (is_context & is_start)[:, :, None] & is_context[:, None, :]
        span_score = logits["start_logits"][:, :, None] + logits["end_logits"][:, None, :]
        span_score = tf.where(valid, span_score, -3e38)
        flat = tf.reshape(span_score, [-1, self.seq_length * self.seq_length])
        best = tf.argmax(flat, axis=-1, output_type=tf.int32)
        start_pos, end_pos = best // self.seq_length, best % self.seq_length
        found = tf.reduce_any(is_context & is_start, axis=1)
        start_byte = tf.where(found, tf.gather(starts, start_pos, batch_dims=1), -1)
        end_byte = tf.where(found, tf.gather(ends, end_pos, batch_dims=1), -1)
        score = tf.where(found, tf.reduce_max(flat, axis=-1), 0.0)
        return score, start_byte, end_byte, found

    def _serve_windows(self, question, context):
        q_ids = self.tokenizer.tokenize(question)[:, :self.max_query_length]
        c_ids, c_starts, c_ends = self.tokenizer.tokenize_with_offsets(context)
        batch = tf.shape(context)[0]
        q_length = tf.cast(q_ids.row_lengths(), tf.int32)
        width = self.seq_length - 3
        windows = cut_windows(c_ids.row_splits, width - q_length, self.doc_stride, width)
        w_question = tf.gather(q_ids, windows.example)  # ragged [windows, (pieces)]
        inputs = self._pack(w_question,
                            window_values(c_ids.flat_values, windows, self.tokenizer.pad_id))
        # Question pieces get offset -1, like [CLS]/[SEP]/padding: only context answers.
        no_offset = w_question * 0 - 1
        starts, ends = pack_offsets(no_offset, no_offset, self.seq_length,
                                    window_values(c_starts.flat_values, windows, -1),
                                    window_values(c_ends.flat_values, windows, -1))
        is_max = tf.RaggedTensor.from_tensor(tf.cast(windows.is_max, tf.int32),
                                             lengths=windows.length)
        is_max = pack_offsets(no_offset, no_offset, self.seq_length, is_max, is_max)[0]
        logits = self.model(trim_padding(inputs), training=False)
        logits = {k: tf.pad(logits[k], [[0, 0], [0, self.seq_length - tf.shape(logits[k])[1]]])
                  for k in ("start_logits", "end_logits")}  # [windows, seq]
        score, start_byte, end_byte, found = self._best_spans(logits, starts, ends, is_max == 1)
        # The best window of each example (the first on a tie), as run_squad.py's n-best.
        score = tf.where(found, score, -3e38)
        best = tf.math.unsorted_segment_max(score, windows.example, batch)
        row = tf.range(tf.shape(score)[0])
        chosen = tf.math.unsorted_segment_min(
            tf.where(found & (score == tf.gather(best, windows.example)), row, 2**30),
            windows.example, batch)
        found = chosen < 2**30
        pick = lambda x, fill: tf.where(  # noqa: E731
            found, tf.gather(x, tf.minimum(chosen, tf.maximum(tf.shape(x)[0] - 1, 0))), fill)
        start_byte, end_byte = pick(start_byte, -1), pick(end_byte, -1)
        answer = tf.strings.substr(context, tf.maximum(start_byte, 0),
                                   tf.maximum(end_byte - start_byte, 0))
        start = dense_char_offsets(context, start_byte[:, None])[:, 0]
        end = dense_char_offsets(context, end_byte[:, None])[:, 0]
        return {"answer": answer, "score": pick(score, 0.0),
                "start": tf.where(found, start, -1), "end": tf.where(found, end, -1),
                "num_windows": windows.count, "truncated": tf.zeros([batch], tf.bool)}

    def _serve_one_window(self, question, context):
        """`[CLS] question [SEP] context [SEP]` truncated longest-first, TFLite kernels only."""
        q_ids = self.tokenizer.tokenize(question)
        c_ids, starts, ends = self._device_context_offsets(q_ids, context)
        logits = self.model(self._pack(q_ids, c_ids), training=False)
        score, start_byte, end_byte, _ = self._best_spans(logits, starts, ends,
                                                          tf.ones_like(starts) > 0)
        kept = tf.reduce_sum(tf.cast(starts >= 0, tf.int32), axis=1)
        # UTF-8 byte spans: substrings and char counts have no kernels.
        return {"score": score, "start_byte": start_byte, "end_byte": end_byte,
                "num_windows": tf.ones_like(kept),
                "truncated": kept < tf.cast(c_ids.row_lengths(), tf.int32)}
