"""Reads google-research/bert TF1 checkpoints: `bert_config.json` + `bert_model.ckpt.*`.

Variable names are those of the original `modeling.py` (`bert/encoder/layer_0/attention/
self/query/kernel`, Dense kernels [in, out]). The pretraining heads (`cls/predictions`,
`cls/seq_relationship`) are returned as arrays; optimizer slots are ignored.
"""

import os

import numpy as np
import tensorflow as tf

from tfbert.checkpoints import assign, layout
from tfbert.config import BertConfig
from tfbert.errors import UsageError
from tfbert.models.encoder import bert_encoder

CONFIG_FILE = "bert_config.json"
CHECKPOINT_PREFIX = "bert_model.ckpt"
# Adam moments of the original optimizer, and its step counter.
_OPTIMIZER_SUFFIXES = ("/adam_m", "/adam_v")
_OPTIMIZER_NAMES = ("global_step",)


def read_tensors(prefix):
    """Reads a TF1 checkpoint.

    Args:
        prefix: str, checkpoint prefix (`.../bert_model.ckpt`, without `.index`).

    Returns:
        (encoder, heads): `encoder` maps canonical names (without `bert/`) to
        `assign.Stored`; `heads` maps the `cls/...` names to numpy arrays.
    """
    reader = tf.train.load_checkpoint(prefix)
    encoder, heads = {}, {}
    for name in reader.get_variable_to_shape_map():
        if name in _OPTIMIZER_NAMES or name.endswith(_OPTIMIZER_SUFFIXES):
            continue
        if name.startswith("bert/"):
            encoder[name[len("bert/"):]] = assign.Stored(name, reader.get_tensor(name))
        elif name.startswith("cls/"):
            heads[name] = np.asarray(reader.get_tensor(name), dtype="float32")
        # Anything else is a fine-tuning head (`output_weights`, ...) of another task.
    return encoder, heads


def load_original(directory, dtype=None):
    """Builds a `BertEncoder` from a google-research/bert checkpoint directory.

    Args:
        directory: str, holding `bert_config.json`, `bert_model.ckpt.index` and
            `bert_model.ckpt.data-*`, and optionally `vocab.txt` (checked against the config).
        dtype: optional dtype policy name for the encoder.

    Returns:
        (encoder, heads): the `BertEncoder`, and a dict of the pretraining heads found,
        name -> float32 array: `cls/predictions/transform/dense/{kernel,bias}`,
        `cls/predictions/transform/LayerNorm/{gamma,beta}`, `cls/predictions/output_bias`,
        `cls/seq_relationship/output_weights` ([2, hidden]), `cls/seq_relationship/output_bias`.
    """
    layout.require_files(directory, [CONFIG_FILE, CHECKPOINT_PREFIX + ".index"])
    config_file = os.path.join(directory, CONFIG_FILE)
    config = BertConfig.from_json(config_file)
    vocab_file = os.path.join(directory, "vocab.txt")
    if os.path.isfile(vocab_file):
        layout.check_vocab(vocab_file, config, config_file)
    prefix = os.path.join(directory, CHECKPOINT_PREFIX)
    try:
        tensors, heads = read_tensors(prefix)
    except (tf.errors.OpError, ValueError) as error:
        # An index without its data shards, or a truncated file.
        raise UsageError(f"{prefix}: cannot read the checkpoint ({error}).") from None
    encoder = bert_encoder(config, dtype=dtype)
    assign.assign_weights(encoder, tensors, prefix, config_file)
    return encoder, heads
