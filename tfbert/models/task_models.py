"""Task models over a `BertEncoder`: pretraining, sequence and token classification, span QA.

Each is a functional `keras.Model` whose config holds the serialized encoder, so
`.keras` files and `from_config` rebuild the whole model. Logits are float32
under mixed precision (the output layers run in float32).
"""

import keras
from keras import ops

from tfbert.layers import MaskedLMHead
from tfbert.models.multi_worker import MultiWorkerFitMixin

_ENCODER_INPUTS = ("token_ids", "segment_ids", "padding_mask")


def _encoder_inputs():
    return {name: keras.Input(shape=(None,), dtype="int32", name=name)
            for name in _ENCODER_INPUTS}


def _truncated_normal(encoder):
    return keras.initializers.TruncatedNormal(stddev=encoder.initializer_range)


class _EncoderTask(MultiWorkerFitMixin, keras.Model):
    """Shared config plumbing: the encoder is serialized inside the task's config."""

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "encoder": keras.saving.serialize_keras_object(self.encoder),
                **self._task_config()}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        return cls(**config)

    def _task_config(self):
        return {}


@keras.saving.register_keras_serializable(package="tfbert")
class BertPretrainer(_EncoderTask):
    """Masked LM + next-sentence prediction, as BERT was pretrained.

    Args:
        encoder: a `BertEncoder`.

    Inputs: the encoder's three int32 [batch, seq] inputs and `masked_positions`
    int32 [batch, predictions]. Outputs: `mlm_logits` float32
    [batch, predictions, vocab] (weights tied to the word embeddings) and
    `nsp_logits` float32 [batch, 2] (index 0 = "is next", as in the original).
    """

    def __init__(self, encoder, **kwargs):
        # === Layers ===
        self.encoder = encoder
        self.masked_lm_head = MaskedLMHead(
            encoder.word_embeddings, activation=encoder.activation,
            layer_norm_epsilon=encoder.layer_norm_epsilon,
            initializer_range=encoder.initializer_range,
            dtype=encoder.dtype_policy, name="masked_lm_head")
        self.next_sentence_head = keras.layers.Dense(
            2, kernel_initializer=_truncated_normal(encoder), dtype="float32",
            name="next_sentence_head")

        # === Functional Model ===
        inputs = _encoder_inputs()
        inputs["masked_positions"] = keras.Input(
            shape=(None,), dtype="int32", name="masked_positions")
        encoded = encoder({name: inputs[name] for name in _ENCODER_INPUTS})
        super().__init__(
            inputs=inputs,
            outputs={
                "mlm_logits": self.masked_lm_head(
                    encoded["sequence_output"], inputs["masked_positions"]),
                "nsp_logits": self.next_sentence_head(encoded["pooled_output"]),
            },
            **kwargs)


class _DenseOutputTask(_EncoderTask):
    """Dropout + a float32 dense layer over one encoder output (`_encoder_output`)."""

    _encoder_output = None

    def __init__(self, encoder, num_classes, dropout=0.1, **kwargs):
        if num_classes < 1:
            raise ValueError(f"`num_classes` must be >= 1, got {num_classes}.")
        # === Layers ===
        self.encoder = encoder
        self.output_dropout = keras.layers.Dropout(dropout, name="output_dropout")
        self.output_dense = keras.layers.Dense(
            num_classes, kernel_initializer=_truncated_normal(encoder), dtype="float32",
            name="logits")

        # === Functional Model ===
        inputs = _encoder_inputs()
        encoded = encoder(inputs)[self._encoder_output]
        super().__init__(
            inputs=inputs, outputs=self.output_dense(self.output_dropout(encoded)), **kwargs)

        # === Config ===
        self.num_classes = num_classes
        self.dropout = dropout

    def _task_config(self):
        return {"num_classes": self.num_classes, "dropout": self.dropout}


@keras.saving.register_keras_serializable(package="tfbert")
class BertClassifier(_DenseOutputTask):
    """Sequence classification (or regression with `num_classes=1`) on the pooled output.

    Args:
        encoder: a `BertEncoder`.
        num_classes: int, output width; 1 for regression.
        dropout: float, dropout before the output layer. Defaults to 0.1.

    Inputs: the encoder's three int32 [batch, seq] inputs.
    Output: float32 logits [batch, num_classes].
    """

    _encoder_output = "pooled_output"


@keras.saving.register_keras_serializable(package="tfbert")
class BertTokenClassifier(_DenseOutputTask):
    """Per-token classification (NER): a dense layer over every sequence position.

    Args:
        encoder: a `BertEncoder`.
        num_classes: int, tag-set size.
        dropout: float. Defaults to 0.1.

    Inputs: the encoder's three int32 [batch, seq] inputs.
    Output: float32 logits [batch, seq, num_classes].
    """

    _encoder_output = "sequence_output"


@keras.saving.register_keras_serializable(package="tfbert")
class BertSpanQA(_EncoderTask):
    """Extractive QA: start and end logits per position, padding masked out.

    Args:
        encoder: a `BertEncoder`.

    Inputs: the encoder's three int32 [batch, seq] inputs.
    Outputs: `start_logits`, `end_logits`, float32 [batch, seq]; padded
    positions hold -1e9 so a softmax never picks them.
    """

    def __init__(self, encoder, **kwargs):
        # === Layers ===
        self.encoder = encoder
        self.span_dense = keras.layers.Dense(
            2, kernel_initializer=_truncated_normal(encoder), dtype="float32",
            name="span_logits")

        # === Functional Model ===
        inputs = _encoder_inputs()
        logits = self.span_dense(encoder(inputs)["sequence_output"])  # [batch, seq, 2]
        is_real = ops.cast(inputs["padding_mask"], "bool")
        start_logits = ops.where(is_real, logits[..., 0], -1e9)
        end_logits = ops.where(is_real, logits[..., 1], -1e9)
        super().__init__(
            inputs=inputs, outputs={"start_logits": start_logits, "end_logits": end_logits},
            **kwargs)
