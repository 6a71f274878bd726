"""The subclassed layers tfbert models are assembled from."""

from tfbert.layers.embeddings import BertEmbeddings
from tfbert.layers.heads import MaskedLMHead
from tfbert.layers.pooler import BertPooler
from tfbert.layers.transformer import Float32SoftmaxAttention, TransformerBlock

__all__ = ["BertEmbeddings", "BertPooler", "Float32SoftmaxAttention", "MaskedLMHead",
           "TransformerBlock"]
