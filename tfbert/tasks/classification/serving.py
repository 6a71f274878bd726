"""Classification and regression signatures: raw text in, probabilities and label (or score) out."""

import tensorflow as tf

from tfbert.tasks.signature import TaskSignatures
from tfbert.tokenization import trim_padding


class ClassificationSignatures(TaskSignatures):
    """`serving_default(text[, text_pair])` -> `probabilities`, `label` (regression: `score`),
    `truncated`."""

    def text_inputs(self):
        return ["text", "text_pair"] if self.text_pair else ["text"]

    def serve(self, *texts):
        """The `serving_default` body; `texts` are tf.string [batch] tensors."""
        # A rank-0 string SIGSEGVs the fast tf-text kernels; this makes it INVALID_ARGUMENT.
        texts = [tf.ensure_shape(x, [None]) for x in texts]
        first = self.tokenizer.tokenize(texts[0])
        second = self.tokenizer.tokenize(texts[1]) if len(texts) > 1 else None
        inputs = self._pack(first, second)
        # More pieces than [CLS] text [SEP] (text_pair [SEP]) can hold: the tail was cut.
        pieces = tf.cast(first.row_lengths(), tf.int32)
        if second is not None:
            pieces += tf.cast(second.row_lengths(), tf.int32)
        truncated = pieces > self.seq_length - (2 if second is None else 3)
        if not self.on_device:  # servers: a batch of short texts runs as short sequences
            inputs = trim_padding(inputs)
        logits = self.model(inputs, training=False)
        if self.task == "regression":
            return {"score": logits[:, 0], "truncated": truncated}
        # Gather the names by arg-max: `tf.where` on strings is a SelectV2 without TFLite kernel.
        best = tf.argmax(logits, axis=-1, output_type=tf.int32)
        label = tf.gather(tf.constant(self.labels), best)
        return {"probabilities": tf.nn.softmax(logits, axis=-1), "label": label,
                "truncated": truncated}
