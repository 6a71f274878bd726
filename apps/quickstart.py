r"""The whole tfbert path on shipped data, with no flags: vocab → pretrain → fine-tune → ship.

    python -m apps.quickstart --work_dir=quickstart

1. learns a WordPiece vocabulary from People's Daily (Jan. 1998) and the sentiment
   training texts (fast normalizer, so the TFLite file tokenizes like training did);
2. pretrains a small BERT with masked LM (whole Chinese words) + next-sentence prediction
   on People's Daily;
3. fine-tunes it on the sentiment reviews (fixed split of DESIGN.md) and evaluates on
   the held-out tenth;
4. exports a SavedModel that takes raw text (TF Serving layout) and a TFLite file;
5. writes WORK_DIR/summary.json.

Defaults fit in about a quarter of an hour on 2 CPU cores; see README for longer runs.
"""

import json
import os
import time

from absl import app, flags

from export.saved_model import export_saved_model
from export.tflite import convert_saved_model
from tfbert.data.peoples_daily import load_corpus_documents
from tfbert.data.sentiment import SENTIMENT_LABELS, load_sentiment_split
from tfbert.tasks.classification import train_classifier
from tfbert.tasks.pretraining import pretrain, text_pairs
from tfbert.tokenization import BertTokenizer
from tfbert.tokenization.learn import learn_vocab
from tfbert.training import TrainingOptions

_WORK_DIR = flags.DEFINE_string("work_dir", "quickstart", "Directory for every output.")
_CONFIG = flags.DEFINE_string("config", "tiny", "Encoder preset or BertConfig JSON.")
_VOCAB_SIZE = flags.DEFINE_integer("vocab_size", 8000, "Target vocabulary size.",
                                   lower_bound=16)
_PRETRAIN_STEPS = flags.DEFINE_integer("pretrain_steps", 1500, "Pretraining steps (0 skips "
                                       "pretraining).", lower_bound=0)
_FINETUNE_EPOCHS = flags.DEFINE_integer("finetune_epochs", 3, "Fine-tuning epochs.",
                                        lower_bound=1)
_FINETUNE_STEPS = flags.DEFINE_integer("finetune_steps", None, "Fine-tuning steps; "
                                       "overrides --finetune_epochs.", lower_bound=1)
_MAX_SEQ_LENGTH = flags.DEFINE_integer("max_seq_length", 128, "Tokens per sequence.",
                                       lower_bound=8)
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 32, "Global batch size.", lower_bound=1)
_CPU_DEVICES = flags.DEFINE_integer("cpu_devices", 1, "Logical CPU devices (mirrored "
                                    "training without GPUs).", lower_bound=1)


def build_vocabulary(work_dir, vocab_size, sentiment_train):
    texts = ["".join(sentence) for doc in load_corpus_documents() for sentence in doc]
    texts += [text for text, _ in sentiment_train]
    return learn_vocab(texts, vocab_size, os.path.join(work_dir, "vocab"), normalizer="fast")


def run_quickstart(work_dir, config, vocab_size, pretrain_steps, finetune_epochs,
                   max_seq_length, batch_size, cpu_devices=1, finetune_steps=None):
    """Runs the five steps and returns the summary dict (also in `summary.json`)."""
    start = time.perf_counter()
    os.makedirs(work_dir, exist_ok=True)
    summary = {"config": config}
    train, eval_ = load_sentiment_split()

    print("== 1/5 vocabulary", flush=True)
    vocab_file = build_vocabulary(work_dir, vocab_size, train)
    summary["vocab_file"] = vocab_file
    strategy = "mirrored" if cpu_devices > 1 else "default"

    init_checkpoint = None
    if pretrain_steps:
        print("== 2/5 pretraining (masked LM + next sentence)", flush=True)
        options = TrainingOptions(
            model_dir=os.path.join(work_dir, "pretrain"), strategy=strategy,
            cpu_devices=cpu_devices, config=config, vocab_file=vocab_file,
            max_seq_length=max_seq_length, batch_size=batch_size, learning_rate=5e-4,
            train_steps=pretrain_steps, steps_per_loop=max(1, pretrain_steps // 5))
        pairs, heldout = text_pairs(load_corpus_documents(), BertTokenizer(vocab_file),
                                    max_seq_length)
        scores = pretrain(options, train_pairs=pairs, heldout_pairs=heldout,
                          whole_word=True)
        summary.update({k: v for k, v in scores.items() if k.startswith("heldout_")})
        init_checkpoint = scores["encoder_dir"]

    print("== 3/5 fine-tuning on sentiment reviews", flush=True)
    options = TrainingOptions(
        model_dir=os.path.join(work_dir, "classifier"), strategy=strategy,
        cpu_devices=1, config=None if init_checkpoint else config,
        init_checkpoint=init_checkpoint, vocab_file=vocab_file,
        max_seq_length=max_seq_length, batch_size=batch_size, learning_rate=2e-4,
        epochs=finetune_epochs, train_steps=finetune_steps, steps_per_loop=500)
    scores = train_classifier(options, [(t, None, y) for t, y in train],
                              [(t, None, y) for t, y in eval_], list(SENTIMENT_LABELS))
    summary["eval_accuracy"] = scores["eval_accuracy"]
    summary["eval_macro_f1"] = scores["eval_macro_f1"]
    summary["classifier_dir"] = options.model_dir

    print("== 4/5 SavedModel export (raw text in)", flush=True)
    summary["saved_model_dir"] = os.path.abspath(export_saved_model(
        options.model_dir, os.path.join(work_dir, "export"), "sentiment"))

    print("== 5/5 TFLite conversion", flush=True)
    summary["tflite_file"] = os.path.abspath(convert_saved_model(
        summary["saved_model_dir"], os.path.join(work_dir, "sentiment.tflite")))

    summary["seconds"] = round(time.perf_counter() - start, 1)
    path = os.path.join(work_dir, "summary.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"Wrote {path}:\n{json.dumps(summary, indent=2, ensure_ascii=False)}", flush=True)
    return summary


def main(argv):
    del argv
    run_quickstart(_WORK_DIR.value, _CONFIG.value, _VOCAB_SIZE.value, _PRETRAIN_STEPS.value,
                   _FINETUNE_EPOCHS.value, _MAX_SEQ_LENGTH.value, _BATCH_SIZE.value,
                   _CPU_DEVICES.value, _FINETUNE_STEPS.value)


if __name__ == "__main__":
    app.run(main)
