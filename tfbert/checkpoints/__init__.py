"""Checkpoint import and export: original BERT, Hugging Face and the project's own format.

`load_encoder(directory)` reads any of them; `save_encoder` writes the project's format.

Example:
>>> encoder = load_encoder("uncased_L-12_H-768_A-12")  # doctest: +SKIP
"""

from tfbert.checkpoints.huggingface import load_huggingface
from tfbert.checkpoints.layout import detect_format
from tfbert.checkpoints.native import load_native, save_encoder
from tfbert.checkpoints.original import load_original

__all__ = ["detect_format", "load_encoder", "load_huggingface", "load_native", "load_original",
           "save_encoder"]


def load_encoder(path, dtype=None, allow_pickle=False):
    """Builds a `BertEncoder` from a checkpoint directory in any supported format.

    The format is told by the files present (`tfbert.checkpoints.layout.FORMATS`):
    the project's (`bert_config.json` + `encoder.weights.h5`), google-research/bert
    (`bert_config.json` + `bert_model.ckpt.*`) or Hugging Face (`config.json` +
    `model.safetensors`, or `pytorch_model.bin` with `allow_pickle=True`). A `vocab.txt`
    beside them must have `vocab_size` lines.

    Args:
        path: str, the checkpoint directory.
        dtype: optional dtype policy name for the encoder, e.g. `"mixed_bfloat16"`.
        allow_pickle: bool, whether a Hugging Face `pytorch_model.bin` may be unpickled
            (needs torch). Defaults to False: pickles can run code when loaded.

    Returns:
        `tfbert.models.BertEncoder` (a `keras.Model`) with the checkpoint's weights. The
        original format's pretraining heads are dropped; `load_original` returns them.

    Raises:
        ValueError: the directory, a file or a variable is missing, or a shape or the
            vocabulary size disagrees with the config.
    """
    checkpoint_format = detect_format(path)
    if checkpoint_format == "native":
        return load_native(path, dtype=dtype)
    if checkpoint_format == "original":
        encoder, _ = load_original(path, dtype=dtype)
        return encoder
    return load_huggingface(path, dtype=dtype, allow_pickle=allow_pickle)
