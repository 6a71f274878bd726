"""`BertConfig`: the hyper-parameters of a BERT encoder, as in `bert_config.json`."""

import dataclasses
import json

import tensorflow as tf

_ACTIVATIONS = ("gelu", "gelu_new", "relu")

# Keys a Hugging Face `config.json` carries that say nothing about the encoder's shape.
_HF_BOOKKEEPING_KEYS = frozenset({
    "architectures", "model_type", "transformers_version", "torch_dtype", "dtype",
    "gradient_checkpointing", "use_cache", "classifier_dropout", "pad_token_id",
    "bos_token_id", "eos_token_id", "id2label", "label2id", "problem_type",
    "output_past", "return_dict", "output_hidden_states", "output_attentions",
    "chunk_size_feed_forward", "is_decoder", "add_cross_attention", "tie_word_embeddings",
    "_name_or_path", "directionality", "pooler_fc_size", "pooler_num_attention_heads",
    "pooler_num_fc_layers", "pooler_size_per_head", "pooler_type", "finetuning_task",
})


@dataclasses.dataclass(frozen=True)
class BertConfig:
    """Hyper-parameters of a BERT encoder (https://arxiv.org/abs/1810.04805).

    Field names are those of the original `bert_config.json`, so a config file
    from google-research/bert reads as is.

    Example:
    >>> config = BertConfig.preset("tiny")
    >>> config.hidden_size, config.num_hidden_layers
    (128, 2)
    """

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12

    def __post_init__(self):
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                     "intermediate_size", "max_position_embeddings", "type_vocab_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"`hidden_size` ({self.hidden_size}) must be divisible by "
                f"`num_attention_heads` ({self.num_attention_heads}).")
        if self.hidden_act not in _ACTIVATIONS:
            raise ValueError(
                f"`hidden_act` must be one of {_ACTIVATIONS}, got {self.hidden_act!r}.")
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"`{name}` must be in [0, 1), got {value!r}.")
        for name in ("initializer_range", "layer_norm_eps"):
            if not getattr(self, name) > 0:
                raise ValueError(f"`{name}` must be positive, got {getattr(self, name)!r}.")

    @property
    def head_size(self):
        return self.hidden_size // self.num_attention_heads

    @classmethod
    def preset(cls, name, **overrides):
        """Returns a preset (`tiny`, `mini`, `small`, `medium`, `base`, `large`)."""
        if name not in PRESETS:
            raise ValueError(f"Unknown preset {name!r}; choose one of {sorted(PRESETS)}.")
        return dataclasses.replace(PRESETS[name], **overrides)

    @classmethod
    def from_dict(cls, values, source="config"):
        """Builds a config from the project's, the original or a Hugging Face dict.

        Raises `ValueError` naming `source` and the key for unknown fields or
        architectures other than absolute-position BERT.
        """
        values = dict(values)
        model_type = values.get("model_type", "bert")
        if model_type != "bert":
            raise ValueError(f"{source}: `model_type` is {model_type!r}; only 'bert' is supported.")
        position_type = values.pop("position_embedding_type", "absolute")
        if position_type != "absolute":
            raise ValueError(
                f"{source}: `position_embedding_type` is {position_type!r}; only 'absolute' "
                "is supported.")
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(k for k in values if k not in fields and k not in _HF_BOOKKEEPING_KEYS)
        if unknown:
            raise ValueError(f"{source}: unknown config field(s) {unknown}; "
                             f"expected {sorted(fields)}.")
        try:
            return cls(**{k: v for k, v in values.items() if k in fields})
        except ValueError as error:
            raise ValueError(f"{source}: {error}") from None

    @classmethod
    def from_json(cls, path):
        """Reads the project's JSON, an original `bert_config.json` or a HF `config.json`."""
        if not tf.io.gfile.exists(path) or tf.io.gfile.isdir(path):
            raise ValueError(f"Config file not found: {path}")
        with tf.io.gfile.GFile(path) as f:
            try:
                values = json.load(f)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{error.lineno}: invalid JSON ({error.msg}).") from None
        if not isinstance(values, dict):
            raise ValueError(f"{path}: expected a JSON object, got {type(values).__name__}.")
        return cls.from_dict(values, source=path)

    def to_dict(self):
        return dataclasses.asdict(self)

    def to_json(self, path):
        with tf.io.gfile.GFile(path, "w") as f:
            f.write(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")


def _preset(layers, hidden):
    return BertConfig(hidden_size=hidden, num_hidden_layers=layers,
                      num_attention_heads=hidden // 64, intermediate_size=4 * hidden)


# The sizes of the BERT "miniatures" (Turc et al., 2019) and the original base/large.
PRESETS = {
    "tiny": _preset(2, 128),
    "mini": _preset(4, 256),
    "small": _preset(4, 512),
    "medium": _preset(8, 512),
    "base": _preset(12, 768),
    "large": _preset(24, 1024),
}
