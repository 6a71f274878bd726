"""The serving signatures a task exports (shared by the SavedModel export and TFLite).

Signatures (every string input is tf.string [batch]; a rank-0 string is INVALID_ARGUMENT):

* classification — `serving_default(text[, text_pair])` -> `probabilities` float32
  [batch, labels], `label` string [batch] (the arg-max label name), `truncated` bool [batch]
  (the text, or pair, had more pieces than `[CLS] text [SEP] (text_pair [SEP])` holds in
  max_seq_length: its tail, longest-first for a pair, was not seen). On servers the packed
  inputs are trimmed to the batch's longest text (`trim_padding`), so short texts cost short
  sequences; TFLite keeps max_seq_length.
* regression — `serving_default(text[, text_pair])` -> `score` float32 [batch], `truncated`.
* ner — `serving_default(text)` -> one row per text, entities left-aligned in slots
  [batch, slots] (slots = max(max_seq_length - 2, the most entities of a text in the batch)),
  padded with "" / -1: `entity_type` string, `entity_text` string, `entity_start`,
  `entity_end` int32 character offsets into the whole text (`text[start:end]` in Python `str`
  indices); `num_entities` int32 [batch]; `num_windows` int32 [batch], the windows the text
  was cut into; `truncated` bool [batch], always False (every piece is tagged). Long texts:
  the pieces are cut into windows of max_seq_length - 2 pieces, `doc_stride` apart (recorded
  at export: `export_info.json`; default half a window), flattened into the model batch; each
  piece takes its tag from the window where it has the most context (google-research/bert
  `_check_is_max_context`), and entities are decoded over the whole text, so one may span
  windows. Entities are decoded from BIO tags (B-X starts an entity, I-X continues one of
  type X, an I-X after anything else starts one, like seqeval); as in training, a word's first
  piece carries its tag and "##" pieces follow it (they never start an entity). Words are
  split by the BERT tokenizer (whitespace, punctuation, each CJK character), which is the NER
  runs' "chars" split for Chinese text.
* squad — `serving_default(question, context)` -> `answer` string [batch], `start`, `end`
  int32 [batch] character offsets into `context` (-1 and "" when the context has no piece),
  `score` float32 [batch] (start + end logit of the best span), `num_windows` int32 [batch],
  `truncated` bool [batch] (always False). Windows as run_squad.py cuts them: the question
  cut to `max_query_length` pieces (the run's, else 64 but at most half of max_seq_length - 3),
  `[CLS] question [SEP] window [SEP]` with context windows `doc_stride` pieces apart (the run's
  `doc_stride` if task.json records it, else half the shortest window; `export.saved_model
  --doc_stride` overrides), flattened into the model batch. The best span over all windows
  wins: it starts in its max-context window, has end >= start, at most 30 pieces, context
  pieces only; scores are raw logits, comparable across windows as in run_squad.py's n-best.
* embedding — `serving_default(text)` -> `embedding` float32 [batch, hidden]: the mean of the
  last hidden states over `[CLS] text [SEP]` (no padding), L2-normalised, as sentence-transformers
  computes it (exported from a checkpoint, not a fine-tuning run: `tfbert/tasks/embedding/`).
* all tasks — `serve_ids(token_ids, segment_ids, padding_mask)` int32 [batch, max_seq_length]
  -> the task model's raw outputs (`logits`, `start_logits` + `end_logits`, or `embedding`).

The tokenizer uses the normalizer recorded with the vocabulary: "exact" (imported checkpoints,
bit-exact to reference BERT; core string ops, fine for TF Serving) or "fast" (tf-text kernels
only, convertible by `export.tflite`).

With `on_device=True` (TFLite) NER and QA keep one window with static shapes (windows would
need ragged ops without TFLite kernels): the first max_seq_length - 2 pieces of the text, or
`[CLS] question [SEP] context [SEP]` truncated longest-first; `num_windows` is 1 and
`truncated` is True when pieces were left out. They use device offsets and return UTF-8 byte
spans instead of strings: see `export/tflite.py`.

Each task's `serving.py` subclasses `TaskSignatures` with its `text_inputs` and `serve`.
"""

import typing

import keras
import tensorflow as tf

from tfbert.tokenization import pack_inputs


def dense_char_offsets(text, byte_offsets):
    """Dense UTF-8 byte offsets [batch, n] into `text` [batch] -> character offsets."""
    rows = tf.broadcast_to(text[:, None], tf.shape(byte_offsets))
    return tf.strings.length(tf.strings.substr(rows, tf.zeros_like(byte_offsets),
                                               tf.maximum(byte_offsets, 0)),
                             unit="UTF8_CHAR")


class Windows(typing.NamedTuple):
    """Overlapping windows over the pieces of a batch of texts, one window per row.

    `example`, `start`, `length`: int32 [windows], the text of each window, its first piece
    (within the text) and its number of pieces. `count`: int32 [batch], windows per text.
    `piece`: int32 [windows, width], the index of each window position into the batch's flat
    pieces (`RaggedTensor.flat_values`), -1 past the window. `is_max`: bool [windows, width],
    this window is the piece's "max context" window (exactly one per piece).
    """

    example: tf.Tensor
    start: tf.Tensor
    length: tf.Tensor
    count: tf.Tensor
    piece: tf.Tensor
    is_max: tf.Tensor


def cut_windows(row_splits, window, doc_stride, width):
    """Cuts each text's pieces into windows `doc_stride` apart, as `run_squad.py` cuts a document.

    Window k of a text starts at piece `k * min(window, doc_stride)`; the last one reaches the
    text's end (an empty text has one empty window). A piece seen by several windows belongs to
    the one where it has the most context (google-research/bert `_check_is_max_context`:
    `min(left, right) + 0.01 * length`, the first window on a tie).

    Args:
        row_splits: int [batch + 1], the row splits of the ragged pieces.
        window: int32 [batch], the most pieces a window of each text holds (>= 1).
        doc_stride: int >= 1, pieces between the starts of consecutive windows.
        width: static int >= every `window`, the width of `Windows.piece`.

    Returns:
        `Windows`.
    """
    row_splits = tf.cast(row_splits, tf.int32)
    lengths = row_splits[1:] - row_splits[:-1]  # [batch]
    step = tf.minimum(window, doc_stride)
    count = 1 + tf.maximum(0, (lengths - window + step - 1) // step)  # [batch]
    example = tf.repeat(tf.range(tf.shape(lengths)[0]), count)  # [windows]
    num_windows = tf.shape(example)[0]
    first = tf.cumsum(count, exclusive=True)
    start = (tf.range(num_windows) - tf.gather(first, example)) * tf.gather(step, example)
    length = tf.maximum(tf.minimum(tf.gather(lengths, example) - start,
                                   tf.gather(window, example)), 0)
    pos = tf.range(width)[None, :]  # [1, width]
    inside = pos < length[:, None]  # [windows, width]
    piece = tf.where(inside, (tf.gather(row_splits, example) + start)[:, None] + pos, -1)
    # 100 x the reference score, in integers: exact comparisons.
    score = 100 * tf.minimum(pos, length[:, None] - 1 - pos) + length[:, None]
    total = row_splits[-1]
    segment = tf.where(inside, piece, total)  # positions past a window go to a spare segment
    best = tf.math.unsorted_segment_max(score, segment, total + 1)
    row = tf.broadcast_to(tf.range(num_windows)[:, None], tf.shape(piece))
    first_best = tf.math.unsorted_segment_min(
        tf.where(score == tf.gather(best, segment), row, num_windows), segment, total + 1)
    is_max = inside & (tf.gather(first_best, segment) == row)
    return Windows(example, start, length, count, piece, is_max)


def window_values(flat_values, windows, fill):
    """`flat_values` [pieces] at the positions of `windows`: ragged [windows, (length)]."""
    padded = tf.concat([tf.cast(flat_values, tf.int32), [fill]], 0)  # index -1 -> fill
    index = tf.where(windows.piece >= 0, windows.piece, tf.shape(padded)[0] - 1)
    return tf.RaggedTensor.from_tensor(tf.gather(padded, index), lengths=windows.length)


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
        self.doc_stride = None
        if self.shortest_window() is not None:
            self.set_doc_stride(info.get("doc_stride"))

    def shortest_window(self):
        """Pieces of text the shortest window holds, for tasks that cut windows (else None)."""
        return None

    def set_doc_stride(self, doc_stride=None):
        """Pieces between window starts (NER, QA); `None`: half the shortest window.

        Recorded in `self.info` (hence in an export's `export_info.json`).
        """
        if doc_stride is None:
            doc_stride = max(1, self.shortest_window() // 2)
        if isinstance(doc_stride, bool) or not isinstance(doc_stride, int) or doc_stride < 1:
            raise ValueError(f"`doc_stride` must be an integer >= 1, got {doc_stride!r}.")
        self.doc_stride = doc_stride
        self.info = {**self.info, "doc_stride": doc_stride}

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
