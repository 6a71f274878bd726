import json

import pytest

from tfbert import BertConfig


@pytest.mark.parametrize("name,layers,hidden", [
    ("tiny", 2, 128), ("mini", 4, 256), ("small", 4, 512), ("medium", 8, 512),
    ("base", 12, 768), ("large", 24, 1024)])
def test_presets(name, layers, hidden):
    config = BertConfig.preset(name)
    assert (config.num_hidden_layers, config.hidden_size) == (layers, hidden)
    assert config.head_size == 64
    assert config.intermediate_size == 4 * hidden


def test_unknown_preset():
    with pytest.raises(ValueError, match="Unknown preset 'huge'"):
        BertConfig.preset("huge")


def test_indivisible_heads_names_both_fields():
    with pytest.raises(ValueError, match=r"`hidden_size` \(768\) .* `num_attention_heads` \(7\)"):
        BertConfig(num_attention_heads=7)


@pytest.mark.parametrize("field,value", [
    ("vocab_size", 0), ("num_hidden_layers", -1), ("hidden_act", "swish"),
    ("hidden_dropout_prob", 1.0), ("layer_norm_eps", 0.0), ("type_vocab_size", 1.5)])
def test_invalid_field(field, value):
    with pytest.raises(ValueError, match=field):
        BertConfig(**{field: value})


def test_original_bert_config(tmp_path):
    original = {"attention_probs_dropout_prob": 0.1, "hidden_act": "gelu",
                "hidden_dropout_prob": 0.1, "hidden_size": 768, "initializer_range": 0.02,
                "intermediate_size": 3072, "max_position_embeddings": 512,
                "num_attention_heads": 12, "num_hidden_layers": 12, "type_vocab_size": 2,
                "vocab_size": 21128}
    path = tmp_path / "bert_config.json"
    path.write_text(json.dumps(original))
    config = BertConfig.from_json(str(path))
    assert config.vocab_size == 21128 and config.layer_norm_eps == 1e-12


def test_hugging_face_config(tmp_path):
    hf = {"architectures": ["BertModel"], "model_type": "bert", "hidden_size": 384,
          "num_hidden_layers": 6, "num_attention_heads": 12, "intermediate_size": 1536,
          "layer_norm_eps": 1e-12, "position_embedding_type": "absolute",
          "transformers_version": "4.8.2", "pad_token_id": 0, "use_cache": True,
          "gradient_checkpointing": False}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(hf))
    config = BertConfig.from_json(str(path))
    assert (config.hidden_size, config.num_hidden_layers, config.head_size) == (384, 6, 32)


def test_unknown_field_names_file_and_key(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"hidden_size": 768, "rotary_dim": 64}))
    with pytest.raises(ValueError, match=r"config.json: unknown config field\(s\) \['rotary_dim'\]"):
        BertConfig.from_json(str(path))


def test_other_architecture_rejected(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "roberta"}))
    with pytest.raises(ValueError, match="model_type"):
        BertConfig.from_json(str(path))
    path.write_text(json.dumps({"position_embedding_type": "relative_key"}))
    with pytest.raises(ValueError, match="position_embedding_type"):
        BertConfig.from_json(str(path))


def test_invalid_json_names_line(tmp_path):
    path = tmp_path / "bert_config.json"
    path.write_text('{\n  "hidden_size": 768,\n  oops\n}')
    with pytest.raises(ValueError, match=r"bert_config.json:3: invalid JSON"):
        BertConfig.from_json(str(path))


def test_missing_file():
    with pytest.raises(ValueError, match="Config file not found: /nonexistent.json"):
        BertConfig.from_json("/nonexistent.json")


def test_json_round_trip(tmp_path):
    config = BertConfig.preset("mini", vocab_size=8000, hidden_act="relu")
    config.to_json(str(tmp_path / "c.json"))
    assert BertConfig.from_json(str(tmp_path / "c.json")) == config
