"""Cosine similarity of text pairs, from an exported embedding model or a checkpoint.

Example:
>>> embed = text_embedder("/srv/models/minilm/1")  # doctest: +SKIP
>>> cosine_similarities(embed, ["A man plays a guitar."],
...                     ["Someone plays music."])  # doctest: +SKIP
array([0.65...], dtype=float32)
"""

import os

import numpy as np
import tensorflow as tf

from tfbert.errors import UsageError
from tfbert.tasks.embedding.checkpoint import load_sentence_embedder
from tfbert.tasks.embedding.serving import EmbeddingSignatures


def text_embedder(path, max_seq_length=None):
    """A function from tf.string [batch] to float32 [batch, hidden] embeddings.

    Args:
        path: str, an `export.saved_model --task=embedding` version directory (it holds
            `saved_model.pb`) or a checkpoint directory (`load_sentence_embedder`).
        max_seq_length: optional int, for a checkpoint only (an export has its own).

    Raises:
        ValueError: `max_seq_length` given with an export, or the export has no `embedding`
            output.
    """
    if tf.io.gfile.exists(os.path.join(path, "saved_model.pb")):
        if max_seq_length is not None:
            raise UsageError(f"`max_seq_length` ({max_seq_length}) applies to checkpoints; the "
                             f"export {path} has its own.")
        loaded = tf.saved_model.load(path)
        signature = loaded.signatures["serving_default"]
        if "embedding" not in signature.structured_outputs:
            raise UsageError(f"{path}: `serving_default` returns "
                             f"{sorted(signature.structured_outputs)}, not `embedding`; export "
                             "it with --task=embedding.")
        # The closure keeps `loaded` (and so its variables) alive.
        return lambda text: signature(text=text)["embedding"]
    model, tokenizer, info = load_sentence_embedder(path, max_seq_length)
    signatures = EmbeddingSignatures(model, tokenizer, info)
    serve = tf.function(signatures.serve, input_signature=signatures.input_signature())
    return lambda text: serve(text)["embedding"]


def embed_texts(embed, texts, batch_size=64):
    """Embeddings of `texts` (list of str), float32 [len(texts), hidden], in batches.

    Texts are batched in order of length, so a batch's texts pad to similar lengths.
    """
    if batch_size < 1:
        raise UsageError(f"`batch_size` ({batch_size}) must be >= 1.")
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    parts = [np.asarray(embed(tf.constant([texts[i] for i in order[start:start + batch_size]],
                                          tf.string)))
             for start in range(0, len(order), batch_size)]
    if not parts:
        return np.zeros([0, 0], np.float32)
    result = np.empty([len(texts), parts[0].shape[1]], np.float32)
    result[order] = np.concatenate(parts)
    return result


def cosine_similarities(embed, first, second, batch_size=64):
    """Cosine similarity of each pair `(first[i], second[i])`: float32 [pairs] in [-1, 1].

    Args:
        embed: a function from tf.string [batch] to float [batch, hidden] (`text_embedder`).
        first, second: lists of str of equal length.
        batch_size: int, texts per call of `embed`. Defaults to 64.
    """
    if len(first) != len(second):
        raise UsageError(f"`first` ({len(first)} texts) and `second` ({len(second)} texts) "
                         "must have equal lengths.")
    vectors = embed_texts(embed, list(first) + list(second), batch_size)
    a, b = vectors[:len(first)], vectors[len(first):]
    norms = np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    return (np.sum(a * b, axis=1) / norms).astype(np.float32)
