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
    """Batches of `(encoder inputs, label)` from parallel lists; training examples are
    tokenized once and cached.

    Args:
        texts: list of str.
        labels: list of int class ids (or floats for regression).
        tokenizer: `tfbert.tokenization.BertTokenizer`.
        text_pairs: optional list of str, the second segment.
        shuffle: shuffle examples each pass (training).
        drop_remainder: keep batch sizes static (training under XLA/TPU).
        bucket_width: int or None. With `shuffle`, batches hold examples of similar length
            padded to a multiple of it (`length_bucketed`); without, each batch (in order)
            is cut to its longest example rounded up to a multiple of it. None pads
            everything to `max_seq_length`.
    """
    columns = {"text": tf.constant(texts, tf.string)}
    if text_pairs is not None:
        columns["text_pair"] = tf.constant(text_pairs, tf.string)

    def encode(columns, label):
        return _pack(tokenizer, max_seq_length, columns["text"], columns.get("text_pair")), label

    examples = tf.data.Dataset.from_tensor_slices((columns, tf.constant(labels)))
    if not shuffle:  # evaluation and prediction: in order, each batch cut to its longest
        batches = examples.batch(batch_size, drop_remainder=drop_remainder).map(
            encode, num_parallel_calls=tf.data.AUTOTUNE)
        if bucket_width:
            batches = batches.map(
                lambda *element: trim_to_width(element, max_seq_length, bucket_width))
        return batches.prefetch(tf.data.AUTOTUNE)
    # Training: tokenize once, keep the packed examples, reshuffle them every pass; repeated
    # before bucketing, so a bucket's remainder joins the next pass instead of being dropped.
    examples = (examples.batch(1024).map(encode, num_parallel_calls=tf.data.AUTOTUNE)
                .unbatch().cache()
                .shuffle(len(texts), seed=seed, reshuffle_each_iteration=True).repeat())
    if bucket_width:
        batches = length_bucketed(examples, batch_size, max_seq_length, drop_remainder,
                                  bucket_width)
    else:
        batches = examples.batch(batch_size, drop_remainder=drop_remainder)
    return batches.prefetch(tf.data.AUTOTUNE)
