"""The serving signatures a task exports (shared by the SavedModel export and TFLite).

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
* embedding — `serving_default(text)` -> `embedding` float32 [batch, hidden]: the mean of the
  last hidden states over `[CLS] text [SEP]` (no padding), L2-normalised, as sentence-transformers
  computes it (exported from a checkpoint, not a fine-tuning run: `tfbert/tasks/embedding/`).
* all tasks — `serve_ids(token_ids, segment_ids, padding_mask)` int32 [batch, max_seq_length]
  -> the task model's raw outputs (`logits`, `start_logits` + `end_logits`, or `embedding`).

The tokenizer uses the normalizer recorded with the vocabulary: "exact" (imported checkpoints,
bit-exact to reference BERT; core string ops, fine for TF Serving) or "fast" (tf-text kernels
only, convertible by `export.tflite`).

With `on_device=True` (TFLite) NER and QA use device offsets and return UTF-8 byte
spans instead of strings: see `export/tflite.py`.

Each task's `serving.py` subclasses `TaskSignatures` with its `text_inputs` and `serve`.
"""

import keras
import tensorflow as tf

from tfbert.tokenization import pack_inputs


def dense_char_offsets(text, byte_offsets):
    """Dense UTF-8 byte offsets [batch, n] into `text` [batch] -> character offsets."""
    rows = tf.broadcast_to(text[:, None], tf.shape(byte_offsets))
    return tf.strings.length(tf.strings.substr(rows, tf.zeros_like(byte_offsets),
                                               tf.maximum(byte_offsets, 0)),
                             unit="UTF8_CHAR")


class TaskSignatures:
    """Builds the traced signatures of one task model (shared with `export.tflite`).

    Args:
        model: the Keras task model of the run.
        tokenizer: `BertTokenizer` (normalizer as recorded, or "fast" for TFLite).
        info: the run's `task.json` dict.
    """

    def __init__(self, model, tokenizer, info, on_device=False):
        self.model = model
        # On device (TFLite) only ops with TFLite kernels: dense offsets, byte spans, no
        # substrings (NER and QA return byte spans).
        self.on_device = on_device
        self.tokenizer = tokenizer
        self.info = info
        self.task = info["task"]
        self.seq_length = int(info["max_seq_length"])
        self.labels = list(info.get("labels") or [])
        self.text_pair = bool(info.get("text_pair"))

    def text_inputs(self):
        """Input names of `serving_default`, in order."""
        return ["text"]

    def input_signature(self):
        return [tf.TensorSpec([None], tf.string, name=name) for name in self.text_inputs()]

    def ids_signature(self):
        return [{name: tf.TensorSpec([None, self.seq_length], tf.int32, name=name)
                 for name in ("token_ids", "segment_ids", "padding_mask")}]

    def _pack(self, first, second=None):
        t = self.tokenizer
        return pack_inputs(first, self.seq_length, t.cls_id, t.sep_id, t.pad_id, second=second)

    def serve_ids(self, inputs):
        outputs = self.model(inputs, training=False)
        if isinstance(outputs, dict):
            return dict(outputs)
        return {"logits": outputs}

    def serve(self, *texts):
        """The `serving_default` body; `texts` are tf.string [batch] tensors."""
        raise NotImplementedError

    def archive(self, with_ids=True):
        """An ExportArchive with `serving_default` (and `serve_ids`)."""
        archive = keras.export.ExportArchive()
        archive.track(self.model)
        archive.add_endpoint("serving_default", self.serve, input_signature=self.input_signature())
        if with_ids:
            archive.add_endpoint("serve_ids", self.serve_ids, input_signature=self.ids_signature())
        return archive
