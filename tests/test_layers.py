import keras
import numpy as np
import pytest

from tests.helpers import (
    BATCH,
    HEADS,
    HIDDEN,
    INTERMEDIATE,
    SEQ,
    VOCAB,
    assert_all_close,
    run_layer_test,
    run_serialization_test,
)
from tfbert.layers import BertEmbeddings, BertPooler, MaskedLMHead, TransformerBlock

rng = np.random.default_rng(0)
TOKENS = rng.integers(0, VOCAB, (BATCH, SEQ)).astype("int32")
SEGMENTS = rng.integers(0, 2, (BATCH, SEQ)).astype("int32")
HIDDEN_STATES = rng.normal(size=(BATCH, SEQ, HIDDEN)).astype("float32")
MASK = np.ones((BATCH, 1, SEQ), bool)
MASK[0, :, 4:] = False


def test_embeddings():
    layer = BertEmbeddings(VOCAB, HIDDEN, max_sequence_length=11, type_vocab_size=3)
    run_layer_test(layer, [TOKENS, SEGMENTS], (BATCH, SEQ, HIDDEN), expected_num_weights=5)
    assert layer.position_embeddings.embeddings.shape == (11, HIDDEN)


def test_embeddings_serialization(tmp_path):
    layer = BertEmbeddings(VOCAB, HIDDEN, max_sequence_length=11, type_vocab_size=3,
                           dropout=0.3, layer_norm_epsilon=1e-6, initializer_range=0.05,
                           name="emb")
    clone = run_serialization_test(layer, lambda l: l(TOKENS, SEGMENTS), tmp_path)
    assert clone.get_config()["layer_norm_epsilon"] == 1e-6


def test_transformer_block():
    layer = TransformerBlock(num_heads=HEADS, intermediate_size=INTERMEDIATE)
    # 4 attention kernels + 4 biases, 2 dense kernels + 2 biases, 2 LayerNorms x 2.
    run_layer_test(layer, [HIDDEN_STATES, MASK], (BATCH, SEQ, HIDDEN), expected_num_weights=16)
    assert layer.self_attention.query_dense.kernel.shape == (HIDDEN, HEADS, HIDDEN // HEADS)
    assert layer.intermediate_dense.kernel.shape == (HIDDEN, INTERMEDIATE)


def test_transformer_block_serialization(tmp_path):
    layer = TransformerBlock(num_heads=4, intermediate_size=23, activation="relu",
                             dropout=0.2, attention_dropout=0.3, layer_norm_epsilon=1e-5,
                             initializer_range=0.1, name="block")
    run_serialization_test(layer, lambda l: l(HIDDEN_STATES, MASK), tmp_path)


def test_transformer_block_is_post_layer_norm():
    layer = TransformerBlock(num_heads=HEADS, intermediate_size=INTERMEDIATE, dropout=0.0,
                             attention_dropout=0.0)
    out = np.asarray(layer(HIDDEN_STATES, MASK))
    # A post-LN block ends with LayerNorm (gamma=1, beta=0): every row is standardised.
    np.testing.assert_allclose(out.mean(-1), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(-1), 1.0, atol=1e-3)


def test_masked_keys_get_no_attention():
    layer = TransformerBlock(num_heads=HEADS, intermediate_size=INTERMEDIATE)
    out = layer(HIDDEN_STATES, MASK)
    changed = HIDDEN_STATES.copy()
    changed[0, 4:] = 100.0  # padded keys of row 0
    assert_all_close(layer(changed, MASK)[0, :4], out[0, :4], atol=1e-5)


def test_transformer_block_rejects_bad_inputs():
    with pytest.raises(ValueError, match="`activation` must be one of"):
        TransformerBlock(num_heads=3, intermediate_size=5, activation="swish")
    with pytest.raises(ValueError, match=r"input width \(12\) must be divisible by `num_heads` \(5\)"):
        TransformerBlock(num_heads=5, intermediate_size=5)(HIDDEN_STATES, MASK)


def test_pooler():
    layer = BertPooler(HIDDEN)
    run_layer_test(layer, [HIDDEN_STATES], (BATCH, HIDDEN), expected_num_weights=2)
    out = layer(HIDDEN_STATES)
    expected = np.tanh(HIDDEN_STATES[:, 0] @ np.array(layer.dense.kernel) +
                       np.array(layer.dense.bias))
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_pooler_serialization(tmp_path):
    run_serialization_test(BertPooler(HIDDEN, initializer_range=0.5, name="p"),
                           lambda l: l(HIDDEN_STATES), tmp_path)


def test_masked_lm_head_ties_word_embeddings():
    embeddings = keras.layers.Embedding(VOCAB, HIDDEN)
    embeddings.build((None,))
    head = MaskedLMHead(embeddings, activation="relu", layer_norm_epsilon=1e-6)
    positions = np.array([[0, 6], [1, 1], [5, 2]], "int32")
    logits = head(HIDDEN_STATES, positions)
    assert logits.shape == (BATCH, 2, VOCAB) and logits.dtype == "float32"
    # The head adds transform, LayerNorm and bias; its vocab matrix is the embedding's own.
    own = [w for w in head.weights if w is not embeddings.embeddings]
    assert len(own) == len(head.weights) - 1
    assert sorted(w.path.split("/")[-1] for w in own) == [
        "beta", "bias", "gamma", "kernel", "output_bias"]
    gathered = HIDDEN_STATES[np.arange(BATCH)[:, None], positions]
    x = np.maximum(gathered @ np.array(head.transform.kernel) + np.array(head.transform.bias), 0)
    x = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-6)
    expected = x @ np.array(embeddings.embeddings).T
    np.testing.assert_allclose(logits, expected, atol=1e-4)
