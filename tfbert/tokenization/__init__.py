"""In-graph BERT tokenization (tf-text fast kernels), input packing and vocabulary building."""

from tfbert.tokenization.packing import BertPacker
from tfbert.tokenization.packing import char_offsets
from tfbert.tokenization.packing import pack_inputs
from tfbert.tokenization.packing import pack_offsets
from tfbert.tokenization.packing import trim_padding
from tfbert.tokenization.tokenizer import BertTokenizer
from tfbert.tokenization.vocab import learn_vocab
from tfbert.tokenization.vocab import load_vocab
from tfbert.tokenization.vocab import read_vocab_info
from tfbert.tokenization.vocab import write_vocab_info

__all__ = ["BertPacker", "BertTokenizer", "char_offsets", "learn_vocab", "load_vocab",
           "pack_inputs", "pack_offsets", "read_vocab_info", "trim_padding", "write_vocab_info"]
