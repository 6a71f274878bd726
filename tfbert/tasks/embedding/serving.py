"""The embedding signature: raw text in, an L2-normalised mean-pooled vector out."""

import tensorflow as tf

from tfbert.tasks.signature import TaskSignatures
from tfbert.tokenization import trim_padding


class EmbeddingSignatures(TaskSignatures):
    """`serving_default(text)` -> `embedding` float32 [batch, hidden] (unit L2 norm).

    Each text is packed alone as `[CLS] text [SEP]`, truncated to `max_seq_length` pieces, as
    sentence-transformers does. `serve_ids` returns the same `embedding` from packed ids.
    """

    def serve(self, text):
        """The `serving_default` body; `text` is tf.string [batch]."""
        # A rank-0 string SIGSEGVs the fast tf-text kernels; this makes it INVALID_ARGUMENT.
        text = tf.ensure_shape(text, [None])
        inputs = self._pack(self.tokenizer.tokenize(text))
        if not self.on_device:  # servers: a batch of short texts runs as short sequences
            inputs = trim_padding(inputs)
        return {"embedding": self.model(inputs, training=False)["embedding"]}
