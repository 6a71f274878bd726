"""Length bucketing of training batches: few fixed widths, no example lost or cut."""

import numpy as np
import tensorflow as tf

from tfbert.training.batching import length_bucketed, trim_to_width


def _examples(lengths, seq=128):
    mask = np.array([[1] * n + [0] * (seq - n) for n in lengths], np.int32)
    ids = np.where(mask == 1, np.arange(1, seq + 1)[None, :] + 1000 * np.arange(len(lengths))[:, None], 0)
    inputs = {"token_ids": ids.astype(np.int32), "segment_ids": np.zeros_like(mask),
              "padding_mask": mask}
    return tf.data.Dataset.from_tensor_slices((inputs, np.arange(len(lengths), dtype=np.int32)))


def test_batches_hold_similar_lengths_at_fixed_widths():
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 129, 200)
    seen = []
    for inputs, labels in length_bucketed(_examples(lengths), 8, 128, drop_remainder=False):
        width = inputs["token_ids"].shape[1]
        assert width in (32, 64, 96, 128)
        real = inputs["padding_mask"].numpy().sum(1)
        assert real.max() <= width and (width == 32 or real.max() > width - 32)
        # Every real token is kept: the example's ids are intact.
        for row, label in zip(inputs["token_ids"].numpy(), labels.numpy()):
            n = lengths[label]
            np.testing.assert_array_equal(row[:n], np.arange(1, n + 1) + 1000 * label)
        seen.extend(labels.numpy().tolist())
    assert sorted(seen) == list(range(200))


def test_drop_remainder_gives_full_batches_and_targets_follow():
    lengths = [5] * 10 + [100] * 7
    ds = _examples(lengths).map(lambda x, y: (x, tf.fill([128], y), tf.ones([128])))
    batches = list(length_bucketed(ds, 4, 128, drop_remainder=True))
    assert sorted(tuple(b[0]["token_ids"].shape) for b in batches) == [(4, 32), (4, 32), (4, 128)]
    for inputs, labels, weights in batches:
        assert labels.shape == inputs["token_ids"].shape == weights.shape


def test_trim_keeps_order_and_caps_at_max():
    inputs = {"padding_mask": tf.constant([[1] * 40 + [0] * 24, [1] * 3 + [0] * 61])}
    (trimmed, label) = trim_to_width((inputs, tf.constant([7, 8])), 64, 32)
    assert trimmed["padding_mask"].shape == (2, 64) and label.numpy().tolist() == [7, 8]
    (short,) = trim_to_width(({"padding_mask": inputs["padding_mask"][1:]},), 64, 32)
    assert short["padding_mask"].shape == (1, 32)
