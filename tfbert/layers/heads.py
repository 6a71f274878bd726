"""The masked-language-model head, with output weights tied to the word embeddings."""

import keras
from keras import ops

from tfbert.layers.transformer import _ACTIVATIONS


@keras.saving.register_keras_serializable(package="tfbert")
class MaskedLMHead(keras.layers.Layer):
    """Predicts word pieces at masked positions, as `cls/predictions` in the original BERT.

    Gathers the hidden states at `masked_positions`, applies dense + activation +
    LayerNorm, then scores every vocabulary entry against the (shared) word
    embedding matrix plus an output bias.

    Args:
        word_embeddings: `keras.layers.Embedding` whose matrix scores the vocabulary.
            Not serialized: the model that owns both layers passes it again.
        activation: str, `"gelu"`, `"gelu_new"` or `"relu"`. Defaults to `"gelu"`.
        layer_norm_epsilon: float. Defaults to 1e-12.
        initializer_range: float. Defaults to 0.02.

    Call inputs: `sequence` float [batch, seq, hidden]; `masked_positions` int32
    [batch, predictions]. Output: float32 logits [batch, predictions, vocab].
    """

    def __init__(self, word_embeddings, activation="gelu", layer_norm_epsilon=1e-12,
                 initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.word_embeddings = word_embeddings
        self.activation = activation
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range

    def build(self, sequence_shape, masked_positions_shape=None):
        hidden_size = sequence_shape[-1]
        self._activation_fn = _ACTIVATIONS[self.activation]
        self.transform = keras.layers.Dense(
            hidden_size,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=self.initializer_range),
            dtype=self.dtype_policy, name="transform")
        self.transform.build(sequence_shape)
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype="float32", name="layer_norm")
        self.layer_norm.build(sequence_shape)
        self.output_bias = self.add_weight(
            shape=(self.word_embeddings.input_dim,), initializer="zeros", name="output_bias")

    def call(self, sequence, masked_positions):
        gathered = ops.take_along_axis(
            sequence, ops.expand_dims(ops.cast(masked_positions, "int32"), -1), axis=1)
        x = self.layer_norm(self._activation_fn(self.transform(gathered)))
        # Vocabulary logits in float32 even under mixed precision.
        embeddings = ops.cast(self.word_embeddings.embeddings, "float32")
        logits = ops.matmul(ops.cast(x, "float32"), ops.transpose(embeddings))
        return logits + ops.cast(self.output_bias, "float32")

    def compute_output_shape(self, sequence_shape, masked_positions_shape):
        return tuple(masked_positions_shape) + (self.word_embeddings.input_dim,)

    def compute_output_spec(self, sequence, masked_positions):
        return keras.KerasTensor(
            self.compute_output_shape(sequence.shape, masked_positions.shape), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update({
            "activation": self.activation,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "initializer_range": self.initializer_range,
        })
        return config
