"""BERT models: the encoder and the task models built on it."""

from tfbert.models.attention import encoder_attention
from tfbert.models.encoder import BertEncoder, bert_encoder, encoder_config
from tfbert.models.task_models import (
           BertClassifier,
           BertPretrainer,
           BertSpanQA,
           BertTokenClassifier,
)

__all__ = ["BertClassifier", "BertEncoder", "BertPretrainer", "BertSpanQA",
           "BertTokenClassifier", "bert_encoder", "encoder_attention", "encoder_config"]
