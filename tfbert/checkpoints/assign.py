"""Puts checkpoint tensors into a `BertEncoder`: the one place that knows its weight layout.

Every reader (original BERT, Hugging Face) maps its file's names to canonical names,
the original BERT variable names without the `bert/` scope, with Dense kernels in
[in, out] layout:

    embeddings/word_embeddings                          [vocab, hidden]
    embeddings/position_embeddings                      [max_positions, hidden]
    embeddings/token_type_embeddings                    [type_vocab, hidden]
    embeddings/LayerNorm/{gamma,beta}                   [hidden]
    encoder/layer_N/attention/self/{query,key,value}/{kernel,bias}
    encoder/layer_N/attention/output/dense/{kernel,bias}
    encoder/layer_N/attention/output/LayerNorm/{gamma,beta}
    encoder/layer_N/intermediate/dense/{kernel,bias}    [hidden, intermediate]
    encoder/layer_N/output/dense/{kernel,bias}          [intermediate, hidden]
    encoder/layer_N/output/LayerNorm/{gamma,beta}
    pooler/dense/{kernel,bias}

and hands `assign_weights` a dict of canonical name -> `Stored` (the name and array as
they are in the file, and whether the file keeps that matrix transposed, as PyTorch's
`nn.Linear` does). Shapes are checked here, in the file's own layout, so an error
names the file's variable and both shapes.
"""

import logging
import typing

import numpy as np

from tfbert.errors import UsageError
from tfbert.models.encoder import encoder_config

# Canonical name -> (Keras path, dims: h hidden, i intermediate, v vocab, p positions,
# t type vocab).
_EMBEDDINGS = {
    "embeddings/word_embeddings": ("embeddings/word_embeddings/embeddings", "vh"),
    "embeddings/position_embeddings": ("embeddings/position_embeddings/embeddings", "ph"),
    "embeddings/token_type_embeddings": ("embeddings/segment_embeddings/embeddings", "th"),
    "embeddings/LayerNorm/gamma": ("embeddings/layer_norm/gamma", "h"),
    "embeddings/LayerNorm/beta": ("embeddings/layer_norm/beta", "h"),
}
_POOLER = {
    "pooler/dense/kernel": ("pooler/dense/kernel", "hh"),
    "pooler/dense/bias": ("pooler/dense/bias", "h"),
}
# Per layer: canonical suffix -> (Keras path suffix, dims, reshape into the Keras layout).
# Keras MultiHeadAttention keeps heads as their own axis: query/key/value kernels are
# [hidden, heads, head_size] and the output kernel [heads, head_size, hidden].
_LAYER = {
    "attention/self/query/kernel": ("self_attention/query/kernel", "hh", "split_out"),
    "attention/self/query/bias": ("self_attention/query/bias", "h", "split_out"),
    "attention/self/key/kernel": ("self_attention/key/kernel", "hh", "split_out"),
    "attention/self/key/bias": ("self_attention/key/bias", "h", "split_out"),
    "attention/self/value/kernel": ("self_attention/value/kernel", "hh", "split_out"),
    "attention/self/value/bias": ("self_attention/value/bias", "h", "split_out"),
    "attention/output/dense/kernel": ("self_attention/attention_output/kernel", "hh", "split_in"),
    "attention/output/dense/bias": ("self_attention/attention_output/bias", "h", None),
    "attention/output/LayerNorm/gamma": ("attention_layer_norm/gamma", "h", None),
    "attention/output/LayerNorm/beta": ("attention_layer_norm/beta", "h", None),
    "intermediate/dense/kernel": ("intermediate_dense/kernel", "hi", None),
    "intermediate/dense/bias": ("intermediate_dense/bias", "i", None),
    "output/dense/kernel": ("output_dense/kernel", "ih", None),
    "output/dense/bias": ("output_dense/bias", "h", None),
    "output/LayerNorm/gamma": ("output_layer_norm/gamma", "h", None),
    "output/LayerNorm/beta": ("output_layer_norm/beta", "h", None),
}


class Stored(typing.NamedTuple):
    """One tensor as a checkpoint file holds it.

    `name` is the variable's name in the file (for error messages); `transposed` is
    true when the file keeps a Dense kernel as [out, in].
    """

    name: str
    value: np.ndarray
    transposed: bool = False


def _layout(num_layers):
    """Canonical name -> (Keras weight path, dims, reshape kind)."""
    layout = {name: (path, dims, None) for name, (path, dims) in _EMBEDDINGS.items()}
    for n in range(num_layers):
        for suffix, (path, dims, kind) in _LAYER.items():
            layout[f"encoder/layer_{n}/{suffix}"] = (f"transformer_layer_{n}/{path}", dims, kind)
    layout.update({name: (path, dims, None) for name, (path, dims) in _POOLER.items()})
    return layout


def canonical_shapes(config):
    """Canonical name -> shape ([in, out] kernels) for a `BertConfig`."""
    sizes = {"h": config.hidden_size, "i": config.intermediate_size, "v": config.vocab_size,
             "p": config.max_position_embeddings, "t": config.type_vocab_size}
    return {name: tuple(sizes[d] for d in dims)
            for name, (_, dims, _) in _layout(config.num_hidden_layers).items()}


def _to_keras(array, kind, num_heads):
    if kind == "split_out":
        return array.reshape(array.shape[:-1] + (num_heads, -1))  # [..., heads, head_size]
    if kind == "split_in":
        return array.reshape(num_heads, -1, array.shape[-1])  # [heads, head_size, hidden]
    return array


def _from_keras(array, kind):
    if kind == "split_out":
        return array.reshape(array.shape[:-2] + (-1,))  # [..., heads * head_size]
    if kind == "split_in":
        return array.reshape(-1, array.shape[-1])  # [heads * head_size, hidden]
    return array


def _weights_by_path(encoder):
    # `w.path` starts with the encoder's own name when built inside a larger model.
    prefix = encoder.name + "/"
    return {w.path[len(prefix):] if w.path.startswith(prefix) else w.path: w
            for w in encoder.weights}


def check_tensors(tensors, config, source, config_file):
    """Raises `ValueError` for missing, unexpected or mis-shaped tensors.

    Args:
        tensors: dict, canonical name -> `Stored`.
        config: `BertConfig` the tensors must fit.
        source: str, the checkpoint file named in errors.
        config_file: str, the config file named in errors.

    Returns:
        bool, whether the pooler weights are present (a checkpoint saved without
        the pooler, e.g. Hugging Face `BertModel(add_pooling_layer=False)`, still loads).
    """
    shapes = canonical_shapes(config)
    unexpected = sorted(tensors[name].name for name in tensors if name not in shapes)
    if unexpected:
        raise UsageError(
            f"{source}: {len(unexpected)} unexpected tensor(s), not part of the "
            f"{config.num_hidden_layers}-layer BERT encoder that {config_file} describes: "
            f"{unexpected[:10]}" + (" ..." if len(unexpected) > 10 else ""))
    has_pooler = [name in tensors for name in _POOLER]
    if any(has_pooler) and not all(has_pooler):
        missing_pooler = [name for name, present in zip(_POOLER, has_pooler) if not present]
        raise UsageError(f"{source}: the pooler is incomplete, missing {missing_pooler}.")
    missing = sorted(name for name in shapes if name not in tensors and name not in _POOLER)
    if missing:
        raise UsageError(
            f"{source}: {len(missing)} variable(s) missing (canonical names): {missing[:10]}"
            + (" ..." if len(missing) > 10 else ""))
    for name, shape in shapes.items():
        if name not in tensors:
            continue
        stored = tensors[name]
        expected = shape[::-1] if stored.transposed else shape
        if tuple(stored.value.shape) != tuple(expected):
            raise UsageError(
                f"{source}: `{stored.name}` has shape {tuple(stored.value.shape)}, but the "
                f"config in {config_file} implies {tuple(expected)}.")
    return all(has_pooler)


def assign_weights(encoder, tensors, source, config_file):
    """Checks `tensors` against the encoder's config, then assigns them.

    Args:
        encoder: a built `BertEncoder`.
        tensors: dict, canonical name -> `Stored`.
        source: str, the checkpoint file named in errors.
        config_file: str, the config file named in errors.

    Raises:
        ValueError: a tensor is missing, unexpected or has the wrong shape.
    """
    if not check_tensors(tensors, encoder_config(encoder), source, config_file):
        logging.warning(
            "%s has no pooler weights: `pooled_output` comes from a randomly initialised "
            "pooler; `sequence_output` is the checkpoint's.", source)
    weights = _weights_by_path(encoder)
    for name, (path, _, kind) in _layout(encoder.num_layers).items():
        if name not in tensors:
            continue
        stored = tensors[name]
        value = np.asarray(stored.value, dtype="float32")
        if stored.transposed:
            value = value.T
        weights[path].assign(_to_keras(value, kind, encoder.num_heads))


def encoder_tensors(encoder):
    """The encoder's weights as canonical name -> float32 numpy array ([in, out] kernels).

    The inverse of `assign_weights`; writers of other formats start from it.
    """
    weights = _weights_by_path(encoder)
    return {name: _from_keras(np.asarray(weights[path].numpy(), dtype="float32"), kind)
            for name, (path, _, kind) in _layout(encoder.num_layers).items()}
