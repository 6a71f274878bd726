"""Pretraining examples: next-sentence pairs and masked-LM masking.

Pairs are built in Python from tokenized documents, as the original
`create_pretraining_data.py` does: sentences are packed into a chunk up to a
target length, the chunk is cut into segment A and B, and half of the time B is
replaced by a span from another document (`next_sentence_label` 1; 0 = "is
next", the original's convention).

Masking uses tf-text's `RandomItemSelector` and `MaskValuesChooser` (15% of
words; of those 80% [MASK], 10% random, 10% kept) inside a `tf.data` map, so
the same code writes static TFRecords and masks dynamically per epoch. With
whole-word masking every piece of a chosen word is masked together (Chinese
words come from the segmented corpus).
"""

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

NSP_IS_NEXT, NSP_RANDOM = 0, 1


def tokenize_documents(documents, tokenizer, batch_size=8192, segmented=True):
    """Word-piece ids of every word, keeping word boundaries.

    Args:
        documents: list of documents; a document is a list of sentences; a sentence is
            a list of words (str).
        tokenizer: a `tfbert.tokenization.BertTokenizer`.
        segmented: the words are linguistic words (a segmented Chinese corpus): all
            their pieces form one word. Otherwise a word is a piece plus the `##`
            pieces that follow it, as the original BERT's whole-word masking groups.
    Returns:
        the same nesting where each sentence is `(ids, word_starts)`: int lists of equal
        length, `word_starts[i]` 1 where a word begins. Empty sentences are dropped.
    """
    words = [w for doc in documents for sentence in doc for w in sentence]
    pieces = []
    for start in range(0, len(words), batch_size):
        batch = tokenizer.tokenize(tf.constant(words[start:start + batch_size]))
        pieces.extend(batch.to_list())
    is_suffix = [token.startswith("##") for token in tokenizer.vocab]
    tokenized, cursor = [], 0
    for doc in documents:
        sentences = []
        for sentence in doc:
            ids, starts = [], []
            for word_pieces in pieces[cursor:cursor + len(sentence)]:
                ids.extend(word_pieces)
                starts.extend(1 if i == 0 else int(not segmented and not is_suffix[piece])
                              for i, piece in enumerate(word_pieces))
            cursor += len(sentence)
            if ids:
                sentences.append((ids, starts))
        if sentences:
            tokenized.append(sentences)
    return tokenized


def count_words(tokenized):
    """`(words, words of several pieces)` in `tokenize_documents`' output: the second
    are the words whole-word masking masks as one."""
    words = multi_piece = 0
    for doc in tokenized:
        for _, starts in doc:
            positions = [i for i, start in enumerate(starts) if start] + [len(starts)]
            words += len(positions) - 1
            multi_piece += sum(1 for a, b in zip(positions, positions[1:]) if b - a > 1)
    return words, multi_piece


def _join(sentences):
    ids = [i for s in sentences for i in s[0]]
    starts = [f for s in sentences for f in s[1]]
    return ids, starts


def _truncate_pair(a, b, max_tokens, rng):
    """Trims the longer segment one piece at a time, from the front or back at random."""
    a_ids, a_starts = list(a[0]), list(a[1])
    b_ids, b_starts = list(b[0]), list(b[1])
    while len(a_ids) + len(b_ids) > max_tokens:
        ids, starts = (a_ids, a_starts) if len(a_ids) > len(b_ids) else (b_ids, b_starts)
        if rng.random() < 0.5:
            del ids[0], starts[0]
        else:
            ids.pop(), starts.pop()
    # A segment must begin at a word start for whole-word grouping.
    for starts in (a_starts, b_starts):
        if starts:
            starts[0] = 1
    return (a_ids, a_starts), (b_ids, b_starts)


def create_nsp_pairs(documents, max_seq_length, seed=12345, short_seq_prob=0.1,
                     dupe_factor=1):
    """Builds next-sentence-prediction pairs from `tokenize_documents` output.

    Returns a list of dicts with `a_ids`, `a_starts`, `b_ids`, `b_starts` (int lists)
    and `next_sentence_label` (0 is next, 1 random), fitting `max_seq_length`
    with [CLS] A [SEP] B [SEP].
    """
    if len(documents) < 2:
        raise ValueError(
            f"Next-sentence pairs need at least 2 documents, got {len(documents)}.")
    rng = np.random.default_rng(seed)
    max_tokens = max_seq_length - 3
    pairs = []
    for _ in range(dupe_factor):
        for doc_index, doc in enumerate(documents):
            target = max_tokens if rng.random() >= short_seq_prob else int(
                rng.integers(2, max_tokens + 1))
            chunk, length, i = [], 0, 0
            while i < len(doc):
                chunk.append(doc[i])
                length += len(doc[i][0])
                if i == len(doc) - 1 or length >= target:
                    a_end = int(rng.integers(1, len(chunk))) if len(chunk) >= 2 else 1
                    a = _join(chunk[:a_end])
                    if len(chunk) == 1 or rng.random() < 0.5:
                        label = NSP_RANDOM
                        other = int(rng.integers(0, len(documents) - 1))
                        other += other >= doc_index  # never the same document
                        other_doc = documents[other]
                        start = int(rng.integers(0, len(other_doc)))
                        b_sentences, b_length = [], 0
                        for sentence in other_doc[start:]:
                            b_sentences.append(sentence)
                            b_length += len(sentence[0])
                            if b_length >= target - len(a[0]):
                                break
                        b = _join(b_sentences)
                        i -= len(chunk) - a_end  # unused sentences go back to the pool
                    else:
                        label = NSP_IS_NEXT
                        b = _join(chunk[a_end:])
                    a, b = _truncate_pair(a, b, max_tokens, rng)
                    if a[0] and b[0]:
                        pairs.append({"a_ids": a[0], "a_starts": a[1], "b_ids": b[0],
                                      "b_starts": b[1], "next_sentence_label": label})
                    chunk, length = [], 0
                i += 1
    rng.shuffle(pairs)
    return pairs


def pairs_dataset(pairs):
    """A `tf.data.Dataset` of single unmasked pairs (ragged-friendly int32 features)."""
    def column(key):
        return tf.ragged.constant([p[key] for p in pairs], dtype=tf.int32)
    return tf.data.Dataset.from_tensor_slices({
        "a_ids": column("a_ids"), "a_starts": column("a_starts"),
        "b_ids": column("b_ids"), "b_starts": column("b_starts"),
        "next_sentence_label": tf.constant([p["next_sentence_label"] for p in pairs],
                                           tf.int32),
    })


def _words(ids, starts):
    """[batch, (pieces)] ids + word-start flags -> [batch, (words), (pieces)]."""
    word_starts = tf.where(tf.cast(starts.flat_values, tf.bool))[:, 0]
    words = tf.RaggedTensor.from_row_starts(ids.flat_values, word_starts)
    return tf.RaggedTensor.from_row_lengths(
        words, tf.cast(tf.reduce_sum(starts, axis=1), tf.int64))


class PretrainingMasker:
    """Masks and packs batches of pairs into `BertPretrainer` inputs, labels and weights.

    Args:
        vocab_size: int.
        special_ids: dict with `cls`, `sep`, `pad`, `mask` ids.
        max_seq_length: int, packed length.
        max_predictions: int, masked positions per sequence (static).
        whole_word: bool, mask every piece of a chosen word together.
        selection_rate: float, share of words chosen. Defaults to 0.15.
    """

    def __init__(self, vocab_size, special_ids, max_seq_length, max_predictions,
                 whole_word=False, selection_rate=0.15):
        self.special_ids = special_ids
        self.max_seq_length = max_seq_length
        self.max_predictions = max_predictions
        self.whole_word = whole_word
        self.selector = tf_text.RandomItemSelector(
            max_selections_per_batch=max_predictions, selection_rate=selection_rate,
            unselectable_ids=[special_ids["cls"], special_ids["sep"], special_ids["pad"]])
        self.chooser = tf_text.MaskValuesChooser(
            vocab_size, special_ids["mask"], mask_token_rate=0.8, random_token_rate=0.1)

    def __call__(self, batch):
        a, b = batch["a_ids"], batch["b_ids"]
        a_starts, b_starts = batch["a_starts"], batch["b_starts"]
        if not self.whole_word:  # every piece is its own word
            a_starts, b_starts = tf.ones_like(a), tf.ones_like(b)
        rows = a.nrows()
        special = lambda token: tf.RaggedTensor.from_uniform_row_length(  # noqa: E731
            tf.RaggedTensor.from_uniform_row_length(tf.fill([rows], token), 1), 1)
        cls, sep = special(self.special_ids["cls"]), special(self.special_ids["sep"])
        a_words, b_words = _words(a, a_starts), _words(b, b_starts)
        words = tf.concat([cls, a_words, sep, b_words, sep], axis=1)
        segments = tf.concat([tf.zeros_like(cls), tf.zeros_like(a_words), tf.zeros_like(sep),
                              tf.ones_like(b_words), tf.ones_like(sep)], axis=1)
        masked, positions, original = tf_text.mask_language_model(
            words, self.selector, self.chooser, axis=1)
        shape = [None, self.max_seq_length]
        token_ids = masked.to_tensor(self.special_ids["pad"], shape=shape)
        # Whole words can overflow `max_predictions` pieces: unmask what is not predicted.
        dropped = positions[:, self.max_predictions:]
        dropped_index = tf.stack([tf.cast(dropped.value_rowids(), tf.int64),
                                  tf.cast(dropped.flat_values, tf.int64)], axis=1)
        token_ids = tf.tensor_scatter_nd_update(
            token_ids, dropped_index, original[:, self.max_predictions:].flat_values)
        predictions = [None, self.max_predictions]
        masked_positions = positions.to_tensor(0, shape=predictions)
        features = {
            "token_ids": token_ids,
            "segment_ids": segments.merge_dims(1, 2).to_tensor(0, shape=shape),
            "padding_mask": tf.cast(token_ids != self.special_ids["pad"], tf.int32),
            "masked_positions": tf.cast(masked_positions, tf.int32),
        }
        labels = {"mlm_logits": original.to_tensor(0, shape=predictions),
                  "nsp_logits": batch["next_sentence_label"]}
        weights = {"mlm_logits": tf.cast(
                       positions.with_flat_values(tf.ones_like(positions.flat_values))
                       .to_tensor(0, shape=predictions), tf.float32),
                   "nsp_logits": tf.ones_like(batch["next_sentence_label"], tf.float32)}
        return features, labels, weights


def masked_dataset(pairs_ds, masker, batch_size, shuffle=True, seed=0, drop_remainder=True):
    """Batches unmasked pairs and masks them on the fly (dynamic masking)."""
    if shuffle:
        pairs_ds = pairs_ds.shuffle(10_000, seed=seed, reshuffle_each_iteration=True)
    return (pairs_ds.ragged_batch(batch_size, drop_remainder=drop_remainder)
            .map(masker, num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))


# === Static TFRecords ===

def _int_feature(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=np.asarray(values).ravel()))


def write_tfrecords(path, dataset):
    """Writes a masked `(features, labels, weights)` dataset as `tf.train.Example`s.

    Returns the number of examples written.
    """
    count = 0
    with tf.io.TFRecordWriter(path) as writer:
        for features, labels, weights in dataset.unbatch().as_numpy_iterator():
            record = {name: _int_feature(value) for name, value in features.items()}
            record["masked_ids"] = _int_feature(labels["mlm_logits"])
            record["masked_weights"] = tf.train.Feature(float_list=tf.train.FloatList(
                value=weights["mlm_logits"]))
            record["next_sentence_label"] = _int_feature([labels["nsp_logits"]])
            writer.write(tf.train.Example(
                features=tf.train.Features(feature=record)).SerializeToString())
            count += 1
    return count


def read_tfrecords(file_pattern, max_seq_length, max_predictions, batch_size,
                   shuffle=True, drop_remainder=True):
    """Reads `write_tfrecords` files into batched `(features, labels, weights)`."""
    files = tf.io.gfile.glob(file_pattern)
    if not files:
        raise ValueError(f"No TFRecord files match {file_pattern!r}.")
    seq, pred = [max_seq_length], [max_predictions]
    spec = {
        "token_ids": tf.io.FixedLenFeature(seq, tf.int64),
        "segment_ids": tf.io.FixedLenFeature(seq, tf.int64),
        "padding_mask": tf.io.FixedLenFeature(seq, tf.int64),
        "masked_positions": tf.io.FixedLenFeature(pred, tf.int64),
        "masked_ids": tf.io.FixedLenFeature(pred, tf.int64),
        "masked_weights": tf.io.FixedLenFeature(pred, tf.float32),
        "next_sentence_label": tf.io.FixedLenFeature([1], tf.int64),
    }

    def parse(records):
        example = tf.io.parse_example(records, spec)
        features = {name: tf.cast(example[name], tf.int32) for name in
                    ("token_ids", "segment_ids", "padding_mask", "masked_positions")}
        nsp = tf.cast(example["next_sentence_label"][:, 0], tf.int32)
        labels = {"mlm_logits": tf.cast(example["masked_ids"], tf.int32), "nsp_logits": nsp}
        weights = {"mlm_logits": example["masked_weights"],
                   "nsp_logits": tf.ones_like(nsp, tf.float32)}
        return features, labels, weights

    ds = tf.data.TFRecordDataset(files, num_parallel_reads=tf.data.AUTOTUNE)
    if shuffle:
        ds = ds.shuffle(10_000)
    return (ds.batch(batch_size, drop_remainder=drop_remainder)
            .map(parse, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE))
