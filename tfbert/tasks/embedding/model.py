"""Sentence embeddings over a `BertEncoder`: masked mean pooling, then L2 normalisation.

As sentence-transformers computes them (Reimers & Gurevych, https://arxiv.org/abs/1908.10084):
the mean of the last hidden states over every real token ([CLS] and [SEP] included, padding
excluded), divided by its L2 norm.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfbert")
class MeanPooling(keras.layers.Layer):
    """Mean of the hidden states over real tokens, optionally L2-normalised; float32 inside.

    Args:
        normalize: bool, divide each mean by its L2 norm. Defaults to True.

    Call inputs: `sequence` float [batch, seq, hidden]; `padding_mask` int [batch, seq], 1 at
    real tokens. Output: float32 [batch, hidden]. A row without real tokens gives zeros.

    Example:
    >>> MeanPooling()(keras.ops.ones((3, 7, 12)), keras.ops.ones((3, 7), "int32")).shape
    (3, 12)
    """

    def __init__(self, normalize=True, **kwargs):
        super().__init__(**kwargs)
        self.normalize = normalize

    def call(self, sequence, padding_mask):
        # Sums over up to max_seq_length positions: float32 even under mixed precision.
        sequence = ops.cast(sequence, "float32")
        mask = ops.expand_dims(ops.cast(padding_mask, "float32"), -1)  # [batch, seq, 1]
        count = ops.maximum(ops.sum(mask, axis=1), 1e-9)  # [batch, 1]
        pooled = ops.sum(sequence * mask, axis=1) / count  # [batch, hidden]
        if not self.normalize:
            return pooled
        norm = ops.sqrt(ops.sum(ops.square(pooled), axis=-1, keepdims=True))
        return pooled / ops.maximum(norm, 1e-12)

    def compute_output_shape(self, sequence_shape, padding_mask_shape=None):
        return (sequence_shape[0], sequence_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update({"normalize": self.normalize})
        return config


@keras.saving.register_keras_serializable(package="tfbert")
class SentenceEmbedder(keras.Model):
    """A `BertEncoder` followed by `MeanPooling`: one vector per text.

    Args:
        encoder: a `BertEncoder`.
        normalize: bool, L2-normalise the embeddings. Defaults to True.

    Inputs (dict): `token_ids`, `segment_ids`, `padding_mask`, int32 [batch, seq].
    Outputs (dict): `embedding` float32 [batch, hidden].

    Example:
    >>> from tfbert.models import BertEncoder
    >>> encoder = BertEncoder(vocab_size=99, hidden_size=12, num_layers=2, num_heads=3,
    ...                       intermediate_size=37)
    >>> ids = keras.ops.ones((3, 7), "int32")
    >>> SentenceEmbedder(encoder)({"token_ids": ids, "segment_ids": ids * 0,
    ...                            "padding_mask": ids})["embedding"].shape
    (3, 12)
    """

    def __init__(self, encoder, normalize=True, **kwargs):
        # === Layers ===
        self.encoder = encoder
        self.pooling = MeanPooling(normalize=normalize, dtype="float32", name="mean_pooling")

        # === Functional Model ===
        inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name)
                  for name in ("token_ids", "segment_ids", "padding_mask")}
        sequence = encoder(inputs)["sequence_output"]
        super().__init__(
            inputs=inputs,
            outputs={"embedding": self.pooling(sequence, inputs["padding_mask"])},
            **kwargs)

        # === Config ===
        self.normalize = normalize

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "normalize": self.normalize,
                "encoder": keras.saving.serialize_keras_object(self.encoder)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        return cls(**config)
