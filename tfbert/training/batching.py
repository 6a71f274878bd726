"""Length bucketing: batches of examples of similar length, padded to one of a few widths.

Reviews and sentences vary widely in length; padding every batch to `max_seq_length` spends
most of a step on padding. Bucketing by length (`tf.data`'s `bucket_by_sequence_length`) and
trimming each batch to its bucket's width keeps the set of shapes small and fixed (multiples
of `width` up to `max_seq_length`), so XLA and TPUs compile a bounded number of programs.
"""

import tensorflow as tf


def trim_to_width(element, max_seq_length, width):
    """Cuts every [batch, max_seq_length, ...] tensor of `element` to the batch's longest
    `padding_mask` row rounded up to a multiple of `width` (at most `max_seq_length`)."""
    mask = element[0]["padding_mask"]
    longest = tf.maximum(tf.reduce_max(tf.reduce_sum(mask, axis=1)), 1)
    cut = tf.minimum((longest + width - 1) // width * width, max_seq_length)
    return tf.nest.map_structure(
        lambda t: t[:, :cut] if t.shape.rank >= 2 and t.shape[1] == max_seq_length else t,
        element)


def length_bucketed(dataset, batch_size, max_seq_length, drop_remainder=True, width=32):
    """Batches `dataset` by length: elements `(inputs, *targets)` of single examples, `inputs`
    a dict with `padding_mask` [max_seq_length]; targets may be per position or per example.

    Returns batches whose sequence tensors are trimmed to a multiple of `width`.
    """
    widths = list(range(width, max_seq_length, width))
    return dataset.bucket_by_sequence_length(
        # A sequence of length L <= w falls in the bucket of width w.
        element_length_func=lambda inputs, *_: tf.reduce_sum(inputs["padding_mask"]),
        bucket_boundaries=[w + 1 for w in widths],
        bucket_batch_sizes=[batch_size] * (len(widths) + 1),
        drop_remainder=drop_remainder,
    ).map(lambda *element: trim_to_width(element, max_seq_length, width),
          num_parallel_calls=tf.data.AUTOTUNE)
