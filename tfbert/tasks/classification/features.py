"""`tf.data` pipelines from text examples to encoder inputs, tokenizing inside the graph."""

import tensorflow as tf

from tfbert.tokenization import pack_inputs
from tfbert.training.batching import length_bucketed, trim_to_width


def _pack(tokenizer, max_seq_length, first, second=None):
    return pack_inputs(
        tokenizer.tokenize(first), max_seq_length, tokenizer.cls_id, tokenizer.sep_id,
        tokenizer.pad_id, second=None if second is None else tokenizer.tokenize(second))


def classification_dataset(texts, labels, tokenizer, max_seq_length, batch_size,
                           text_pairs=None, shuffle=False, drop_remainder=False, seed=0,
                           bucket_width=None):
    """Batches of `(encoder inputs, label)` from parallel lists, tokenized once and cached.

    Args:
        texts: list of str.
        labels: list of int class ids (or floats for regression).
        tokenizer: `tfbert.tokenization.BertTokenizer`.
        text_pairs: optional list of str, the second segment.
        shuffle: shuffle examples each pass (training).
        drop_remainder: keep batch sizes static (training under XLA/TPU).
        bucket_width: int or None. With `shuffle`, batches hold examples of similar length
            padded to a multiple of it (`length_bucketed`); without, each batch (in order)
            is trimmed to its longest example. None pads everything to `max_seq_length`.
    """
    columns = {"text": tf.constant(texts, tf.string)}
    if text_pairs is not None:
        columns["text_pair"] = tf.constant(text_pairs, tf.string)

    def encode(columns, label):
        return _pack(tokenizer, max_seq_length, columns["text"], columns.get("text_pair")), label

    examples = (tf.data.Dataset.from_tensor_slices((columns, tf.constant(labels)))
                .batch(1024).map(encode, num_parallel_calls=tf.data.AUTOTUNE)
                .unbatch().cache())
    if shuffle:
        examples = examples.shuffle(len(texts), seed=seed, reshuffle_each_iteration=True)
    if bucket_width and shuffle:
        batches = length_bucketed(examples, batch_size, max_seq_length, drop_remainder,
                                  bucket_width)
    else:
        batches = examples.batch(batch_size, drop_remainder=drop_remainder)
        if bucket_width:
            batches = batches.map(
                lambda *element: trim_to_width(element, max_seq_length, bucket_width))
    return batches.prefetch(tf.data.AUTOTUNE)
