"""The BERT encoder as a functional Keras model."""

import keras
from keras import ops

from tfbert.config import BertConfig
from tfbert.layers import BertEmbeddings, BertPooler, TransformerBlock


@keras.saving.register_keras_serializable(package="tfbert")
class BertEncoder(keras.Model):
    """BERT (https://arxiv.org/abs/1810.04805): embeddings, post-LN transformer blocks, pooler.

    Args:
        vocab_size: int, word-piece vocabulary size.
        hidden_size: int, width of every hidden state.
        num_layers: int, transformer blocks.
        num_heads: int, attention heads per block; must divide `hidden_size`.
        intermediate_size: int, feed-forward width.
        activation: str, `"gelu"` (exact), `"gelu_new"` or `"relu"`. Defaults to `"gelu"`.
        dropout: float, hidden dropout. Defaults to 0.1.
        attention_dropout: float, attention-probability dropout. Defaults to 0.1.
        max_sequence_length: int, position embeddings. Defaults to 512.
        type_vocab_size: int, segment ids. Defaults to 2.
        layer_norm_epsilon: float. Defaults to 1e-12.
        initializer_range: float. Defaults to 0.02.
        dtype: a dtype policy name such as `"mixed_bfloat16"`; LayerNorm and
            softmax stay float32 under it.

    Inputs (dict): `token_ids`, `segment_ids`, `padding_mask`, int32 [batch, seq];
    `padding_mask` is 1 at real tokens and 0 at padding.
    Outputs (dict): `sequence_output` [batch, seq, hidden], `pooled_output` [batch, hidden]
    (tanh over the [CLS] state).

    Example:
    >>> encoder = BertEncoder(vocab_size=99, hidden_size=12, num_layers=2,
    ...                       num_heads=3, intermediate_size=37)
    >>> ids = keras.ops.ones((3, 7), "int32")
    >>> out = encoder({"token_ids": ids, "segment_ids": ids * 0, "padding_mask": ids})
    >>> out["pooled_output"].shape
    (3, 12)
    """

    def __init__(self, vocab_size, hidden_size, num_layers, num_heads, intermediate_size,
                 activation="gelu", dropout=0.1, attention_dropout=0.1,
                 max_sequence_length=512, type_vocab_size=2, layer_norm_epsilon=1e-12,
                 initializer_range=0.02, dtype=None, **kwargs):
        if hidden_size % num_heads:
            raise ValueError(
                f"`hidden_size` ({hidden_size}) must be divisible by `num_heads` ({num_heads}).")
        # === Layers ===
        self.embeddings = BertEmbeddings(
            vocab_size=vocab_size, hidden_size=hidden_size,
            max_sequence_length=max_sequence_length, type_vocab_size=type_vocab_size,
            dropout=dropout, layer_norm_epsilon=layer_norm_epsilon,
            initializer_range=initializer_range, dtype=dtype, name="embeddings")
        self.transformer_layers = [
            TransformerBlock(
                num_heads=num_heads, intermediate_size=intermediate_size,
                activation=activation, dropout=dropout, attention_dropout=attention_dropout,
                layer_norm_epsilon=layer_norm_epsilon, initializer_range=initializer_range,
                dtype=dtype, name=f"transformer_layer_{i}")
            for i in range(num_layers)
        ]
        self.pooler = BertPooler(
            hidden_size, initializer_range=initializer_range, dtype=dtype, name="pooler")

        # === Functional Model ===
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        segment_ids = keras.Input(shape=(None,), dtype="int32", name="segment_ids")
        padding_mask = keras.Input(shape=(None,), dtype="int32", name="padding_mask")
        x = self.embeddings(token_ids, segment_ids)
        attention_mask = ops.expand_dims(ops.cast(padding_mask, "bool"), 1)  # [batch, 1, seq]
        for layer in self.transformer_layers:
            x = layer(x, attention_mask)
        super().__init__(
            inputs={"token_ids": token_ids, "segment_ids": segment_ids,
                    "padding_mask": padding_mask},
            outputs={"sequence_output": x, "pooled_output": self.pooler(x)},
            **kwargs)

        # === Config ===
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_size = intermediate_size
        self.activation = activation
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.max_sequence_length = max_sequence_length
        self.type_vocab_size = type_vocab_size
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        # Functional models do not keep a policy of their own; the layers carry it.
        self.layer_dtype = keras.dtype_policies.get(dtype).name if dtype else None

    @property
    def word_embeddings(self):
        return self.embeddings.word_embeddings

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self.layer_dtype,
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "intermediate_size": self.intermediate_size,
            "activation": self.activation,
            "dropout": self.dropout,
            "attention_dropout": self.attention_dropout,
            "max_sequence_length": self.max_sequence_length,
            "type_vocab_size": self.type_vocab_size,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "initializer_range": self.initializer_range,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def bert_encoder(config: BertConfig, dtype=None, name="bert_encoder") -> BertEncoder:
    """Builds a `BertEncoder` from a `BertConfig` (the DESIGN.md entry point)."""
    return BertEncoder(
        vocab_size=config.vocab_size,
        hidden_size=config.hidden_size,
        num_layers=config.num_hidden_layers,
        num_heads=config.num_attention_heads,
        intermediate_size=config.intermediate_size,
        activation=config.hidden_act,
        dropout=config.hidden_dropout_prob,
        attention_dropout=config.attention_probs_dropout_prob,
        max_sequence_length=config.max_position_embeddings,
        type_vocab_size=config.type_vocab_size,
        layer_norm_epsilon=config.layer_norm_eps,
        initializer_range=config.initializer_range,
        dtype=dtype,
        name=name,
    )


def encoder_config(encoder: BertEncoder) -> BertConfig:
    """The `BertConfig` an encoder was built from (inverse of `bert_encoder`)."""
    return BertConfig(
        vocab_size=encoder.vocab_size, hidden_size=encoder.hidden_size,
        num_hidden_layers=encoder.num_layers, num_attention_heads=encoder.num_heads,
        intermediate_size=encoder.intermediate_size, hidden_act=encoder.activation,
        hidden_dropout_prob=encoder.dropout,
        attention_probs_dropout_prob=encoder.attention_dropout,
        max_position_embeddings=encoder.max_sequence_length,
        type_vocab_size=encoder.type_vocab_size, initializer_range=encoder.initializer_range,
        layer_norm_eps=encoder.layer_norm_epsilon)
