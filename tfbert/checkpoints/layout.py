"""Which checkpoint format a directory holds, and the checks on its files."""

import os

from tfbert.errors import UsageError

# Format -> files that identify it (besides `vocab.txt`), in the order they are tried.
FORMATS = {
    "native": ("bert_config.json", "encoder.weights.h5"),
    "original": ("bert_config.json", "bert_model.ckpt.index"),
    "huggingface": ("config.json", "model.safetensors"),
    "huggingface_pickle": ("config.json", "pytorch_model.bin"),
}


def detect_format(directory):
    """Returns `"native"`, `"original"`, `"huggingface"` or `"huggingface_pickle"`.

    Raises `ValueError` listing the expected files when `directory` is not a
    directory or holds none of the formats.
    """
    if not os.path.isdir(directory):
        raise UsageError(f"Checkpoint directory not found: {directory!r}.")
    present = set(os.listdir(directory))
    for name, files in FORMATS.items():
        if all(f in present for f in files):
            return name
    expected = "; ".join(f"{name}: {' + '.join(files)}" for name, files in FORMATS.items())
    raise UsageError(
        f"{directory}: no known checkpoint format; expected one of ({expected}), "
        f"found {sorted(present)[:20]}.")


def require_files(directory, names):
    """Raises `ValueError` naming the missing files of `names` in `directory`."""
    if not os.path.isdir(directory):
        raise UsageError(f"Checkpoint directory not found: {directory!r}; expected it to "
                         f"hold {list(names)}.")
    missing = [n for n in names if not os.path.isfile(os.path.join(directory, n))]
    if missing:
        raise UsageError(f"{directory}: missing {missing}; expected {list(names)}.")


def check_vocab(vocab_file, config, config_source):
    """Raises `ValueError` if `vocab_file` has not `config.vocab_size` lines.

    `config_source` names where the config came from (a file) in the message.

    Returns:
        int, the number of lines.
    """
    with open(vocab_file, encoding="utf-8") as f:
        count = sum(1 for _ in f)
    if count != config.vocab_size:
        raise UsageError(
            f"{vocab_file}: {count} lines, but `vocab_size` in {config_source} is "
            f"{config.vocab_size}; the vocabulary and the checkpoint do not belong together.")
    return count
