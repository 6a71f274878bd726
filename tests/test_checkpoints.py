"""Checkpoint import: real-checkpoint parity, the three formats' round trips, every error."""

import importlib.util
import json
import logging
import os

import numpy as np
import pytest
import tensorflow as tf
from safetensors.numpy import save_file

from apps.convert_checkpoint import convert_checkpoint
from tests.helpers import assert_all_close, encoder_batch, minilm_dir, tiny_config
from tfbert.checkpoints import (
    detect_format,
    load_encoder,
    load_huggingface,
    load_native,
    load_original,
    save_encoder,
)
from tfbert.checkpoints.assign import encoder_tensors
from tfbert.models import bert_encoder

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "minilm_reference.npz")


# --- Helpers: a random tiny encoder and writers of the three formats ------------------------

@pytest.fixture(scope="module")
def source():
    """A tiny odd-sized encoder whose every weight (biases, LayerNorm too) is random."""
    encoder = bert_encoder(tiny_config(), name="source")
    rng = np.random.default_rng(0)
    for w in encoder.weights:
        w.assign(rng.normal(0.0, 0.5, w.shape).astype("float32"))
    return encoder


def outputs(encoder):
    return encoder(encoder_batch())


def write_vocab(path, size):
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(f"token{i}\n" for i in range(size))
    return path


def original_config(config):
    """A `bert_config.json` as google-research/bert writes it (no `layer_norm_eps`)."""
    values = config.to_dict()
    del values["layer_norm_eps"]
    return values


def write_original(encoder, directory, extra=None, drop=(), vocab_size=None):
    """Writes a google-research/bert directory with a TF1 `Saver` (graph variable names).

    Adds an Adam slot, `global_step` and the `cls/` pretraining heads, as a pretraining
    checkpoint has them; `extra` adds or replaces variables, `drop` removes some.
    """
    os.makedirs(directory, exist_ok=True)
    config = tiny_config()
    with open(os.path.join(directory, "bert_config.json"), "w") as f:
        json.dump(original_config(config), f)
    write_vocab(os.path.join(directory, "vocab.txt"), vocab_size or config.vocab_size)
    h = config.hidden_size
    rng = np.random.default_rng(1)
    values = {f"bert/{name}": value for name, value in encoder_tensors(encoder).items()}
    heads = {
        "cls/predictions/transform/dense/kernel": rng.normal(size=(h, h)),
        "cls/predictions/transform/dense/bias": rng.normal(size=(h,)),
        "cls/predictions/transform/LayerNorm/gamma": rng.normal(size=(h,)),
        "cls/predictions/transform/LayerNorm/beta": rng.normal(size=(h,)),
        "cls/predictions/output_bias": rng.normal(size=(config.vocab_size,)),
        "cls/seq_relationship/output_weights": rng.normal(size=(2, h)),
        "cls/seq_relationship/output_bias": rng.normal(size=(2,)),
    }
    values.update({name: value.astype("float32") for name, value in heads.items()})
    values["bert/embeddings/word_embeddings/adam_m"] = np.ones((config.vocab_size, h), "float32")
    values.update(extra or {})
    for name in drop:
        del values[name]
    with tf.Graph().as_default():
        variables = [tf.compat.v1.Variable(value, name=name) for name, value in values.items()]
        variables.append(tf.compat.v1.train.get_or_create_global_step())
        saver = tf.compat.v1.train.Saver(variables)
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, os.path.join(directory, "bert_model.ckpt"),
                       write_meta_graph=False)
    return heads


# Canonical suffix -> `transformers.BertModel` suffix, spelled out independently of the reader.
_HF_LAYER = {
    "attention/self/query/kernel": "attention.self.query.weight",
    "attention/self/query/bias": "attention.self.query.bias",
    "attention/self/key/kernel": "attention.self.key.weight",
    "attention/self/key/bias": "attention.self.key.bias",
    "attention/self/value/kernel": "attention.self.value.weight",
    "attention/self/value/bias": "attention.self.value.bias",
    "attention/output/dense/kernel": "attention.output.dense.weight",
    "attention/output/dense/bias": "attention.output.dense.bias",
    "attention/output/LayerNorm/gamma": "attention.output.LayerNorm.weight",
    "attention/output/LayerNorm/beta": "attention.output.LayerNorm.bias",
    "intermediate/dense/kernel": "intermediate.dense.weight",
    "intermediate/dense/bias": "intermediate.dense.bias",
    "output/dense/kernel": "output.dense.weight",
    "output/dense/bias": "output.dense.bias",
    "output/LayerNorm/gamma": "output.LayerNorm.weight",
    "output/LayerNorm/beta": "output.LayerNorm.bias",
}
_HF_OTHER = {
    "embeddings/word_embeddings": "embeddings.word_embeddings.weight",
    "embeddings/position_embeddings": "embeddings.position_embeddings.weight",
    "embeddings/token_type_embeddings": "embeddings.token_type_embeddings.weight",
    "embeddings/LayerNorm/gamma": "embeddings.LayerNorm.weight",
    "embeddings/LayerNorm/beta": "embeddings.LayerNorm.bias",
    "pooler/dense/kernel": "pooler.dense.weight",
    "pooler/dense/bias": "pooler.dense.bias",
}


def hf_state(encoder, prefix=""):
    """The encoder's weights as a `BertModel` state dict ([out, in] Linear weights)."""
    state = {}
    for name, value in encoder_tensors(encoder).items():
        if name.startswith("encoder/layer_"):
            layer, suffix = name[len("encoder/layer_"):].split("/", 1)
            hf_name = f"encoder.layer.{layer}.{_HF_LAYER[suffix]}"
        else:
            hf_name = _HF_OTHER[name]
        if name.endswith("kernel"):
            value = value.T
        state[prefix + hf_name] = np.ascontiguousarray(value)
    return state


def write_hf(directory, state, config=None, vocab_size=None):
    os.makedirs(directory, exist_ok=True)
    config = config or tiny_config()
    values = dict(config.to_dict(), model_type="bert", architectures=["BertModel"])
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(values, f)
    write_vocab(os.path.join(directory, "vocab.txt"), vocab_size or config.vocab_size)
    save_file(state, os.path.join(directory, "model.safetensors"))
    return directory


# --- Real checkpoint parity ------------------------------------------------------------------


def test_minilm_matches_transformers_reference():
    """Hugging Face `BertModel` outputs (tests/fixtures/make_minilm_reference.py) reproduced.

    The checkpoint holds pooler weights, so `pooled_output` is compared too.
    """
    encoder = load_encoder(minilm_dir())
    reference = np.load(FIXTURE)
    inputs = {name: reference[name] for name in ("token_ids", "segment_ids", "padding_mask")}
    assert inputs["padding_mask"].min() == 0  # the batch has padding
    result = encoder(inputs)
    real = reference["padding_mask"].astype(bool)
    diff = np.abs(np.asarray(result["sequence_output"]) - reference["sequence_output"])
    assert diff[real].max() < 1e-4
    assert diff[~real].max() < 1e-4  # padded positions, as the reference computes them
    np.testing.assert_allclose(result["pooled_output"], reference["pooled_output"], atol=1e-4,
                               rtol=0)


# --- Original (TF1) format --------------------------------------------------------------------

def test_original_round_trip(source, tmp_path):
    heads = write_original(source, tmp_path)
    names = {name for name, _ in tf.train.list_variables(str(tmp_path / "bert_model.ckpt"))}
    # The names google-research/bert's modeling.py gives layer 0 (not derived from our table).
    for name in ("bert/embeddings/word_embeddings", "bert/embeddings/token_type_embeddings",
                 "bert/embeddings/LayerNorm/gamma",
                 "bert/encoder/layer_0/attention/self/query/kernel",
                 "bert/encoder/layer_0/attention/output/dense/kernel",
                 "bert/encoder/layer_0/attention/output/LayerNorm/beta",
                 "bert/encoder/layer_0/intermediate/dense/bias",
                 "bert/encoder/layer_0/output/dense/kernel",
                 "bert/encoder/layer_0/output/LayerNorm/gamma", "bert/pooler/dense/kernel"):
        assert name in names
    assert detect_format(str(tmp_path)) == "original"
    encoder, loaded_heads = load_original(str(tmp_path))
    assert_all_close(outputs(encoder), outputs(source))
    assert sorted(loaded_heads) == sorted(heads)
    for name, value in heads.items():
        np.testing.assert_array_equal(loaded_heads[name], value.astype("float32"))
    assert_all_close(outputs(load_encoder(str(tmp_path))), outputs(source))


def test_original_shape_mismatch_names_variable(source, tmp_path):
    name = "bert/encoder/layer_1/intermediate/dense/kernel"
    write_original(source, tmp_path, extra={name: np.zeros((12, 36), "float32")})
    with pytest.raises(ValueError, match=r"layer_1/intermediate/dense/kernel` has shape "
                                         r"\(12, 36\).*bert_config.json implies \(12, 37\)"):
        load_original(str(tmp_path))


def test_original_missing_variable(source, tmp_path):
    write_original(source, tmp_path, drop=["bert/encoder/layer_0/output/LayerNorm/beta"])
    with pytest.raises(ValueError, match=r"bert_model.ckpt: 1 variable\(s\) missing.*"
                                         r"encoder/layer_0/output/LayerNorm/beta"):
        load_original(str(tmp_path))


def test_original_extra_layer_is_rejected(source, tmp_path):
    extra = {"bert/encoder/layer_2/output/dense/bias": np.zeros((12,), "float32")}
    write_original(source, tmp_path, extra=extra)
    with pytest.raises(ValueError, match=r"unexpected tensor.*2-layer.*layer_2/output/dense"):
        load_original(str(tmp_path))


def test_original_missing_files(tmp_path):
    (tmp_path / "bert_config.json").write_text(json.dumps(original_config(tiny_config())))
    with pytest.raises(ValueError, match=r"missing \['bert_model.ckpt.index'\]"):
        load_original(str(tmp_path))


def test_original_index_without_data(source, tmp_path):
    write_original(source, tmp_path)
    for name in os.listdir(tmp_path):
        if ".data-" in name:
            os.remove(tmp_path / name)
    with pytest.raises(ValueError, match=r"bert_model.ckpt: cannot read the checkpoint"):
        load_original(str(tmp_path))


def test_original_vocab_size_mismatch(source, tmp_path):
    write_original(source, tmp_path, vocab_size=98)
    with pytest.raises(ValueError, match=r"vocab.txt: 98 lines, but `vocab_size` in "
                                         r".*bert_config.json is 99"):
        load_encoder(str(tmp_path))


# --- Hugging Face format ---------------------------------------------------------------------

@pytest.mark.parametrize("prefix", ["", "bert."])
def test_huggingface_round_trip(source, tmp_path, prefix):
    state = hf_state(source, prefix)
    # What `BertForPreTraining` adds beside the encoder, and a buffer some versions save.
    state[prefix + "embeddings.position_ids"] = np.arange(16, dtype="int64")[None]
    if prefix:
        state["cls.predictions.bias"] = np.zeros((99,), "float32")
    write_hf(tmp_path, state)
    assert detect_format(str(tmp_path)) == "huggingface"
    assert_all_close(outputs(load_encoder(str(tmp_path))), outputs(source))


def test_huggingface_old_layer_norm_names(source, tmp_path):
    state = {name.replace("LayerNorm.weight", "LayerNorm.gamma")
             .replace("LayerNorm.bias", "LayerNorm.beta"): value
             for name, value in hf_state(source).items()}
    write_hf(tmp_path, state)
    assert_all_close(outputs(load_huggingface(str(tmp_path))), outputs(source))


def test_huggingface_without_pooler_loads_sequence_output(source, tmp_path, caplog):
    state = {k: v for k, v in hf_state(source).items() if not k.startswith("pooler.")}
    write_hf(tmp_path, state)
    with caplog.at_level(logging.WARNING):
        encoder = load_huggingface(str(tmp_path))
    assert "no pooler weights" in caplog.text
    assert_all_close(outputs(encoder)["sequence_output"], outputs(source)["sequence_output"])


def test_huggingface_incomplete_pooler(source, tmp_path):
    state = {k: v for k, v in hf_state(source).items() if k != "pooler.dense.bias"}
    write_hf(tmp_path, state)
    with pytest.raises(ValueError, match=r"pooler is incomplete.*pooler/dense/bias"):
        load_huggingface(str(tmp_path))


def test_huggingface_shape_mismatch_names_file_and_shapes(source, tmp_path):
    write_hf(tmp_path, hf_state(source), config=tiny_config(intermediate_size=36))
    with pytest.raises(ValueError, match=r"model.safetensors: `encoder.layer.0.intermediate."
                                         r"dense.weight` has shape \(37, 12\), but the config "
                                         r"in .*config.json implies \(36, 12\)"):
        load_huggingface(str(tmp_path))


def test_huggingface_missing_variable(source, tmp_path):
    state = hf_state(source)
    del state["encoder.layer.1.attention.self.key.bias"]
    write_hf(tmp_path, state)
    with pytest.raises(ValueError, match=r"model.safetensors: 1 variable\(s\) missing.*"
                                         r"encoder/layer_1/attention/self/key/bias"):
        load_huggingface(str(tmp_path))


def test_huggingface_vocab_size_mismatch(source, tmp_path):
    write_hf(tmp_path, hf_state(source), vocab_size=100)
    with pytest.raises(ValueError, match=r"vocab.txt: 100 lines, but `vocab_size` in "
                                         r".*config.json is 99"):
        load_huggingface(str(tmp_path))


def test_huggingface_missing_weights_file(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(tiny_config().to_dict()))
    with pytest.raises(ValueError, match=r"missing the weights; expected model.safetensors"):
        load_huggingface(str(tmp_path))


def test_huggingface_missing_config(tmp_path):
    with pytest.raises(ValueError, match=r"missing \['config.json'\]"):
        load_huggingface(str(tmp_path))


def _write_pickle_dir(directory, source):
    (directory / "config.json").write_text(json.dumps(tiny_config().to_dict()))
    write_vocab(directory / "vocab.txt", 99)
    if importlib.util.find_spec("torch") is not None:
        import torch
        torch.save({k: torch.from_numpy(v) for k, v in hf_state(source).items()},
                   directory / "pytorch_model.bin")
    else:
        (directory / "pytorch_model.bin").write_bytes(b"not read without torch")


def test_huggingface_pickle_needs_explicit_flag(source, tmp_path):
    _write_pickle_dir(tmp_path, source)
    assert detect_format(str(tmp_path)) == "huggingface_pickle"
    with pytest.raises(ValueError, match=r"pytorch_model.bin is a pickle.*allow_pickle=True"):
        load_encoder(str(tmp_path))


def test_huggingface_pickle_with_flag(source, tmp_path):
    _write_pickle_dir(tmp_path, source)
    if importlib.util.find_spec("torch") is None:
        with pytest.raises(ImportError, match=r"pytorch_model.bin is a PyTorch pickle.*torch"):
            load_encoder(str(tmp_path), allow_pickle=True)
    else:
        encoder = load_encoder(str(tmp_path), allow_pickle=True)
        assert_all_close(outputs(encoder), outputs(source))


# --- The project's format, detection, conversion ---------------------------------------------

def test_native_round_trip(source, tmp_path):
    vocab = write_vocab(tmp_path / "vocab_in.txt", 99)
    files = save_encoder(source, str(vocab), str(tmp_path / "out"))
    assert sorted(os.listdir(tmp_path / "out")) == [
        "bert_config.json", "encoder.weights.h5", "vocab.txt", "vocab_info.json"]
    # A vocabulary without a record is read with the exact normalizer; the copy says so.
    assert json.load(open(files["vocab_info"]))["normalizer"] == "exact"
    assert files["weights"].endswith("encoder.weights.h5")
    assert detect_format(str(tmp_path / "out")) == "native"
    encoder = load_encoder(str(tmp_path / "out"))
    assert encoder.get_config()["intermediate_size"] == 37
    assert_all_close(outputs(encoder), outputs(source))
    bfloat16 = load_encoder(str(tmp_path / "out"), dtype="mixed_bfloat16")
    assert bfloat16.embeddings.dtype_policy.name == "mixed_bfloat16"
    assert outputs(bfloat16)["sequence_output"].dtype == "bfloat16"


def test_native_save_rejects_wrong_vocab(source, tmp_path):
    vocab = write_vocab(tmp_path / "vocab.txt", 7)
    with pytest.raises(ValueError, match=r"vocab.txt: 7 lines, but `vocab_size` in the "
                                         r"encoder 'source' is 99"):
        save_encoder(source, str(vocab), str(tmp_path / "out"))


def test_native_shape_mismatch_names_variable(source, tmp_path):
    save_encoder(source, str(write_vocab(tmp_path / "v.txt", 99)), str(tmp_path / "out"))
    tiny_config(intermediate_size=36).to_json(str(tmp_path / "out" / "bert_config.json"))
    with pytest.raises(ValueError, match=r"encoder.weights.h5: `.*intermediate_dense/vars/0` "
                                         r"has shape \(12, 37\), but the config in "
                                         r".*bert_config.json implies \(12, 36\)"):
        load_native(str(tmp_path / "out"))


def test_native_layer_count_mismatch(source, tmp_path):
    save_encoder(source, str(write_vocab(tmp_path / "v.txt", 99)), str(tmp_path / "out"))
    tiny_config(num_hidden_layers=3).to_json(str(tmp_path / "out" / "bert_config.json"))
    with pytest.raises(ValueError, match=r"encoder.weights.h5: does not fit the 3-layer "
                                         r"encoder.*missing variable"):
        load_native(str(tmp_path / "out"))


def test_native_missing_vocab(source, tmp_path):
    save_encoder(source, str(write_vocab(tmp_path / "v.txt", 99)), str(tmp_path / "out"))
    os.remove(tmp_path / "out" / "vocab.txt")
    with pytest.raises(ValueError, match=r"missing \['vocab.txt'\]; expected \['bert_config"
                                         r".json', 'encoder.weights.h5', 'vocab.txt'\]"):
        load_native(str(tmp_path / "out"))


def test_missing_directory():
    with pytest.raises(ValueError, match=r"Checkpoint directory not found: '/nonexistent/x'"):
        load_encoder("/nonexistent/x")
    with pytest.raises(ValueError, match=r"not found: '/nonexistent/x'; expected it to hold"):
        load_native("/nonexistent/x")


def test_unknown_directory_lists_expected_files(tmp_path):
    (tmp_path / "vocab.txt").write_text("a\n")
    with pytest.raises(ValueError, match=r"no known checkpoint format; expected one of "
                                         r"\(native: bert_config.json \+ encoder.weights.h5; "
                                         r"original: .*found \['vocab.txt'\]"):
        load_encoder(str(tmp_path))


def test_convert_checkpoint_original_to_native(source, tmp_path, capsys):
    write_original(source, tmp_path / "tf1")
    summary = convert_checkpoint(str(tmp_path / "tf1"), str(tmp_path / "native"))
    assert summary["format"] == "original"
    assert summary["num_layers"] == 2 and summary["vocab_size"] == 99
    assert summary["parameters"] == source.count_params()
    assert "read original checkpoint" in capsys.readouterr().out
    assert detect_format(str(tmp_path / "native")) == "native"
    assert_all_close(outputs(load_encoder(str(tmp_path / "native"))), outputs(source))


def test_convert_checkpoint_needs_vocab(source, tmp_path):
    write_hf(tmp_path, hf_state(source))
    os.remove(tmp_path / "vocab.txt")
    with pytest.raises(ValueError, match=r"missing \['vocab.txt'\]"):
        convert_checkpoint(str(tmp_path), str(tmp_path / "out"))
