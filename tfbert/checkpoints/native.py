"""The project's own checkpoint format: a directory written by `save_encoder`.

    bert_config.json     `BertConfig.to_json`
    encoder.weights.h5   `BertEncoder.save_weights`
    vocab.txt            the word-piece vocabulary, one token a line
"""

import os
import tempfile

import h5py

from tfbert.checkpoints import layout
from tfbert.config import BertConfig
from tfbert.errors import UsageError
from tfbert.models.encoder import bert_encoder, encoder_config
from tfbert.tokenization import vocab as vocab_info
from tfbert.tokenization.vocab import copy_vocab

CONFIG_FILE = "bert_config.json"
WEIGHTS_FILE = "encoder.weights.h5"
VOCAB_FILE = "vocab.txt"


def save_encoder(encoder, vocab_file, directory):
    """Writes `encoder` and its vocabulary to `directory` (created if needed).

    Args:
        encoder: `BertEncoder`.
        vocab_file: str, the vocabulary the encoder was trained with; its line count
            must equal the encoder's `vocab_size`.
        directory: str, the output directory; existing files of the format are replaced.

    Returns:
        dict, file role (`config`, `weights`, `vocab`) -> path written.
    """
    config = encoder_config(encoder)
    layout.check_vocab(vocab_file, config, f"the encoder {encoder.name!r}")
    os.makedirs(directory, exist_ok=True)
    paths = {"config": os.path.join(directory, CONFIG_FILE),
             "weights": os.path.join(directory, WEIGHTS_FILE),
             "vocab": os.path.join(directory, VOCAB_FILE)}
    config.to_json(paths["config"])
    encoder.save_weights(paths["weights"])
    # The normalizer record travels with the vocabulary, so fine-tuning tokenizes
    # exactly as pretraining did.
    copy_vocab(vocab_file, directory)
    paths["vocab_info"] = vocab_info.info_path(paths["vocab"])
    return paths


def _dataset_shapes(path):
    shapes = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, item: shapes.update({name: tuple(item.shape)})
                     if isinstance(item, h5py.Dataset) else None)
    return shapes


def _mismatch(encoder, weights_file, config_file):
    """Describes how `weights_file` differs from what the encoder's config implies, or None."""
    with tempfile.TemporaryDirectory() as tmp:
        expected_file = os.path.join(tmp, WEIGHTS_FILE)
        encoder.save_weights(expected_file)
        expected = _dataset_shapes(expected_file)
    try:
        found = _dataset_shapes(weights_file)
    except OSError as error:
        return f"not a Keras weights file ({error})"
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    if missing or unexpected:
        return (f"does not fit the {encoder.num_layers}-layer encoder that {config_file} "
                f"describes: missing variable(s) {missing[:10]}, unexpected {unexpected[:10]}")
    for name, shape in expected.items():
        if found[name] != shape:
            return (f"`{name}` has shape {found[name]}, but the config in {config_file} "
                    f"implies {shape}")
    return None


def load_native(directory, dtype=None):
    """Builds a `BertEncoder` from a directory written by `save_encoder`.

    Args:
        directory: str, holding `bert_config.json`, `encoder.weights.h5`, `vocab.txt`.
        dtype: optional dtype policy name for the encoder.

    Returns:
        `BertEncoder`.
    """
    layout.require_files(directory, [CONFIG_FILE, WEIGHTS_FILE, VOCAB_FILE])
    config_file = os.path.join(directory, CONFIG_FILE)
    config = BertConfig.from_json(config_file)
    layout.check_vocab(os.path.join(directory, VOCAB_FILE), config, config_file)
    encoder = bert_encoder(config, dtype=dtype)
    weights_file = os.path.join(directory, WEIGHTS_FILE)
    try:
        encoder.load_weights(weights_file)
    except (ValueError, OSError) as error:
        # Keras reports the first failing layer with its full value; say what differs.
        problem = _mismatch(encoder, weights_file, config_file)
        raise UsageError(f"{weights_file}: {problem or str(error).splitlines()[0]}") from None
    return encoder
