"""The BERT pooler: a tanh dense layer over the first ([CLS]) position."""

import keras


@keras.saving.register_keras_serializable(package="tfbert")
class BertPooler(keras.layers.Layer):
    """Pools a sequence into one vector: `tanh(W · x[:, 0] + b)`, as in the original BERT.

    Args:
        hidden_size: int, output width.
        initializer_range: float, stddev of the truncated-normal initializer. Defaults to 0.02.

    Call input: float [batch, seq, hidden]. Output: float [batch, hidden_size].

    Example:
    >>> BertPooler(12)(keras.ops.ones((3, 7, 12))).shape
    (3, 12)
    """

    def __init__(self, hidden_size, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.initializer_range = initializer_range
        self.dense = keras.layers.Dense(
            hidden_size, activation="tanh",
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=initializer_range),
            dtype=self.dtype_policy, name="dense")

    def build(self, sequence_shape):
        self.dense.build((sequence_shape[0], sequence_shape[-1]))

    def call(self, sequence):
        return self.dense(sequence[:, 0, :])

    def compute_output_shape(self, sequence_shape):
        return (sequence_shape[0], self.hidden_size)

    def get_config(self):
        config = super().get_config()
        config.update({"hidden_size": self.hidden_size,
                       "initializer_range": self.initializer_range})
        return config
