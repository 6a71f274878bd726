"""SQuAD features: doc-stride windows over word-piece offsets.

Features follow google-research/bert `run_squad.py` (`[CLS] question [SEP] context window
[SEP]`, windows `doc_stride` pieces apart, "max context" per piece, [CLS] = position 0 as
the no-answer/out-of-window target) but locate answers through the character span of every
context piece (`BertTokenizer.tokenize_with_offsets`), so a predicted span is cut from the
context by character offsets and is always an exact substring of it.
"""

import typing

import numpy as np
import tensorflow as tf

from tfbert.tokenization import char_offsets


class SquadFeatures(typing.NamedTuple):
    """Windows of SQuAD examples.

    `inputs`: dict of int32 [features, seq] encoder inputs. `start_positions`,
    `end_positions`: int32 [features] training targets (0 = [CLS]: no answer in the window).
    `example`: int32 [features], index of the example. `char_start`, `char_end`: int32
    [features, seq], the context characters of each context piece, -1 elsewhere.
    `max_context`: bool [features, seq], the piece has its most central window here.
    """

    inputs: dict
    start_positions: np.ndarray
    end_positions: np.ndarray
    example: np.ndarray
    char_start: np.ndarray
    char_end: np.ndarray
    max_context: np.ndarray


def _tokenize_contexts(contexts, tokenizer, chunk=256):
    """`{context: (ids, char starts, char ends)}` as lists, for the distinct contexts."""
    unique = list(dict.fromkeys(contexts))
    result = {}
    for i in range(0, len(unique), chunk):
        batch = tf.constant(unique[i:i + chunk], tf.string)
        ids, starts, ends = tokenizer.tokenize_with_offsets(batch)
        starts, ends = char_offsets(batch, starts, ends)
        result.update(zip(unique[i:i + chunk],
                          zip(ids.to_list(), starts.to_list(), ends.to_list())))
    return result


def doc_spans(num_pieces, window, doc_stride):
    """`(start, length)` windows over `num_pieces` pieces, as `run_squad.py` cuts them."""
    spans, start = [], 0
    while True:
        length = min(num_pieces - start, window)
        spans.append((start, length))
        if start + length >= num_pieces:
            return spans
        start += min(length, doc_stride)


def _max_context(spans, position):
    """Index of the span where `position` has the most context on its shorter side."""
    best, best_score = None, None
    for i, (start, length) in enumerate(spans):
        if start <= position < start + length:
            score = min(position - start, start + length - 1 - position) + 0.01 * length
            if best_score is None or score > best_score:
                best, best_score = i, score
    return best


def answer_pieces(starts, ends, answer_start, answer_end):
    """First and last piece overlapping characters `[answer_start, answer_end)`, or None."""
    inside = [i for i, (s, e) in enumerate(zip(starts, ends)) if s < answer_end and
              e > answer_start]
    return (inside[0], inside[-1]) if inside else None


def squad_features(examples, tokenizer, max_seq_length, doc_stride=128, max_query_length=64):
    """Builds windows for `SquadExample`s; targets from each example's first answer.

    Raises:
        ValueError: if `max_seq_length` leaves no room for context after the question.
    """
    if max_seq_length - max_query_length - 3 < 1:
        raise ValueError(
            f"`max_seq_length` ({max_seq_length}) must exceed `max_query_length` "
            f"({max_query_length}) + 3 to leave room for the context.")
    if doc_stride < 1:
        raise ValueError(f"`doc_stride` must be >= 1, got {doc_stride}.")
    questions = tokenizer.tokenize(
        tf.constant([e.question for e in examples] or [""], tf.string)).to_list()
    contexts = _tokenize_contexts([e.context for e in examples], tokenizer)
    rows = []
    for n, example in enumerate(examples):
        query = questions[n][:max_query_length]
        ids, starts, ends = contexts[example.context]
        window = max_seq_length - len(query) - 3
        spans = doc_spans(len(ids), window, doc_stride)
        target = None
        if example.answers and not example.is_impossible:
            text, start = example.answers[0]
            target = answer_pieces(starts, ends, start, start + len(text))
        offset = len(query) + 2  # [CLS] question [SEP]
        for i, (span_start, length) in enumerate(spans):
            pieces = range(span_start, span_start + length)
            start_position = end_position = 0
            if target and span_start <= target[0] and target[1] < span_start + length:
                start_position = target[0] - span_start + offset
                end_position = target[1] - span_start + offset
            rows.append((n, query, [ids[p] for p in pieces], [starts[p] for p in pieces],
                         [ends[p] for p in pieces],
                         [_max_context(spans, p) == i for p in pieces],
                         start_position, end_position))
    count = len(rows)
    shape = (count, max_seq_length)
    token_ids = np.full(shape, tokenizer.pad_id, np.int32)
    segment_ids, padding_mask = np.zeros(shape, np.int32), np.zeros(shape, np.int32)
    char_start, char_end = np.full(shape, -1, np.int32), np.full(shape, -1, np.int32)
    max_context = np.zeros(shape, bool)
    for r, (_, query, ids, starts, ends, is_max, _, _) in enumerate(rows):
        offset = len(query) + 2
        stop = offset + len(ids)
        token_ids[r, :stop + 1] = ([tokenizer.cls_id] + query + [tokenizer.sep_id] + ids
                                   + [tokenizer.sep_id])
        segment_ids[r, offset:stop + 1] = 1
        padding_mask[r, :stop + 1] = 1
        char_start[r, offset:stop], char_end[r, offset:stop] = starts, ends
        max_context[r, offset:stop] = is_max
    inputs = {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}
    return SquadFeatures(
        inputs, np.array([r[6] for r in rows], np.int32).reshape(-1),
        np.array([r[7] for r in rows], np.int32).reshape(-1),
        np.array([r[0] for r in rows], np.int32).reshape(-1), char_start, char_end, max_context)
