"""The post-LayerNorm transformer block of the original BERT."""

import keras
from keras import ops

_ACTIVATIONS = {
    "gelu": lambda x: keras.activations.gelu(x, approximate=False),  # exact erf GELU
    "gelu_new": lambda x: keras.activations.gelu(x, approximate=True),
    "relu": keras.activations.relu,
}


@keras.saving.register_keras_serializable(package="tfbert")
class Float32SoftmaxAttention(keras.layers.MultiHeadAttention):
    """`keras.layers.MultiHeadAttention` whose masked softmax runs in float32.

    Under `mixed_float16` the stock layer normalises scores in float16; BERT's
    attention logits need the float32 island. Masked positions get -1e9 before
    the softmax, so a padded key never receives weight.
    """

    def _masked_softmax(self, attention_scores, attention_mask=None):
        scores = ops.cast(attention_scores, "float32")  # [batch, heads, query, key]
        if attention_mask is not None:
            while len(attention_mask.shape) < len(scores.shape):
                attention_mask = ops.expand_dims(attention_mask, axis=1)
            scores = ops.where(ops.cast(attention_mask, "bool"), scores, -1e9)
        return ops.cast(ops.softmax(scores, axis=-1), self.compute_dtype)


@keras.saving.register_keras_serializable(package="tfbert")
class TransformerBlock(keras.layers.Layer):
    """Self-attention and feed-forward, each followed by residual add and LayerNorm.

    As published in "Attention Is All You Need" (https://arxiv.org/abs/1706.03762)
    and used unchanged by BERT: post-LN, exact GELU, LayerNorm epsilon 1e-12.

    Args:
        num_heads: int, attention heads; must divide the input width.
        intermediate_size: int, width of the feed-forward layer.
        activation: str, `"gelu"` (exact), `"gelu_new"` (tanh approximation) or `"relu"`.
            Defaults to `"gelu"`.
        dropout: float, dropout on both residual branches. Defaults to 0.1.
        attention_dropout: float, dropout on attention probabilities. Defaults to 0.1.
        layer_norm_epsilon: float. Defaults to 1e-12.
        initializer_range: float, stddev of the truncated-normal initializer. Defaults to 0.02.

    Call inputs: `x` float [batch, seq, hidden]; `attention_mask` bool/int
    [batch, 1, seq] or [batch, seq, seq], true where a query may attend a key;
    `return_attention_scores` bool (default False).
    Output: float [batch, seq, hidden]; with `return_attention_scores`, the pair
    `(output, attention probabilities [batch, heads, seq, seq])` (softmax over keys, before
    dropout; masked keys get 0).

    Example:
    >>> block = TransformerBlock(num_heads=3, intermediate_size=37)
    >>> block(ops.ones((3, 7, 12)), ops.ones((3, 1, 7), "bool")).shape
    (3, 7, 12)
    """

    def __init__(self, num_heads, intermediate_size, activation="gelu", dropout=0.1,
                 attention_dropout=0.1, layer_norm_epsilon=1e-12, initializer_range=0.02,
                 **kwargs):
        super().__init__(**kwargs)
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"`activation` must be one of {sorted(_ACTIVATIONS)}, got {activation!r}.")
        self.num_heads = num_heads
        self.intermediate_size = intermediate_size
        self.activation = activation
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range

    def build(self, x_shape, attention_mask_shape=None):
        hidden_size = x_shape[-1]
        if hidden_size % self.num_heads:
            raise ValueError(
                f"The input width ({hidden_size}) must be divisible by `num_heads` "
                f"({self.num_heads}).")
        initializer = keras.initializers.TruncatedNormal(stddev=self.initializer_range)
        self.self_attention = Float32SoftmaxAttention(
            num_heads=self.num_heads, key_dim=hidden_size // self.num_heads,
            dropout=self.attention_dropout, kernel_initializer=initializer,
            dtype=self.dtype_policy, name="self_attention")
        self.self_attention.build(x_shape, x_shape)
        self.attention_dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)
        self.attention_layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype="float32", name="attention_layer_norm")
        self.attention_layer_norm.build(x_shape)
        self.intermediate_dense = keras.layers.Dense(
            self.intermediate_size, kernel_initializer=initializer,
            dtype=self.dtype_policy, name="intermediate_dense")
        self.intermediate_dense.build(x_shape)
        self.output_dense = keras.layers.Dense(
            hidden_size, kernel_initializer=initializer,
            dtype=self.dtype_policy, name="output_dense")
        self.output_dense.build(tuple(x_shape[:-1]) + (self.intermediate_size,))
        self.output_dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)
        self.output_layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype="float32", name="output_layer_norm")
        self.output_layer_norm.build(x_shape)

    def call(self, x, attention_mask=None, training=None, return_attention_scores=False):
        attended = self.self_attention(
            x, x, attention_mask=attention_mask, training=training,
            return_attention_scores=return_attention_scores)
        if return_attention_scores:
            attended, probabilities = attended  # probabilities [batch, heads, seq, seq]
        x = self.attention_layer_norm(
            x + self.attention_dropout_layer(attended, training=training))
        x = ops.cast(x, self.compute_dtype)
        hidden = _ACTIVATIONS[self.activation](self.intermediate_dense(x))
        out = self.output_dropout_layer(self.output_dense(hidden), training=training)
        out = ops.cast(self.output_layer_norm(x + out), self.compute_dtype)
        return (out, probabilities) if return_attention_scores else out

    def compute_output_shape(self, x_shape, attention_mask_shape=None):
        return x_shape

    def compute_output_spec(self, x, attention_mask=None, training=None,
                            return_attention_scores=False):
        output = keras.KerasTensor(x.shape, dtype=self.compute_dtype)
        if not return_attention_scores:
            return output
        batch, seq = x.shape[0], x.shape[1]
        return output, keras.KerasTensor((batch, self.num_heads, seq, seq),
                                         dtype=self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_heads": self.num_heads,
            "intermediate_size": self.intermediate_size,
            "activation": self.activation,
            "dropout": self.dropout,
            "attention_dropout": self.attention_dropout,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "initializer_range": self.initializer_range,
        })
        return config
