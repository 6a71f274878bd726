r"""The whole tfbert path on shipped data, with no flags: vocab → pretrain → fine-tune → ship.

    python -m apps.quickstart --work_dir=quickstart              # sentiment reviews
    python -m apps.quickstart --task=ner --work_dir=quickstart_ner  # People's Daily NER

1. learns a WordPiece vocabulary from People's Daily (Jan. 1998) and the sentiment training
   texts (fast normalizer, so the TFLite file tokenizes like training did);
2. pretrains a small BERT with masked LM (whole Chinese words) + next-sentence prediction,
   on People's Daily and the sentiment training texts (never evaluation text: for NER the
   evaluation lines are left out of the corpus);
3. fine-tunes it on the task's fixed split (DESIGN.md), evaluating every loop and keeping
   the best;
4. exports a SavedModel that takes raw text (TF Serving layout) and a TFLite file;
5. writes WORK_DIR/summary.json.

`--pretrain_steps=0` fine-tunes from random initialisation (the no-pretraining ablation).
"""

import json
import os
import random
import time

from absl import flags

from export.saved_model import export_saved_model
from export.tflite import convert_saved_model, convert_tflite
from tfbert.data.peoples_daily import NER_LABELS, load_corpus_documents, load_ner_split
from tfbert.data.sentiment import SENTIMENT_LABELS, load_sentiment_split, review_documents
from tfbert.errors import run_program
from tfbert.tasks.classification.run import train_classifier
from tfbert.tasks.ner.run import train_ner
from tfbert.tasks.pretraining.run import pretrain, text_pairs
from tfbert.tokenization import BertTokenizer
from tfbert.tokenization.learn import learn_vocab
from tfbert.training.options import TrainingOptions

FINETUNE_LEARNING_RATES = {"sentiment": 1e-3, "ner": 3e-3}


def define_flags():
    """The program's flags, defined under `__main__` (and by `benchmarks.quality`), so tests
    can import programs whose flags share names."""
    flags.DEFINE_enum("task", "sentiment", ["sentiment", "ner"], "What to fine-tune: "
                      "sentiment reviews (classification) or People's Daily NER.")
    flags.DEFINE_string("work_dir", "quickstart", "Directory for every output.")
    flags.DEFINE_string("config", "tiny", "Encoder preset or BertConfig JSON.")
    flags.DEFINE_integer("vocab_size", 8000, "Target vocabulary size.", lower_bound=16)
    flags.DEFINE_integer("pretrain_steps", 2000, "Pretraining steps (0 skips pretraining).",
                         lower_bound=0)
    flags.DEFINE_float("pretrain_learning_rate", 2e-3, "Peak learning rate of pretraining.")
    flags.DEFINE_integer("finetune_epochs", 3, "Fine-tuning epochs.", lower_bound=1)
    flags.DEFINE_integer("finetune_steps", None, "Fine-tuning steps; overrides "
                         "--finetune_epochs.", lower_bound=1)
    flags.DEFINE_float(
        "finetune_learning_rate", None, "Peak learning rate of fine-tuning; default per task "
        f"({', '.join(f'{k} {v:g}' for k, v in FINETUNE_LEARNING_RATES.items())}).")
    flags.DEFINE_integer("pretrain_seq_length", 128, "Tokens per pretraining sequence.",
                         lower_bound=8)
    flags.DEFINE_integer("max_seq_length", 256, "Tokens per fine-tuning sequence (length "
                         "buckets keep short texts short).", lower_bound=8)
    flags.DEFINE_integer("batch_size", 32, "Global batch size.", lower_bound=1)
    flags.DEFINE_integer("seed", 0, "Seed of initialisation, shuffling and masking.")
    flags.DEFINE_integer("cpu_devices", 1, "Logical CPU devices (mirrored training without "
                         "GPUs).", lower_bound=1)
    flags.DEFINE_boolean("jit_compile", True, "Compile the training steps with XLA (faster "
                         "for small models on CPU too).")


def run_quickstart(work_dir, task="sentiment", config="tiny", vocab_size=8000,
                   pretrain_steps=2000, pretrain_learning_rate=2e-3, finetune_epochs=3,
                   finetune_steps=None, finetune_learning_rate=None, max_seq_length=256,
                   batch_size=32, seed=0, cpu_devices=1, jit_compile=True,
                   pretrain_seq_length=128):
    """Runs the five steps and returns the summary dict (also in `summary.json`)."""
    start = time.perf_counter()
    os.makedirs(work_dir, exist_ok=True)
    summary = {"task": task, "config": config, "pretrain_steps": pretrain_steps, "seed": seed}
    sentiment_train, sentiment_eval = load_sentiment_split()
    documents = load_corpus_documents(exclude_ner_eval=task == "ner")
    strategy = "mirrored" if cpu_devices > 1 else "default"
    options = dict(strategy=strategy, cpu_devices=cpu_devices, batch_size=batch_size,
                   seed=seed, jit_compile=jit_compile)

    print("== 1/5 vocabulary", flush=True)
    texts = ["".join(s) for d in documents for s in d] + [t for t, _ in sentiment_train]
    vocab_file = learn_vocab(texts, vocab_size, os.path.join(work_dir, "vocab"),
                             normalizer="fast")
    summary["vocab_file"] = vocab_file

    init_checkpoint = None
    if pretrain_steps:
        print("== 2/5 pretraining (masked LM + next sentence)", flush=True)
        # In-domain text: the sentiment training reviews (never the evaluation ones),
        # shuffled so that a document does not group reviews of one label.
        texts = [t for t, _ in sentiment_train]
        random.Random(seed).shuffle(texts)
        reviews = review_documents(texts, reviews_per_document=20)
        pairs, heldout = text_pairs(documents + reviews, BertTokenizer(vocab_file),
                                    pretrain_seq_length, seed=seed)
        scores = pretrain(
            TrainingOptions(model_dir=os.path.join(work_dir, "pretrain"), config=config,
                            vocab_file=vocab_file, learning_rate=pretrain_learning_rate,
                            adam_beta2=0.98, train_steps=pretrain_steps,
                            max_seq_length=pretrain_seq_length,
                            steps_per_loop=max(1, pretrain_steps // 5), **options),
            train_pairs=pairs, heldout_pairs=heldout, whole_word=True)
        summary.update({k: v for k, v in scores.items() if k.startswith("heldout_")})
        init_checkpoint = scores["encoder_dir"]

    print(f"== 3/5 fine-tuning ({task})", flush=True)
    finetune = TrainingOptions(
        model_dir=os.path.join(work_dir, task), config=None if init_checkpoint else config,
        init_checkpoint=init_checkpoint, vocab_file=vocab_file,
        learning_rate=finetune_learning_rate or FINETUNE_LEARNING_RATES[task],
        epochs=finetune_epochs,
        train_steps=finetune_steps, steps_per_loop=500, max_seq_length=max_seq_length,
        # Four widths (64 ... 256): few XLA compilations, little padding.
        bucket_width=64, **options)
    if task == "ner":
        train, eval_ = load_ner_split()
        scores = train_ner(finetune, train, eval_, list(NER_LABELS))
        summary.update({k: scores[k] for k in ("eval_f1", "eval_precision", "eval_recall")})
    else:
        scores = train_classifier(finetune, [(t, None, y) for t, y in sentiment_train],
                                  [(t, None, y) for t, y in sentiment_eval],
                                  list(SENTIMENT_LABELS))
        summary.update({k: scores[k] for k in ("eval_accuracy", "eval_macro_f1")})
    summary["model_dir"] = finetune.model_dir
    summary["learning_curve"] = scores.get("learning_curve")

    print("== 4/5 SavedModel export (raw text in)", flush=True)
    summary["saved_model_dir"] = os.path.abspath(export_saved_model(
        finetune.model_dir, os.path.join(work_dir, "export"), task))

    print("== 5/5 TFLite conversion", flush=True)
    tflite_file = os.path.join(work_dir, f"{task}.tflite")
    # NER on device needs the run's device offsets: it converts from the run directory.
    summary["tflite_file"] = os.path.abspath(
        convert_tflite(finetune.model_dir, tflite_file) if task == "ner"
        else convert_saved_model(summary["saved_model_dir"], tflite_file))

    summary["seconds"] = round(time.perf_counter() - start, 1)
    path = os.path.join(work_dir, "summary.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"Wrote {path}:\n{json.dumps(summary, indent=2, ensure_ascii=False)}", flush=True)
    return summary


def settings_from_flags():
    """`run_quickstart`'s keyword arguments (all but `work_dir`) from the flags."""
    values = flags.FLAGS
    names = ("task", "config", "vocab_size", "pretrain_steps", "pretrain_learning_rate",
             "finetune_epochs", "finetune_steps", "finetune_learning_rate", "max_seq_length",
             "batch_size", "seed", "cpu_devices", "jit_compile", "pretrain_seq_length")
    return {name: values[name].value for name in names}


def main(argv):
    del argv
    run_quickstart(flags.FLAGS.work_dir, **settings_from_flags())


if __name__ == "__main__":
    define_flags()
    run_program(main)
