r"""Writes masked-LM + next-sentence pretraining examples as TFRecords (static masks).

    python -m apps.create_pretraining_data --vocab_file=runs/vocab/vocab.txt \
        --output_file=data/train.tfrecord --heldout_file=data/heldout.tfrecord

Input: `--input_file` (one sentence per line, an empty line between documents) or, by
default, the shipped People's Daily corpus (segmented, so whole-word masking masks whole
Chinese words). Pairs: 50% true next segment, 50% a random span from another document.
Masks: 15% of words, 80% [MASK] / 10% random / 10% unchanged. Train with
`apps.pretrain --train_records=... --heldout_records=...`.
"""

import time

import tensorflow as tf
from absl import flags

from tfbert.data.segmentation import WHOLE_WORD_MODES
from tfbert.data.text_corpus import load_pretraining_documents
from tfbert.errors import run_program
from tfbert.tasks.pretraining import features as data
from tfbert.tasks.pretraining.run import special_ids, text_pairs
from tfbert.tokenization import BertTokenizer

_INPUT_FILE = flags.DEFINE_string("input_file", None, "Text corpus; default: People's Daily.")
_VOCAB_FILE = flags.DEFINE_string("vocab_file", None, "vocab.txt (with its vocab_info.json).")
_OUTPUT_FILE = flags.DEFINE_string("output_file", None, "TFRecord file for training pairs.")
_HELDOUT_FILE = flags.DEFINE_string("heldout_file", None, "TFRecord file for the held-out "
                                    "pairs (every 20th document).")
_MAX_SEQ_LENGTH = flags.DEFINE_integer("max_seq_length", 128, "Tokens per example.",
                                       lower_bound=8)
_MAX_PREDICTIONS = flags.DEFINE_integer("max_predictions_per_seq", 20, "Masked positions "
                                        "per example.", lower_bound=1)
_DUPE_FACTOR = flags.DEFINE_integer("dupe_factor", 1, "Passes over the corpus, each with "
                                    "different cuts and masks.", lower_bound=1)
_WHOLE_WORD = flags.DEFINE_enum(
    "whole_word_masking", "auto", WHOLE_WORD_MODES, "Which pieces are masked together: "
    "`segmented` (the corpus' own words), `jieba` (Chinese cut by jieba), `none`, or `auto` "
    "(the corpus' words if segmented, jieba for unsegmented Chinese, else ## pieces).")
_SEED = flags.DEFINE_integer("random_seed", 12345, "Seed for pairs and masks.")


def create_pretraining_data(input_file, vocab_file, output_file, heldout_file, max_seq_length,
                            max_predictions, dupe_factor, whole_word, seed):
    """Returns `{"train": n, "heldout": m}`, the example counts written.

    `whole_word`: a `tfbert.data.segmentation.WHOLE_WORD_MODES` mode.
    """

    start = time.perf_counter()
    tf.random.set_seed(seed)
    tokenizer = BertTokenizer(vocab_file)
    documents, segmentation = load_pretraining_documents(input_file, whole_word)
    print(f"Whole-word masking: {segmentation.mode}", flush=True)
    train, heldout = text_pairs(documents, tokenizer, max_seq_length, seed=seed,
                                dupe_factor=dupe_factor, segmented=segmentation.segmented)
    masker = data.PretrainingMasker(tokenizer.vocab_size, special_ids(tokenizer),
                                    max_seq_length, max_predictions,
                                    whole_word=segmentation.whole_word)
    counts = {}
    for name, pairs, path in (("train", train, output_file), ("heldout", heldout, heldout_file)):
        if path:
            masked = data.masked_dataset(data.pairs_dataset(pairs), masker, 256,
                                         shuffle=False, drop_remainder=False)
            counts[name] = data.write_tfrecords(path, masked)
            print(f"Wrote {counts[name]} {name} examples to {path}", flush=True)
    print(f"{len(documents)} documents in {time.perf_counter() - start:.1f}s", flush=True)
    return counts


def main(argv):
    del argv
    create_pretraining_data(_INPUT_FILE.value, _VOCAB_FILE.value, _OUTPUT_FILE.value,
                            _HELDOUT_FILE.value, _MAX_SEQ_LENGTH.value, _MAX_PREDICTIONS.value,
                            _DUPE_FACTOR.value, _WHOLE_WORD.value, _SEED.value)


if __name__ == "__main__":
    flags.mark_flags_as_required(["vocab_file", "output_file"])
    run_program(main)
