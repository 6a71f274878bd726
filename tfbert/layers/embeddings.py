"""Word + position + segment embeddings, as in the original BERT."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfbert")
class BertEmbeddings(keras.layers.Layer):
    """Sums word, learned absolute position and segment embeddings, then LayerNorm and dropout.

    Args:
        vocab_size: int, word-piece vocabulary size.
        hidden_size: int, embedding width.
        max_sequence_length: int, number of position embeddings. Defaults to 512.
        type_vocab_size: int, number of segment ids. Defaults to 2.
        dropout: float, dropout after the LayerNorm. Defaults to 0.1.
        layer_norm_epsilon: float. Defaults to 1e-12.
        initializer_range: float, stddev of the truncated-normal initializer. Defaults to 0.02.

    Call inputs: `token_ids` and `segment_ids`, int32 [batch, seq].
    Call output: float [batch, seq, hidden_size].

    Example:
    >>> layer = BertEmbeddings(vocab_size=99, hidden_size=12)
    >>> layer(ops.ones((3, 7), "int32"), ops.zeros((3, 7), "int32")).shape
    (3, 7, 12)
    """

    def __init__(self, vocab_size, hidden_size, max_sequence_length=512, type_vocab_size=2,
                 dropout=0.1, layer_norm_epsilon=1e-12, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.max_sequence_length = max_sequence_length
        self.type_vocab_size = type_vocab_size
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        initializer = keras.initializers.TruncatedNormal(stddev=initializer_range)
        self.word_embeddings = keras.layers.Embedding(
            vocab_size, hidden_size, embeddings_initializer=initializer,
            dtype=self.dtype_policy, name="word_embeddings")
        self.position_embeddings = keras.layers.Embedding(
            max_sequence_length, hidden_size, embeddings_initializer=initializer,
            dtype=self.dtype_policy, name="position_embeddings")
        self.segment_embeddings = keras.layers.Embedding(
            type_vocab_size, hidden_size, embeddings_initializer=initializer,
            dtype=self.dtype_policy, name="segment_embeddings")
        # LayerNorm statistics stay in float32 under mixed precision.
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype="float32", name="layer_norm")
        self.dropout_layer = keras.layers.Dropout(dropout, dtype=self.dtype_policy, name="dropout")

    def build(self, token_ids_shape, segment_ids_shape=None):
        self.word_embeddings.build(token_ids_shape)
        self.position_embeddings.build((self.max_sequence_length,))
        self.segment_embeddings.build(token_ids_shape)
        self.layer_norm.build(tuple(token_ids_shape) + (self.hidden_size,))

    def call(self, token_ids, segment_ids, training=None):
        seq_length = ops.shape(token_ids)[1]
        positions = self.position_embeddings.embeddings[:seq_length]  # [seq, hidden]
        x = (self.word_embeddings(token_ids)
             + ops.cast(positions, self.compute_dtype)[None]
             + self.segment_embeddings(segment_ids))
        x = self.layer_norm(x)
        x = self.dropout_layer(ops.cast(x, self.compute_dtype), training=training)
        return x

    def compute_output_shape(self, token_ids_shape, segment_ids_shape=None):
        return tuple(token_ids_shape) + (self.hidden_size,)

    def get_config(self):
        config = super().get_config()
        config.update({
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "max_sequence_length": self.max_sequence_length,
            "type_vocab_size": self.type_vocab_size,
            "dropout": self.dropout,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "initializer_range": self.initializer_range,
        })
        return config
