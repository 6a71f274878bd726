"""`tf.data` pipelines from examples to encoder inputs, tokenizing inside the graph."""

import tensorflow as tf

from tfbert.tokenization import pack_inputs


def _pack(tokenizer, max_seq_length, first, second=None):
    return pack_inputs(
        tokenizer.tokenize(first), max_seq_length, tokenizer.cls_id, tokenizer.sep_id,
        tokenizer.pad_id, second=None if second is None else tokenizer.tokenize(second))


def classification_dataset(texts, labels, tokenizer, max_seq_length, batch_size,
                           text_pairs=None, shuffle=False, drop_remainder=False, seed=0):
    """Batches of `(encoder inputs, label)` from parallel lists.

    Args:
        texts: list of str.
        labels: list of int class ids (or floats for regression).
        tokenizer: `tfbert.tokenization.BertTokenizer`.
        text_pairs: optional list of str, the second segment.
        shuffle: shuffle examples each pass (training).
        drop_remainder: keep batch shapes static (training under XLA/TPU).
    """
    columns = {"text": tf.constant(texts, tf.string)}
    if text_pairs is not None:
        columns["text_pair"] = tf.constant(text_pairs, tf.string)
    ds = tf.data.Dataset.from_tensor_slices((columns, tf.constant(labels)))
    if shuffle:
        ds = ds.shuffle(len(texts), seed=seed, reshuffle_each_iteration=True)

    def encode(columns, label):
        return _pack(tokenizer, max_seq_length, columns["text"], columns.get("text_pair")), label

    return (ds.batch(batch_size, drop_remainder=drop_remainder)
            .map(encode, num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))
