import keras
import numpy as np
import pytest

from tests.helpers import (
    BATCH,
    HIDDEN,
    SEQ,
    VOCAB,
    assert_all_close,
    encoder_batch,
    run_saved_model_test,
    run_serialization_test,
    tiny_config,
)
from tfbert.models import (
    BertClassifier,
    BertEncoder,
    BertPretrainer,
    BertSpanQA,
    BertTokenClassifier,
    bert_encoder,
    encoder_config,
)


@pytest.fixture(scope="module")
def encoder():
    return bert_encoder(tiny_config())


def test_encoder_outputs(encoder):
    out = encoder(encoder_batch())
    assert out["sequence_output"].shape == (BATCH, SEQ, HIDDEN)
    assert out["pooled_output"].shape == (BATCH, HIDDEN)
    # 5 embedding weights, 16 per block, 2 pooler.
    assert len(encoder.weights) == 5 + 2 * 16 + 2


def test_encoder_config_round_trip(encoder):
    assert encoder_config(encoder) == tiny_config()


def test_outputs_do_not_depend_on_padding_length(encoder):
    batch = encoder_batch()
    short = encoder(batch)
    longer = {k: np.pad(v, [(0, 0), (0, 5)]) for k, v in batch.items()}
    longer["token_ids"][:, SEQ:] = 17  # garbage under the padding
    long = encoder(longer)
    mask = batch["padding_mask"].astype(bool)
    np.testing.assert_allclose(np.asarray(long["sequence_output"])[:, :SEQ][mask],
                               np.asarray(short["sequence_output"])[mask], atol=1e-5)
    np.testing.assert_allclose(long["pooled_output"], short["pooled_output"], atol=1e-5)


def test_encoder_serialization(tmp_path):
    encoder = BertEncoder(vocab_size=VOCAB, hidden_size=16, num_layers=1, num_heads=4,
                          intermediate_size=29, activation="gelu_new", dropout=0.2,
                          attention_dropout=0.3, max_sequence_length=13, type_vocab_size=3,
                          layer_norm_epsilon=1e-7, initializer_range=0.05, name="enc")
    run_serialization_test(encoder, lambda m: m(encoder_batch()), tmp_path)


def test_encoder_saved_model(encoder, tmp_path):
    run_saved_model_test(encoder, encoder_batch(), tmp_path)


def test_encoder_rejects_indivisible_heads():
    with pytest.raises(ValueError, match=r"`hidden_size` \(12\) must be divisible by `num_heads` \(5\)"):
        BertEncoder(vocab_size=9, hidden_size=12, num_layers=1, num_heads=5, intermediate_size=7)


def _pretraining_batch():
    batch = encoder_batch()
    batch["masked_positions"] = np.array([[1, 2], [0, 3], [2, 1]], "int32")
    return batch


TASKS = [
    (lambda enc: BertPretrainer(enc), _pretraining_batch,
     {"mlm_logits": (BATCH, 2, VOCAB), "nsp_logits": (BATCH, 2)}),
    (lambda enc: BertClassifier(enc, num_classes=5, dropout=0.3), encoder_batch, (BATCH, 5)),
    (lambda enc: BertClassifier(enc, num_classes=1), encoder_batch, (BATCH, 1)),
    (lambda enc: BertTokenClassifier(enc, num_classes=7, dropout=0.2), encoder_batch,
     (BATCH, SEQ, 7)),
    (lambda enc: BertSpanQA(enc), encoder_batch,
     {"start_logits": (BATCH, SEQ), "end_logits": (BATCH, SEQ)}),
]


@pytest.mark.parametrize("make,batch,shapes", TASKS)
def test_task_models(make, batch, shapes, tmp_path):
    model = make(bert_encoder(tiny_config()))
    out = model(batch())
    assert keras.tree.map_structure(lambda t: tuple(t.shape), out) == shapes
    assert all(t.dtype == "float32" for t in keras.tree.flatten(out))
    run_serialization_test(model, lambda m: m(batch()), tmp_path)


def test_pretrainer_ties_mlm_weights_to_word_embeddings():
    encoder = bert_encoder(tiny_config())
    model = BertPretrainer(encoder)
    # Encoder + MLM transform (2) + LayerNorm (2) + output bias + NSP dense (2).
    assert len(model.weights) == len(encoder.weights) + 7
    embeddings = encoder.word_embeddings.embeddings
    batch = _pretraining_batch()
    before = np.asarray(model(batch)["mlm_logits"])
    embeddings.assign(embeddings * 2.0)
    assert not np.allclose(np.asarray(model(batch)["mlm_logits"]), before)


def test_span_qa_masks_padding():
    batch = encoder_batch()
    out = BertSpanQA(bert_encoder(tiny_config()))(batch)
    padded = batch["padding_mask"] == 0
    assert padded.any()
    assert np.all(np.asarray(out["start_logits"])[padded] <= -1e8)
    assert np.all(np.asarray(out["end_logits"])[~padded] > -1e8)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_keeps_float32_islands(policy):
    encoder = bert_encoder(tiny_config(), dtype=policy)
    model = BertPretrainer(encoder)
    block = encoder.transformer_layers[0]
    assert block.attention_layer_norm.compute_dtype == "float32"
    assert block.intermediate_dense.compute_dtype == policy.split("_")[1]
    assert BertEncoder.from_config(encoder.get_config()).transformer_layers[0] \
        .intermediate_dense.compute_dtype == policy.split("_")[1]
    # A heavily padded batch: rows with a single real token.
    batch = _pretraining_batch()
    batch["padding_mask"][1:, 1:] = 0
    out = model(batch)
    for name in ("mlm_logits", "nsp_logits"):
        assert out[name].dtype == "float32"
        assert np.all(np.isfinite(np.asarray(out[name])))
    model.compile(optimizer="adam", loss={
        "mlm_logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        "nsp_logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True)})
    history = model.fit(batch, {"mlm_logits": np.ones((BATCH, 2), "int32"),
                                "nsp_logits": np.zeros((BATCH,), "int32")}, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_mixed_precision_matches_float32():
    config = tiny_config(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    full = bert_encoder(config)
    half = bert_encoder(config, dtype="mixed_bfloat16")
    half.set_weights(full.get_weights())
    batch = encoder_batch()
    assert_all_close(half(batch)["pooled_output"], full(batch)["pooled_output"], atol=0.05)
