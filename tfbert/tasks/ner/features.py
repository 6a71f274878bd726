"""Word-level NER data as BERT windows: the first word piece of each word carries its tag.

Words are what the data labels: a character for the People's Daily split, a CoNLL token
for user files. Each word is tokenized on its own (so a label never straddles a word
boundary); its first piece gets the tag, other pieces, [CLS], [SEP] and padding get sample
weight 0. A sentence longer than `max_seq_length - 2` pieces is cut into consecutive
windows at word boundaries. A word with no pieces (whitespace, control characters) is in
no window; it is predicted `O`.
"""

import re
import typing

import numpy as np
import tensorflow as tf

WORD_SPLITS = ("chars", "whitespace")


class NerFeatures(typing.NamedTuple):
    """Windows of a list of sentences, ready for `model.fit`/`predict`.

    `inputs`: dict of int32 [windows, seq] encoder inputs. `labels`: int32 [windows, seq]
    tag ids (0 where ignored). `weights`: float32 [windows, seq], 1 at first pieces.
    `sentence`: int32 [windows], the sentence of each window. `word`: int32 [windows, seq],
    the word index within the sentence at first pieces, -1 elsewhere.
    """

    inputs: dict
    labels: np.ndarray
    weights: np.ndarray
    sentence: np.ndarray
    word: np.ndarray


def word_pieces(words, tokenizer, chunk=50_000):
    """Returns `{word: [piece ids]}` for the distinct words of `words` (an iterable of str)."""
    unique = sorted(set(words))
    pieces = {}
    for i in range(0, len(unique), chunk):
        batch = unique[i:i + chunk]
        ids = tokenizer.tokenize(tf.constant(batch, tf.string)).to_list()
        pieces.update(zip(batch, ids))
    return pieces


def ner_features(sentences, tokenizer, max_seq_length, tags=None, label_names=None):
    """Packs word lists into windows of at most `max_seq_length` tokens.

    Args:
        sentences: list of lists of str (words).
        tokenizer: `tfbert.tokenization.BertTokenizer`.
        max_seq_length: int, tokens per window including [CLS] and [SEP].
        tags: optional list of tag lists (parallel to `sentences`) for training.
        label_names: list of str, the tag set (index = class id); needed with `tags`.

    Returns:
        `NerFeatures`.
    """
    if max_seq_length < 3:
        raise ValueError(f"`max_seq_length` ({max_seq_length}) must be at least 3.")
    if tags is not None and len(tags) != len(sentences):
        raise ValueError(f"{len(sentences)} sentences but {len(tags)} tag lists.")
    index = {name: i for i, name in enumerate(label_names or ())}
    pieces = word_pieces((w for s in sentences for w in s), tokenizer)
    budget = max_seq_length - 2
    windows = []  # (sentence, [(piece ids, word index, tag id)])
    for n, words in enumerate(sentences):
        current, length = [], 0
        for w, word in enumerate(words):
            ids = pieces[word][:budget]  # an absurdly long word keeps its first pieces
            if not ids:
                continue
            if length + len(ids) > budget:
                windows.append((n, current))
                current, length = [], 0
            tag = 0
            if tags is not None:
                if tags[n][w] not in index:
                    raise ValueError(f"sentence {n}: tag {tags[n][w]!r} is not among the "
                                     f"labels {list(index)}.")
                tag = index[tags[n][w]]
            current.append((ids, w, tag))
            length += len(ids)
        if current:
            windows.append((n, current))
    count = len(windows)
    token_ids = np.full((count, max_seq_length), tokenizer.pad_id, np.int32)
    padding_mask = np.zeros((count, max_seq_length), np.int32)
    labels = np.zeros((count, max_seq_length), np.int32)
    weights = np.zeros((count, max_seq_length), np.float32)
    word = np.full((count, max_seq_length), -1, np.int32)
    sentence = np.zeros(count, np.int32)
    for row, (n, items) in enumerate(windows):
        sentence[row] = n
        token_ids[row, 0] = tokenizer.cls_id
        pos = 1
        for ids, w, tag in items:
            token_ids[row, pos:pos + len(ids)] = ids
            labels[row, pos], weights[row, pos], word[row, pos] = tag, 1.0, w
            pos += len(ids)
        token_ids[row, pos] = tokenizer.sep_id
        padding_mask[row, :pos + 1] = 1
    inputs = {"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids),
              "padding_mask": padding_mask}
    return NerFeatures(inputs, labels, weights, sentence, word)


def split_words(text, word_split):
    """Splits raw text into `(words, char spans)`: every character, or whitespace tokens."""
    if word_split == "chars":
        spans = [(i, i + 1) for i in range(len(text))]
    elif word_split == "whitespace":
        spans = [m.span() for m in re.finditer(r"\S+", text)]
    else:
        raise ValueError(f"`word_split` must be one of {WORD_SPLITS}, got {word_split!r}.")
    return [text[a:b] for a, b in spans], spans
