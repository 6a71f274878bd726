"""Raw review strings to labels: tfbert's exports vs keras-hub and Hugging Face, one run.

    python -m benchmarks.inference --output_json=inference_tiny.json
    python -m benchmarks.inference --examples=64 --systems=tfbert   # smoke run

The 1,738 evaluation reviews of the sentiment split, BERT-`--preset` everywhere (freshly
initialised, same vocabulary: speed is measured, not accuracy), length cap 128:

* tfbert: a `BertClassifier` saved as a run, exported by `export.saved_model` (tokenizer in
  the graph; `serving_default(text)` gives `label`) and converted by `export.tflite` to
  float32 and dynamic-range int8 (LiteRT interpreter with tf-text's kernels);
* keras-hub: `BertTextClassifier` with its preprocessor, `predict(texts)` and
  `predict_on_batch(texts)` (the same preprocessing without `predict`'s per-call dataset);
* Hugging Face: `pipeline("text-classification")` over `BertForSequenceClassification`
  with `BertTokenizerFast` (PyTorch, CPU).

Every candidate runs the reviews in batches of `--batch_size` (interleaved passes, median;
examples/s) and one at a time (interleaved calls: examples/s, p50 and p99 latency). The
ratios compare tfbert's SavedModel with each peer's best setting, batch 64 for throughput
and batch 1 for latency. A peer whose packages are missing is a "not installed" row.
"""

import dataclasses
import itertools
import os
import shutil
import tempfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from benchmarks import endtoend  # noqa: E402
from benchmarks.timing import interleaved_times, print_table  # noqa: E402
from tfbert.errors import run_program  # noqa: E402

FLAGS = flags.FLAGS


def define_flags():
    """The program's flags (defined under __main__, so tests can import both programs)."""
    flags.DEFINE_enum("preset", "tiny", ["tiny", "small"], "BERT size of every system.")
    flags.DEFINE_integer("examples", 0, "Use this many evaluation reviews instead of "
                         "all 1,738: smoke runs.", lower_bound=0)
    flags.DEFINE_string("systems", "tfbert,keras_hub,hf", "Comma-separated systems.")
    flags.DEFINE_integer("batch_size", 64, "Texts per call of the batched runs.",
                         lower_bound=2)
    flags.DEFINE_integer("max_seq_length", 128, "Length cap in tokens.", lower_bound=8)
    flags.DEFINE_integer("rounds", 3, "Timed batched passes per candidate.",
                         lower_bound=1)
    flags.DEFINE_integer("latency_calls", 0, "Batch-1 calls per candidate (0: one per "
                         "review); keras-hub's `predict` re-traces its preprocessing per call.",
                         lower_bound=0)
    flags.DEFINE_boolean("tflite", True, "Also convert and time the TFLite files.")
    flags.DEFINE_string("output_json", None, "Write ratios and rows here.")
    flags.DEFINE_string("work_dir", None, "Exports go here; default: a temporary dir.")


REQUIREMENTS = {"tfbert": (), "keras_hub": ("keras_hub",), "hf": ("torch", "transformers")}
LABELS = ["neg", "pos"]
SAVED_MODEL = "SavedModel"


def tfbert_candidates(config, vocab_file, max_seq_length, work_dir, tflite):
    """name -> function(list of str) -> labels, for the SavedModel and the TFLite files."""
    import tensorflow as tf

    from export.saved_model import export_saved_model
    from tfbert.models import BertClassifier, bert_encoder
    from tfbert.training.run_dir import save_run
    run_dir = os.path.join(work_dir, "run")
    save_run(run_dir, BertClassifier(bert_encoder(config), len(LABELS)), vocab_file,
             "classification", max_seq_length, labels=LABELS)
    signature = tf.saved_model.load(export_saved_model(
        run_dir, os.path.join(work_dir, "export"))).signatures["serving_default"]
    candidates = {SAVED_MODEL: lambda texts: signature(text=tf.constant(texts))["label"].numpy()}
    if tflite:
        from export.tflite import convert_tflite
        from tfbert.litert import TFLiteModel
        for name, quantize in (("TFLite float32", "none"), ("TFLite int8", "dynamic")):
            model = TFLiteModel(convert_tflite(
                run_dir, os.path.join(work_dir, f"bert_{quantize}.tflite"), quantize))
            candidates[name] = lambda texts, m=model: m.predict(texts)["label"]
    return candidates


def keras_hub_candidates(config, vocab_file, max_seq_length):
    from benchmarks.peers import keras_hub_text_classifier
    classifier = keras_hub_text_classifier(config, vocab_file, max_seq_length)
    return {"predict": lambda texts: classifier.predict(
                texts, batch_size=len(texts), verbose=0).argmax(-1),
            "predict_on_batch": lambda texts: np.asarray(
                classifier.predict_on_batch(texts)).argmax(-1)}


def hf_candidates(config, vocab_file, max_seq_length):
    import transformers

    from benchmarks.peers import hf_classifier, hf_tokenizer
    pipe = transformers.pipeline("text-classification", model=hf_classifier(config, LABELS),
                                 tokenizer=hf_tokenizer(vocab_file, max_seq_length),
                                 device="cpu")
    return {"pipeline": lambda texts: [r["label"] for r in pipe(
        texts, batch_size=len(texts), truncation=True, max_length=max_seq_length)]}


def time_candidates(candidates, texts, batch_size, rounds, latency_calls=0):
    """`{name: (batched seconds per pass, batch-1 seconds per call)}`, both interleaved."""
    batches = [texts[i:i + batch_size] for i in range(0, len(texts), batch_size)]
    passes = {name: (lambda f=f: [f(batch) for batch in batches])
              for name, f in candidates.items()}
    batched = interleaved_times(passes, rounds, warmup=1)
    ones = {}
    for name, f in candidates.items():
        cycle = itertools.cycle(texts)
        ones[name] = lambda f=f, cycle=cycle: f([next(cycle)])
    single = interleaved_times(ones, latency_calls or len(texts), warmup=3)
    return {name: (float(np.median(batched[name])), single[name]) for name in candidates}


def run_inference(preset, systems, examples, batch_size, max_seq_length, rounds, work_dir,
                  tflite=True, latency_calls=0):
    """Times every candidate; returns the report (ratios, settings, rows)."""
    from tfbert import BertConfig
    from tfbert.data.sentiment import load_sentiment_split
    from tfbert.tokenization.learn import learn_vocab
    from tfbert.tokenization.vocab import load_vocab
    train, eval_ = load_sentiment_split()
    texts = [t for t, _ in endtoend.spread_sample(eval_, examples)]
    vocab_file = learn_vocab([t for t, _ in endtoend.spread_sample(train, examples * 9)], 8000,
                             os.path.join(work_dir, "vocab"), log=lambda *_: None)
    config = dataclasses.replace(BertConfig.preset(preset),
                                 vocab_size=len(load_vocab(vocab_file)))
    builders = {
        "tfbert": lambda: tfbert_candidates(config, vocab_file, max_seq_length, work_dir,
                                            tflite),
        "keras_hub": lambda: keras_hub_candidates(config, vocab_file, max_seq_length),
        "hf": lambda: hf_candidates(config, vocab_file, max_seq_length)}
    candidates, problems = {}, []
    for system in systems:
        missing = endtoend.missing_modules(REQUIREMENTS[system])
        if missing:
            problems.append(endtoend.not_installed_row(system, "all", missing))
            continue
        print(f"== building {system}", flush=True)
        try:
            built = builders[system]()
            for name, f in built.items():
                if len(f(texts[:2])) != len(texts[:2]):  # one label per text
                    raise ValueError(f"{system} {name}: wrong number of labels")
        except Exception as error:  # noqa: BLE001  (a peer's failure is a row)
            if system == "tfbert":
                raise
            problems.append(endtoend.failed_row(system, "all", error))
            continue
        candidates.update({(system, name): f for name, f in built.items()})
    print(f"== timing {len(candidates)} candidates on {len(texts)} reviews", flush=True)
    times = time_candidates(candidates, texts, batch_size, rounds, latency_calls)
    rows = []
    for (system, name), (pass_seconds, single) in times.items():
        rows.append(endtoend.result_row(system, f"{name}, batch {batch_size}", len(texts),
                                        pass_seconds, batch_size=batch_size))
        rows.append(endtoend.result_row(
            system, f"{name}, batch 1", len(single), float(single.sum()), batch_size=1,
            p50_ms=float(np.percentile(single, 50)) * 1e3,
            p99_ms=float(np.percentile(single, 99)) * 1e3))
    rows += problems
    ours = {f"{SAVED_MODEL}, batch {batch_size}"}
    peers = {row["setting"] for row in rows if row["system"] != "tfbert"
             and row.get("batch_size") == batch_size}
    report = {**endtoend.ratios(rows, ours, peers), **latency_ratios(rows),
              "ratio_basis": f"tfbert {SAVED_MODEL} ÷ the peer's best setting, batch "
                             f"{batch_size}; latency: p50 at batch 1, tfbert ÷ peer's best",
              "preset": preset, "examples": len(texts), "batch_size": batch_size,
              "max_seq_length": max_seq_length, "cpu_count": os.cpu_count(), "rows": rows}
    print_report(report)
    return report


def latency_ratios(rows):
    """tfbert SavedModel's batch-1 p50 ÷ each peer's best (lowest) batch-1 p50."""
    def best_p50(system, setting=None):
        values = [row["p50_ms"] for row in rows if row["system"] == system and "p50_ms" in row
                  and (setting is None or row["setting"] == setting)]
        return min(values) if values else None
    ours = best_p50("tfbert", f"{SAVED_MODEL}, batch 1")
    return {f"p50_latency_ratio_vs_{peer}": (ours / best_p50(peer) if ours and best_p50(peer)
                                             else None) for peer in endtoend.PEERS}


def print_report(report):
    print_table(
        f"Raw reviews to labels, BERT-{report['preset']}, {report['examples']} reviews, cap "
        f"{report['max_seq_length']}, {report['cpu_count']} CPUs",
        ("system", "setting", "examples/s", "p50 ms", "p99 ms", "status"),
        [(row["system"], row["setting"], endtoend.fmt(row.get("examples_per_s")),
          endtoend.fmt(row.get("p50_ms"), ".2f"), endtoend.fmt(row.get("p99_ms"), ".2f"),
          row["status"]) for row in report["rows"]])
    fmt = endtoend.fmt
    print(f"\nbatch {report['batch_size']} examples/s, tfbert SavedModel / keras-hub: "
          f"{fmt(report['ratio_vs_keras_hub'], '.2f')} (target >= 2.0), / HF pipeline: "
          f"{fmt(report['ratio_vs_hf'], '.2f')} (target >= 1.5); batch-1 p50 latency / "
          f"keras-hub: {fmt(report['p50_latency_ratio_vs_keras_hub'], '.2f')} (target <= 0.5)")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    systems = endtoend.parse_systems(FLAGS.systems)
    work_dir = FLAGS.work_dir or tempfile.mkdtemp(prefix="tfbert_inference_")
    try:
        report = run_inference(FLAGS.preset, systems, FLAGS.examples, FLAGS.batch_size,
                               FLAGS.max_seq_length, FLAGS.rounds, work_dir, FLAGS.tflite,
                               FLAGS.latency_calls)
    finally:
        if FLAGS.work_dir is None:
            shutil.rmtree(work_dir, ignore_errors=True)
    if FLAGS.output_json:
        endtoend.write_json(FLAGS.output_json, report)
        print(f"Wrote {FLAGS.output_json}")


if __name__ == "__main__":
    define_flags()
    run_program(main)
