"""The traced serving signatures of a fine-tuning run (shared by SavedModel and TFLite).

Signatures (every string input is tf.string [batch]; a rank-0 string is INVALID_ARGUMENT):

* classification — `serving_default(text[, text_pair])` -> `probabilities` float32
  [batch, labels], `label` string [batch] (the arg-max label name). On servers the packed
  inputs are trimmed to the batch's longest text (`trim_padding`), so short texts cost short
  sequences; TFLite keeps max_seq_length.
* regression — `serving_default(text[, text_pair])` -> `score` float32 [batch].
* ner — `serving_default(text)` -> one row per text, entities left-aligned in slots
  [batch, max_seq_length - 2] (the most a window can hold), padded with "" / -1:
  `entity_type` string, `entity_text` string, `entity_start`, `entity_end` int32 character
  offsets (`text[start:end]` in Python `str` indices), and `num_entities` int32 [batch].
  Entities are decoded from BIO tags (B-X starts an entity, I-X continues one of type X, an
  I-X after anything else starts one, like seqeval); as in training, a word's first piece
  carries its tag and "##" pieces follow it. Words are split by the BERT tokenizer
  (whitespace, punctuation, each CJK character), which is the NER runs' "chars" split for
  Chinese text.
* squad — `serving_default(question, context)` -> `answer` string [batch], `start`, `end`
  int32 [batch] character offsets into `context` (-1 and "" when the window holds no context
  token), `score` float32 [batch] (start + end logit of the best span). One window:
  `[CLS] question [SEP] context [SEP]` truncated longest-first to max_seq_length; the best span
  has end >= start, at most 30 pieces, context pieces only.
* all tasks — `serve_ids(token_ids, segment_ids, padding_mask)` int32 [batch, max_seq_length]
  -> the task model's raw outputs (`logits`, or `start_logits` + `end_logits`).

The tokenizer uses the normalizer recorded with the vocabulary: "exact" (imported checkpoints,
bit-exact to reference BERT; core string ops, fine for TF Serving) or "fast" (tf-text kernels
only, convertible by `export.tflite`).

With `on_device=True` (TFLite) NER and QA use device offsets and return UTF-8 byte
spans instead of strings: see `export/tflite.py`.
"""

import re

MAX_ANSWER_PIECES = 30


def _entity_tables(labels):
    """Per-class entity type index (0 = outside) and begin flag, and the type names."""
    types, class_type, class_begin = [""], [], []
    for label in labels:
        match = re.match(r"^([BIESM])-(.+)$", label)
        if match is None:
            class_type.append(0)
            class_begin.append(False)
            continue
        if match.group(2) not in types:
            types.append(match.group(2))
        class_type.append(types.index(match.group(2)))
        class_begin.append(match.group(1) in "BS")
    return types, class_type, class_begin


def _char_offsets(text, byte_offsets):
    """Dense UTF-8 byte offsets [batch, n] into `text` [batch] -> character offsets."""
    import tensorflow as tf
    rows = tf.broadcast_to(text[:, None], tf.shape(byte_offsets))
    return tf.strings.length(tf.strings.substr(rows, tf.zeros_like(byte_offsets),
                                               tf.maximum(byte_offsets, 0)),
                             unit="UTF8_CHAR")


class ServingFunctions:
    """Builds the traced signatures of one task model (shared with `export.tflite`).

    Args:
        model: the Keras task model of the run.
        tokenizer: `BertTokenizer` (normalizer as recorded, or "fast" for TFLite).
        info: the run's `task.json` dict.
    """

    def __init__(self, model, tokenizer, info, on_device=False):
        self.model = model
        # On device (TFLite) only ops with TFLite kernels: dense offsets, byte spans, no
        # substrings (see `_serve_ner`).
        self.on_device = on_device
        self.tokenizer = tokenizer
        self.info = info
        self.task = info["task"]
        self.seq_length = int(info["max_seq_length"])
        self.labels = list(info.get("labels") or [])
        self.text_pair = bool(info.get("text_pair"))
        if self.task not in ("classification", "regression", "ner", "squad"):
            raise ValueError(f"task.json: task {self.task!r} has no serving signature "
                             "(export classification, regression, ner or squad runs).")

    def text_inputs(self):
        """Input names of `serving_default`, in order."""
        if self.task == "squad":
            return ["question", "context"]
        if self.text_pair and self.task != "ner":
            return ["text", "text_pair"]
        return ["text"]

    def input_signature(self):
        import tensorflow as tf
        return [tf.TensorSpec([None], tf.string, name=name) for name in self.text_inputs()]

    def ids_signature(self):
        import tensorflow as tf
        return [{name: tf.TensorSpec([None, self.seq_length], tf.int32, name=name)
                 for name in ("token_ids", "segment_ids", "padding_mask")}]

    def _pack(self, first, second=None):
        from tfbert.tokenization import pack_inputs
        t = self.tokenizer
        return pack_inputs(first, self.seq_length, t.cls_id, t.sep_id, t.pad_id, second=second)

    def serve_ids(self, inputs):
        outputs = self.model(inputs, training=False)
        if isinstance(outputs, dict):
            return dict(outputs)
        return {"logits": outputs}

    def serve(self, *texts):
        """The `serving_default` body; `texts` are tf.string [batch] tensors."""
        import tensorflow as tf

        from tfbert.tokenization import trim_padding
        # A rank-0 string SIGSEGVs the fast tf-text kernels; this makes it INVALID_ARGUMENT.
        texts = [tf.ensure_shape(x, [None]) for x in texts]
        if self.task == "ner":
            return self._serve_ner(texts[0])
        if self.task == "squad":
            return self._serve_squad(*texts)
        second = self.tokenizer.tokenize(texts[1]) if len(texts) > 1 else None
        inputs = self._pack(self.tokenizer.tokenize(texts[0]), second)
        if not self.on_device:  # servers: a batch of short texts runs as short sequences
            inputs = trim_padding(inputs)
        logits = self.model(inputs, training=False)
        if self.task == "regression":
            return {"score": logits[:, 0]}
        # Gather the names by arg-max: `tf.where` on strings is a SelectV2 without TFLite kernel.
        best = tf.argmax(logits, axis=-1, output_type=tf.int32)
        label = tf.gather(tf.constant(self.labels), best)
        return {"probabilities": tf.nn.softmax(logits, axis=-1), "label": label}

    def _serve_ner(self, text):
        import tensorflow as tf

        from tfbert.tokenization import pack_offsets
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
        outputs["entity_start"] = tf.where(present, _char_offsets(text, start_byte), -1)
        outputs["entity_end"] = tf.where(present, _char_offsets(text, end_byte), -1)
        return outputs

    def _device_packed_offsets(self, text):
        """Ids and byte offsets packed like `pack_offsets`, with TFLite kernels only."""
        import tensorflow as tf
        pieces = self.seq_length - 2
        ids, starts, ends = self.tokenizer.tokenize_with_dense_offsets(text, pieces)
        kept = tf.minimum(tf.cast(ids.row_lengths(), tf.int32), pieces)[:, None]
        real = tf.range(pieces)[None, :] < kept  # [batch, seq - 2]
        place = lambda x: tf.pad(tf.where(real, x, -1), [[0, 0], [1, 1]],  # noqa: E731
                                 constant_values=-1)  # [CLS] and last slot
        return ids, place(starts), place(ends)

    def _device_context_offsets(self, question_ids, context):
        """Context ids and byte offsets at their packed positions (-1 elsewhere), dense."""
        import tensorflow as tf

        from tfbert.tokenization.packing import truncate_lengths
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

    def _serve_squad(self, question, context):
        import tensorflow as tf

        from tfbert.tokenization import pack_offsets
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
        return {"answer": answer, "score": score,
                "start": tf.where(found, _char_offsets(context, start_byte[:, None])[:, 0], -1),
                "end": tf.where(found, _char_offsets(context, end_byte[:, None])[:, 0], -1)}

    def archive(self, with_ids=True):
        """An ExportArchive with `serving_default` (and `serve_ids`)."""
        import keras
        archive = keras.export.ExportArchive()
        archive.track(self.model)
        archive.add_endpoint("serving_default", self.serve, input_signature=self.input_signature())
        if with_ids:
            archive.add_endpoint("serve_ids", self.serve_ids, input_signature=self.ids_signature())
        return archive


def load_serving_functions(model_dir, normalizer=None, on_device=False):
    """`ServingFunctions` of a fine-tuning run; `normalizer` overrides the recorded one."""
    from tfbert.run_outputs import load_run
    from tfbert.tokenization import BertTokenizer
    model, vocab_file, info = load_run(model_dir)
    return ServingFunctions(model, BertTokenizer(vocab_file, normalizer=normalizer), info,
                            on_device=on_device)
