r"""Pretrains BERT with masked LM + next-sentence prediction.

From text with dynamic masking (default corpus: People's Daily, January 1998,
segmented, so whole-word masking uses real Chinese words):

    python -m apps.pretrain --config=tiny --vocab_file=runs/vocab/vocab.txt \
        --model_dir=runs/pretrain --train_steps=2000

From TFRecords written by `apps.create_pretraining_data` (static masks):

    python -m apps.pretrain --config=tiny --vocab_file=... --train_records='data/*.tfrecord' \
        --heldout_records=data/heldout.tfrecord --model_dir=runs/pretrain --train_steps=2000

Writes `MODEL_DIR/encoder/` (config, weights, vocab: an `--init_checkpoint` for the
fine-tuning programs) and `metrics.json` with held-out MLM and NSP accuracy.
"""

import tensorflow as tf
from absl import app, flags

from apps import common_flags
from tfbert.data.segmentation import WHOLE_WORD_MODES
from tfbert.data.text_corpus import load_pretraining_documents
from tfbert.errors import UsageError, run_program, writing
from tfbert.tasks.pretraining.run import pretrain, text_pairs
from tfbert.tokenization import BertTokenizer

common_flags.define_training_flags(batch_size=32, learning_rate=1e-4, epochs=1)
_INPUT_FILE = flags.DEFINE_string(
    "input_file", None, "Text corpus: one sentence per line, an empty line between "
    "documents. Default: the shipped People's Daily corpus.")
_TRAIN_RECORDS = flags.DEFINE_string("train_records", None, "TFRecord file pattern from "
                                     "create_pretraining_data (instead of text).")
_HELDOUT_RECORDS = flags.DEFINE_string("heldout_records", None, "Held-out TFRecords.")
_WHOLE_WORD = flags.DEFINE_enum(
    "whole_word_masking", "auto", WHOLE_WORD_MODES, "Which pieces are masked together: "
    "`segmented` (the corpus' own words), `jieba` (Chinese cut by jieba), `none`, or `auto` "
    "(the corpus' words if segmented, jieba for unsegmented Chinese, else ## pieces).")
_MAX_PREDICTIONS = flags.DEFINE_integer("max_predictions_per_seq", 20, "Masked positions "
                                        "per sequence.", lower_bound=1)
_DUPE_FACTOR = flags.DEFINE_integer("dupe_factor", 1, "Times each document is cut into "
                                    "pairs (with different cuts).", lower_bound=1)


def main(argv):
    del argv
    options, vocab_file = common_flags.training_options()
    if _TRAIN_RECORDS.value:
        if _INPUT_FILE.value:
            raise app.UsageError("Give --input_file or --train_records, not both.")
        if not options.train_steps:
            raise app.UsageError("--train_records needs --train_steps.")
        if not tf.io.gfile.glob(_TRAIN_RECORDS.value):
            raise UsageError(f"--train_records={_TRAIN_RECORDS.value}: no file matches.")
        common_flags.start_run(options, "pretraining", vocab_file)
        with writing(f"--model_dir={options.model_dir}"):
            pretrain(options, train_records=_TRAIN_RECORDS.value,
                     heldout_records=_HELDOUT_RECORDS.value,
                     max_predictions=_MAX_PREDICTIONS.value)
        return
    documents, segmentation = load_pretraining_documents(_INPUT_FILE.value, _WHOLE_WORD.value)
    print(f"Whole-word masking: {segmentation.mode}", flush=True)
    train, heldout = text_pairs(documents, BertTokenizer(vocab_file, options.do_lower_case),
                                options.max_seq_length, seed=options.seed,
                                dupe_factor=_DUPE_FACTOR.value,
                                segmented=segmentation.segmented)
    common_flags.require_examples(train, "input_file", _INPUT_FILE.value or "(shipped)")
    print(f"{len(documents)} documents -> {len(train)} training and {len(heldout)} "
          "held-out pairs.", flush=True)
    common_flags.start_run(options, "pretraining", vocab_file)
    with writing(f"--model_dir={options.model_dir}"):
        pretrain(options, train_pairs=train, heldout_pairs=heldout,
                 max_predictions=_MAX_PREDICTIONS.value, whole_word=segmentation.whole_word)


if __name__ == "__main__":
    flags.mark_flag_as_required("model_dir")
    run_program(main)
