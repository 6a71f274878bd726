"""Packing: [CLS]/[SEP] layout, longest-first truncation, offsets, Keras layer, TFLite ops."""

import numpy as np
import pytest
import tensorflow as tf

from tfbert.tokenization import pack_inputs, pack_offsets, trim_padding
from tfbert.tokenization.packing import truncate_lengths

CLS, SEP, PAD = 2, 3, 0


def reference_truncate(a, b, budget):
    """google-research/bert `_truncate_seq_pair` on lengths."""
    while a + b > budget:
        if a > b:
            a -= 1
        else:
            b -= 1
    return a, b


def reference_pack(first, second, length):
    if second is None:
        first = first[:length - 2]
        ids = [CLS] + first + [SEP]
        segments = [0] * len(ids)
    else:
        a, b = reference_truncate(len(first), len(second), length - 3)
        ids = [CLS] + first[:a] + [SEP] + second[:b] + [SEP]
        segments = [0] * (a + 2) + [1] * (b + 1)
    pad = length - len(ids)
    return ids + [PAD] * pad, segments + [0] * pad, [1] * len(ids) + [0] * pad


def test_truncate_lengths_matches_reference():
    a, b = np.meshgrid(np.arange(12), np.arange(12))
    a, b = a.ravel().astype("int32"), b.ravel().astype("int32")
    for budget in (1, 4, 7, 8):
        got_a, got_b = truncate_lengths(tf.constant(a), tf.constant(b), budget)
        expected = [reference_truncate(x, y, budget) for x, y in zip(a, b)]
        assert list(zip(got_a.numpy(), got_b.numpy())) == expected


@pytest.mark.parametrize("pair", [False, True])
def test_pack_matches_reference(pair):
    rng = np.random.default_rng(0)
    length = 7
    firsts = [list(rng.integers(5, 99, n)) for n in (0, 1, 3, 5, 9, 2)]
    seconds = [list(rng.integers(5, 99, n)) for n in (0, 6, 1, 5, 2, 9)] if pair else None
    packed = pack_inputs(tf.ragged.constant(firsts, dtype=tf.int32), length, CLS, SEP, PAD,
                         second=tf.ragged.constant(seconds, dtype=tf.int32) if pair else None)
    for i, first in enumerate(firsts):
        ids, segments, mask = reference_pack([int(x) for x in first],
                                             [int(x) for x in seconds[i]] if pair else None,
                                             length)
        assert packed["token_ids"][i].numpy().tolist() == ids
        assert packed["segment_ids"][i].numpy().tolist() == segments
        assert packed["padding_mask"][i].numpy().tolist() == mask
    assert all(v.dtype == tf.int32 and v.shape == (6, length) for v in packed.values())


def test_pack_offsets_follow_pieces():
    starts = tf.ragged.constant([[0, 4, 9], [0]], dtype=tf.int32)
    ends = tf.ragged.constant([[3, 8, 12], [5]], dtype=tf.int32)
    packed_starts, packed_ends = pack_offsets(starts, ends, 5)
    assert packed_starts.numpy().tolist() == [[-1, 0, 4, 9, -1], [-1, 0, -1, -1, -1]]
    assert packed_ends.numpy().tolist() == [[-1, 3, 8, 12, -1], [-1, 5, -1, -1, -1]]


def test_bad_max_seq_length():
    with pytest.raises(ValueError, match="`max_seq_length` \\(2\\) must be at least 3"):
        pack_inputs(tf.ragged.constant([[1]]), 2, CLS, SEP, PAD,
                    second=tf.ragged.constant([[1]]))


@pytest.mark.slow
def test_fast_tokenizer_and_packer_run_in_tflite(tmp_path):
    """Fast normalizer + dense packer convert with TFLite builtins + tf-text custom ops only."""
    import tensorflow_text as tf_text
    from ai_edge_litert.interpreter import InterpreterWithCustomOps

    from tfbert.tokenization import BertTokenizer
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world",
                               ",", "北", "京", "##s"]) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(str(path), normalizer="fast")

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve(text):
        return pack_inputs(tokenizer.tokenize(text), 8, tokenizer.cls_id, tokenizer.sep_id,
                           tokenizer.pad_id, second=tokenizer.tokenize(text))

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [serve.get_concrete_function()], tokenizer)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.allow_custom_ops = True
    interpreter = InterpreterWithCustomOps(
        model_content=converter.convert(),
        custom_op_registerers=tf_text.tflite_registrar.SELECT_TFTEXT_OPS)
    runner = interpreter.get_signature_runner()
    texts = np.array([b"Hello, worlds", "北京 x".encode()], dtype=object)
    got = runner(text=texts)
    expected = serve(tf.constant(texts))
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key].numpy())


def test_trim_padding_keeps_the_columns_rows_need():
    ragged = tf.ragged.constant([[5] * 3, [6] * 9], dtype=tf.int32)
    packed = pack_inputs(ragged, 32, cls_id=2, sep_id=3, pad_id=0)
    trimmed = trim_padding(packed)  # longest row: 11 tokens -> 16 columns
    for name in packed:
        assert trimmed[name].shape == (2, 16)
        np.testing.assert_array_equal(trimmed[name], packed[name][:, :16])
        assert not packed[name][:, 16:].numpy().any()
    assert trim_padding(pack_inputs(ragged, 12, 2, 3, 0))["token_ids"].shape == (2, 12)  # cap
    empty = pack_inputs(tf.ragged.constant([], dtype=tf.int32, ragged_rank=1, inner_shape=()),
                        32, 2, 3, 0)
    assert trim_padding(empty)["token_ids"].shape == (0, 8)
