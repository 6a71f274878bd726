"""Reads Hugging Face BERT checkpoints: `config.json` + `model.safetensors` (or a pickle).

Names are those of `transformers.BertModel` (`encoder.layer.0.attention.self.query.weight`),
with the `bert.` prefix of the task models (`BertForPreTraining`, ...) or without it
(`BertModel`, sentence-transformers). `nn.Linear` weights are stored [out, in].
"""

import os

import numpy as np
from safetensors.numpy import load_file

from tfbert.checkpoints import assign, layout
from tfbert.config import BertConfig
from tfbert.errors import UsageError
from tfbert.models.encoder import bert_encoder

CONFIG_FILE = "config.json"
SAFETENSORS_FILE = "model.safetensors"
PICKLE_FILE = "pytorch_model.bin"
# Buffers, not weights: `BertEmbeddings` registers them, some versions save them.
_BUFFERS = ("embeddings.position_ids", "embeddings.token_type_ids")


def _canonical(name):
    """HF name -> (canonical name, stored transposed)."""
    parts = name.split(".")
    if parts[:2] == ["encoder", "layer"] and len(parts) > 2:
        parts = ["encoder", f"layer_{parts[2]}"] + parts[3:]
    *scope, leaf = parts
    if scope and scope[-1] == "LayerNorm":
        # Checkpoints from before transformers 4 name them gamma/beta.
        return "/".join(scope + [{"weight": "gamma", "bias": "beta"}.get(leaf, leaf)]), False
    if scope and scope[-1].endswith("_embeddings") and leaf == "weight":
        return "/".join(scope), False
    if leaf == "weight":
        return "/".join(scope + ["kernel"]), True
    return "/".join(parts), False


def _read_pickle(path):
    try:
        import torch
    except ImportError:
        raise ImportError(
            f"{path} is a PyTorch pickle and reading it needs `torch`, which is not "
            "installed. Install torch, or use a checkpoint with model.safetensors.") from None
    # The weights-only unpickler: tensors and containers, no arbitrary objects.
    state = torch.load(path, map_location="cpu", weights_only=True)
    return {name: value.detach().float().numpy() if value.is_floating_point()
            else value.numpy() for name, value in state.items()}


def read_tensors(directory, allow_pickle=False):
    """Reads the weights file of a HF checkpoint directory.

    Returns:
        (path of the file read, dict HF name -> numpy array).
    """
    path = os.path.join(directory, SAFETENSORS_FILE)
    if os.path.isfile(path):
        return path, load_file(path)
    path = os.path.join(directory, PICKLE_FILE)
    if os.path.isfile(path):
        if not allow_pickle:
            raise UsageError(
                f"{path} is a pickle, which can run arbitrary code when loaded; pass "
                "`allow_pickle=True` (`--allow_pickle` in apps) if you trust its source, or "
                f"convert it to {SAFETENSORS_FILE}.")
        return path, _read_pickle(path)
    raise UsageError(
        f"{directory}: missing the weights; expected {SAFETENSORS_FILE} "
        f"(or {PICKLE_FILE} with `allow_pickle=True`).")


def encoder_tensors(state, source):
    """Canonical name -> `assign.Stored` for the encoder part of a HF state dict."""
    if any(name.startswith("bert.") for name in state):
        # A task model: the encoder lives under `bert.`, the heads beside it.
        state = {name[len("bert."):]: value for name, value in state.items()
                 if name.startswith("bert.")}
    tensors = {}
    for name, value in state.items():
        if name in _BUFFERS:
            continue
        canonical, transposed = _canonical(name)
        if canonical in tensors:
            raise UsageError(f"{source}: `{name}` duplicates `{tensors[canonical].name}`.")
        tensors[canonical] = assign.Stored(name, np.asarray(value), transposed)
    return tensors


def load_huggingface(directory, dtype=None, allow_pickle=False):
    """Builds a `BertEncoder` from a Hugging Face BERT checkpoint directory.

    Args:
        directory: str, holding `config.json` and `model.safetensors` (or
            `pytorch_model.bin`), and optionally `vocab.txt` (checked against the config).
        dtype: optional dtype policy name for the encoder, e.g. `"mixed_bfloat16"`.
        allow_pickle: bool, whether `pytorch_model.bin` may be unpickled (with torch)
            when there is no `model.safetensors`. Defaults to False.

    Returns:
        `BertEncoder` with the checkpoint's weights.
    """
    layout.require_files(directory, [CONFIG_FILE])
    config_file = os.path.join(directory, CONFIG_FILE)
    config = BertConfig.from_json(config_file)
    vocab_file = os.path.join(directory, "vocab.txt")
    if os.path.isfile(vocab_file):
        layout.check_vocab(vocab_file, config, config_file)
    source, state = read_tensors(directory, allow_pickle)
    encoder = bert_encoder(config, dtype=dtype)
    assign.assign_weights(encoder, encoder_tensors(state, source), source, config_file)
    return encoder
