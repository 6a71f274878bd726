"""One fine-tuning epoch on the sentiment reviews, raw text to finished epoch: tfbert vs
keras-hub vs Hugging Face `Trainer` (PyTorch CPU), each with its default settings.

    python -m benchmarks.finetune --preset=tiny --output_json=finetune_tiny.json
    python -m benchmarks.finetune --preset=small --output_json=finetune_small.json
    python -m benchmarks.finetune --examples=64 --systems=tfbert   # smoke run

Same model size, vocabulary (learned from the training texts, outside the timing), length
cap and batch for all. Each timed call starts from the raw strings and ends when the epoch
is over, model building and compilation included:

* tfbert: `tfbert.tasks.classification.run.train_classifier`, the code path of
  `apps.classify` and the quickstart: tokenize once in `tf.data`, length buckets of
  `--bucket_width`, XLA (`--jit_compile`), one loop of `epoch` steps (drops the last partial
  batch);
* keras-hub: `BertTextClassifier` + `BertTextClassifierPreprocessor` (pads every text to the
  cap) compiled with the task's defaults, `fit(texts, labels)`;
* Hugging Face: `BertTokenizerFast`, `BertForSequenceClassification`, `Trainer` on CPU
  (dynamic padding per batch), with random and with length-grouped sampling.

Prints examples/s and tfbert's ratio to each, useful (non-padding) tokens/s and the share
of the float32 matmul ceiling (encoder matmul FLOPs of the useful tokens ÷ time ÷ the
GFLOP/s of a `tf.matmul` probe run before and after). A system whose packages are missing
is a "not installed" row. `--rounds=N` runs every system N times in turn; the fastest counts.
"""

import dataclasses
import os
import shutil
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from benchmarks import endtoend  # noqa: E402
from benchmarks.timing import print_table  # noqa: E402
from tfbert.errors import UsageError, run_program  # noqa: E402

FLAGS = flags.FLAGS


def define_flags():
    """The program's flags (defined under __main__, so tests can import both programs)."""
    flags.DEFINE_enum("preset", "tiny", ["tiny", "small"], "BERT size of every system.")
    flags.DEFINE_integer("examples", 0, "Train on this many reviews (spread over the "
                         "split) instead of all 15,625: smoke runs.", lower_bound=0)
    flags.DEFINE_string("systems", "tfbert,keras_hub,hf", "Comma-separated systems.")
    flags.DEFINE_integer("batch_size", 32, "Examples per step.", lower_bound=1)
    flags.DEFINE_integer("max_seq_length", 128, "Length cap in tokens.", lower_bound=8)
    flags.DEFINE_integer("bucket_width", 32, "tfbert's length-bucket width (0: pad "
                         "to --max_seq_length).", lower_bound=0)
    flags.DEFINE_boolean("jit_compile", True, "tfbert's train step under XLA.")
    flags.DEFINE_integer("vocab_size", 8000, "WordPiece vocabulary size.", lower_bound=16)
    flags.DEFINE_integer("rounds", 1, "Epochs per system, in turn.", lower_bound=1)
    flags.DEFINE_string("output_json", None, "Write ratios and rows here.")
    flags.DEFINE_string("work_dir", None, "Runs go here; default: a temporary dir.")


REQUIREMENTS = {"tfbert": (), "keras_hub": ("keras_hub",),
                "hf": ("torch", "transformers", "accelerate")}
LABELS = ["neg", "pos"]


def tfbert_epoch(train, vocab_file, preset, batch_size, max_seq_length, bucket_width,
                 jit_compile, work_dir):
    from tfbert.tasks.classification.run import train_classifier
    from tfbert.training.options import TrainingOptions
    steps = len(train) // batch_size
    options = TrainingOptions(
        model_dir=tempfile.mkdtemp(prefix="tfbert_", dir=work_dir), config=preset,
        vocab_file=vocab_file, max_seq_length=max_seq_length, batch_size=batch_size,
        epochs=1, steps_per_loop=steps, jit_compile=jit_compile, bucket_width=bucket_width)
    train_classifier(options, [(t, None, y) for t, y in train], [], LABELS)
    return steps * batch_size


def keras_hub_epoch(train, vocab_file, config, batch_size, max_seq_length):
    from benchmarks.peers import keras_hub_text_classifier
    classifier = keras_hub_text_classifier(config, vocab_file, max_seq_length)
    classifier.fit(x=[t for t, _ in train], y=np.array([y for _, y in train]),
                   batch_size=batch_size, epochs=1, verbose=2)
    return len(train)


def hf_epoch(train, vocab_file, config, batch_size, max_seq_length, group_by_length,
             work_dir):
    import torch
    import transformers

    from benchmarks.peers import hf_classifier, hf_tokenizer
    tokenizer = hf_tokenizer(vocab_file, max_seq_length)
    encoded = tokenizer([t for t, _ in train], truncation=True, max_length=max_seq_length)
    dataset = [{**{k: v[i] for k, v in encoded.items()}, "labels": y}
               for i, (_, y) in enumerate(train)]
    torch.manual_seed(0)
    fields = {f.name for f in dataclasses.fields(transformers.TrainingArguments)}
    sampling = ({"train_sampling_strategy": "group_by_length" if group_by_length else "random"}
                if "train_sampling_strategy" in fields else {"group_by_length": group_by_length})
    args = transformers.TrainingArguments(
        output_dir=tempfile.mkdtemp(prefix="hf_", dir=work_dir), use_cpu=True,
        per_device_train_batch_size=batch_size, num_train_epochs=1, learning_rate=5e-5,
        report_to="none", disable_tqdm=True, seed=0, **sampling)
    trainer = transformers.Trainer(model=hf_classifier(config, LABELS), args=args,
                                   train_dataset=dataset, processing_class=tokenizer)
    trainer.train()
    return len(train)


def import_modules(systems):
    """Imports what each system's epoch uses, so no timed epoch pays for the imports."""
    import tfbert.tasks.classification.run  # noqa: F401
    import tfbert.training.options  # noqa: F401
    if "hf" in systems:
        import torch  # noqa: F401
        import transformers
        for name in ("Trainer", "TrainingArguments", "BertForSequenceClassification",
                     "BertTokenizerFast"):
            getattr(transformers, name)  # transformers imports its modules lazily


def run_finetune(preset, systems, examples, batch_size, max_seq_length, work_dir,
                 bucket_width=32, jit_compile=True, vocab_size=8000, rounds=1):
    """Times one epoch per system; returns the report (ratios, settings, rows)."""
    from tfbert import BertConfig
    from tfbert.data.sentiment import load_sentiment_split
    from tfbert.tokenization import BertTokenizer
    from tfbert.tokenization.learn import learn_vocab
    train = endtoend.spread_sample(load_sentiment_split()[0], examples)
    if len(train) < batch_size:
        raise UsageError(f"--examples={examples} gives no full batch of --batch_size="
                         f"{batch_size}.")
    texts = [t for t, _ in train]
    vocab_file = learn_vocab(texts, vocab_size, os.path.join(work_dir, "vocab"),
                             log=lambda *_: None)
    tokenizer = BertTokenizer(vocab_file)
    config = dataclasses.replace(BertConfig.preset(preset), vocab_size=tokenizer.vocab_size)
    lengths = np.minimum(tokenizer.tokenize(texts).row_lengths().numpy() + 2, max_seq_length)
    setting = f"buckets of {bucket_width}" if bucket_width else "padded to the cap"
    candidates = {
        ("tfbert", f"train_classifier, {setting}, XLA {'on' if jit_compile else 'off'}"):
        lambda: tfbert_epoch(train, vocab_file, preset, batch_size, max_seq_length,
                             bucket_width, jit_compile, work_dir),
        ("keras_hub", "BertTextClassifier.fit, defaults"):
        lambda: keras_hub_epoch(train, vocab_file, config, batch_size, max_seq_length)}
    for grouped in (False, True):
        candidates[("hf", f"Trainer, {'group_by_length' if grouped else 'random order'}")] = (
            lambda g=grouped: hf_epoch(train, vocab_file, config, batch_size, max_seq_length,
                                       g, work_dir))
    candidates = {key: run for key, run in candidates.items() if key[0] in systems}
    outcome = {}  # key -> a "not installed" / "failed" row, or the fastest (examples, seconds)
    for key in candidates:
        missing = endtoend.missing_modules(REQUIREMENTS[key[0]])
        if missing:
            outcome[key] = endtoend.not_installed_row(*key, missing)
    import_modules({key[0] for key in candidates if key not in outcome})
    ceiling = endtoend.matmul_gflops()
    for _ in range(rounds):
        for key, run in candidates.items():
            if isinstance(outcome.get(key), dict):
                continue
            print(f"== {key[0]}: {key[1]}", flush=True)
            start = time.perf_counter()
            try:
                count = run()
            except Exception as error:  # noqa: BLE001  (a peer's failure is a row)
                if key[0] == "tfbert":
                    raise
                outcome[key] = endtoend.failed_row(*key, error)
                continue
            seconds = time.perf_counter() - start
            if key not in outcome or seconds < outcome[key][1]:
                outcome[key] = (count, seconds)
    ceiling = max(ceiling, endtoend.matmul_gflops())
    flops_per_example = endtoend.encoder_flops(lengths, config) / len(train)
    rows = []
    for key in candidates:
        if isinstance(outcome[key], dict):
            rows.append(outcome[key])
            continue
        count, seconds = outcome[key]
        rows.append(endtoend.result_row(
            *key, count, seconds,
            useful_tokens_per_s=count * float(lengths.mean()) / seconds,
            matmul_share=count * flops_per_example / seconds / (ceiling * 1e9)))
    report = {**endtoend.ratios(rows), "preset": preset, "examples": len(train),
              "batch_size": batch_size, "max_seq_length": max_seq_length,
              "mean_useful_tokens": float(lengths.mean()), "matmul_gflops": ceiling,
              "cpu_count": os.cpu_count(), "rows": rows}
    print_report(report)
    return report


def print_report(report):
    ours = endtoend.best_rate(report["rows"], "tfbert")
    print_table(
        f"One fine-tuning epoch, BERT-{report['preset']}, {report['examples']} reviews, batch "
        f"{report['batch_size']}, cap {report['max_seq_length']} (mean useful length "
        f"{report['mean_useful_tokens']:.1f}); float32 matmul ceiling "
        f"{report['matmul_gflops']:.1f} GFLOP/s, {report['cpu_count']} CPUs",
        ("system", "setting", "examples/s", "tfbert / this", "useful tokens/s",
         "matmul ceiling share", "seconds", "status"),
        [(row["system"], row["setting"], endtoend.fmt(row.get("examples_per_s")),
          endtoend.fmt(ours / row["examples_per_s"] if ours and "examples_per_s" in row
                       else None, ".2f"),
          endtoend.fmt(row.get("useful_tokens_per_s"), ".0f"),
          endtoend.fmt(row.get("matmul_share"), ".1%"), endtoend.fmt(row.get("seconds")),
          row["status"]) for row in report["rows"]])
    print(f"\ntfbert / keras-hub: {endtoend.fmt(report['ratio_vs_keras_hub'], '.2f')} "
          f"(target >= 2.0); tfbert / HF Trainer's best: "
          f"{endtoend.fmt(report['ratio_vs_hf'], '.2f')} (target >= 1.5)")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    systems = endtoend.parse_systems(FLAGS.systems)
    work_dir = FLAGS.work_dir or tempfile.mkdtemp(prefix="tfbert_finetune_")
    try:
        report = run_finetune(FLAGS.preset, systems, FLAGS.examples, FLAGS.batch_size,
                              FLAGS.max_seq_length, work_dir, FLAGS.bucket_width,
                              FLAGS.jit_compile, FLAGS.vocab_size, FLAGS.rounds)
    finally:
        if FLAGS.work_dir is None:
            shutil.rmtree(work_dir, ignore_errors=True)
    if FLAGS.output_json:
        endtoend.write_json(FLAGS.output_json, report)
        print(f"Wrote {FLAGS.output_json}")


if __name__ == "__main__":
    define_flags()
    run_program(main)
