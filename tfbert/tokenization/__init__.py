"""In-graph BERT tokenization: normalize, vocabulary files, tokenizer, packing.

Learning a vocabulary (`tfbert.tokenization.learn`) imports keras-hub, so it is not imported here.
"""

from tfbert.tokenization.packing import char_offsets, pack_inputs, pack_offsets, trim_padding
from tfbert.tokenization.tokenizer import BertTokenizer
from tfbert.tokenization.vocab import load_vocab, read_vocab_info, write_vocab_info

__all__ = ["BertTokenizer", "char_offsets", "load_vocab", "pack_inputs",
           "pack_offsets", "read_vocab_info", "trim_padding", "write_vocab_info"]
