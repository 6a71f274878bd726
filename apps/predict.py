r"""Predicts a file of texts with any tfbert model, streaming: constant memory on any size.

    python -m apps.predict --model=/srv/models/sentiment --input=reviews.txt \
        --output=predictions.jsonl

`--model` is whatever `tfbert.Predictor` loads: a SavedModel (version directory or model base),
a `.tflite` file or a fine-tuning run directory. `--input` by its extension:

* `.txt` — one text a line (one-text models only);
* `.tsv` — tab-separated `text[<TAB>text_pair]`, or `question<TAB>context` for QA; a first
  line naming exactly those columns is a header;
* `.jsonl` — one object a line: `{"text": ...}`, `{"text", "text_pair"}` or
  `{"question", "context"}`.

Each output line is the input's line number and the Predictor's result, e.g.
`{"line": 3, "label": "pos", "probabilities": {"neg": 0.1, "pos": 0.9}}`. Bad rows (invalid
UTF-8 or JSON, a missing field, a wrong column count, an empty text) get a warning line with
their line number (the first `--max_warnings`, then a count) and no output; the rest are
predicted. Rows are read, predicted and written `--chunk_size` at a time.
"""

import itertools
import json
import os
import sys
import time

import keras
import tensorflow as tf
from absl import flags

from tfbert.errors import UsageError, run_program, writing
from tfbert.predictor import Predictor

FORMATS = (".txt", ".tsv", ".jsonl")

_FLAGS = flags.FLAGS


def define_flags():
    """Defines the program's flags (under __main__: `--model` is also apps.similarity's, and
    tests import both)."""
    flags.DEFINE_string("model", None, "A SavedModel (version directory or model base), a "
                        ".tflite file or a fine-tuning run directory.")
    flags.DEFINE_string("input", None, "The texts: a .txt, .tsv or .jsonl file (see the module "
                        "docstring).")
    flags.DEFINE_string("output", None, "The .jsonl file of predictions to write.")
    flags.DEFINE_integer("batch_size", 32, "Texts per model call.", lower_bound=1)
    flags.DEFINE_integer("chunk_size", 1024, "Rows read, predicted and written at a time "
                         "(memory stays proportional to it).", lower_bound=1)
    flags.DEFINE_integer("max_warnings", 20, "Bad rows reported one by one; the rest are "
                         "counted.", lower_bound=0)


def parse_line(raw, fmt, names):
    """One input line (bytes) -> `(texts, None)` or `(None, problem)`."""
    try:
        line = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as error:
        return None, f"not UTF-8 ({error.reason} at byte {error.start})"
    if fmt == ".jsonl":
        if not line.strip():
            return None, "empty line"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            return None, f"invalid JSON ({error.msg}, column {error.colno})"
        if not isinstance(row, dict):
            return None, f"expected a JSON object with {names}, got {type(row).__name__}"
        missing = [name for name in names if name not in row]
        if missing:
            return None, f"missing field {', '.join(map(repr, missing))} (expects {names})"
        texts = [row[name] for name in names]
        if not all(isinstance(t, str) for t in texts):
            return None, f"fields {names} must be strings"
    else:
        texts = line.split("\t") if fmt == ".tsv" else [line]
        if len(texts) != len(names):
            return None, (f"expected {len(names)} tab-separated column(s) "
                          f"({'<TAB>'.join(names)}), got {len(texts)}")
    empty = [name for name, text in zip(names, texts) if not text.strip()]
    if empty:
        return None, f"empty {', '.join(empty)}"
    return texts, None


def read_rows(lines, fmt, names):
    """Yields `(line_number, texts, problem, bytes_read)` from an iterable of byte lines, one
    line at a time (a header line naming the columns is skipped)."""
    done = 0
    for number, raw in enumerate(lines, 1):
        done += len(raw)
        if number == 1 and fmt == ".tsv" and raw.decode("utf-8", "replace").rstrip(
                "\r\n").split("\t") == names:
            continue
        texts, problem = parse_line(raw, fmt, names)
        yield number, texts, problem, done


def predict_lines(predictor, lines, fmt, write, chunk_size=1024, max_warnings=20,
                  total_bytes=None, warn=None, source_name=None):
    """Predicts the rows of `lines` (an iterable of byte lines) `chunk_size` at a time and
    calls `write(str)` with one JSON line per predicted row; returns `(predicted, skipped)`.

    A bad row is reported as `SOURCE:LINE: problem` (`source_name`, else the format)."""
    warn = warn or (lambda message: print(message, file=sys.stderr, flush=True))
    names = predictor.input_names
    # Progress over the input's bytes: no need to count its lines first.
    bar = keras.utils.Progbar(total_bytes, unit_name="byte", interval=1.0) if total_bytes else None
    predicted = skipped = 0
    rows = read_rows(lines, fmt, names)
    while chunk := list(itertools.islice(rows, chunk_size)):
        good = []
        for number, texts, problem, _ in chunk:
            if problem is None:
                good.append((number, texts))
                continue
            skipped += 1
            if skipped <= max_warnings:
                warn(f"WARNING: {source_name or fmt}:{number}: {problem}; skipped")
        if good:
            columns = list(zip(*(texts for _, texts in good)))
            results = predictor.predict(*columns, progress=False)
            write("".join(json.dumps({"line": number, **result}, ensure_ascii=False) + "\n"
                          for (number, _), result in zip(good, results)))
            predicted += len(good)
        if bar is not None:
            bar.update(chunk[-1][3])
    if skipped > max_warnings:
        warn(f"WARNING: {skipped - max_warnings} more bad rows not shown ({skipped} in all)")
    return predicted, skipped


def predict_file(model, input_path, output_path, batch_size=32, chunk_size=1024,
                 max_warnings=20):
    """Predicts `input_path` with `model` (a path or a `tfbert.Predictor`) into `output_path`.

    Returns `{"predicted", "skipped", "seconds", "rows_per_second"}` and prints it as one line.
    """
    fmt = os.path.splitext(input_path)[1].lower()
    if fmt not in FORMATS:
        raise UsageError(f"--input={input_path}: unknown extension {fmt or '(none)'!r}; give a "
                         f"{', '.join(FORMATS)} file.")
    if not tf.io.gfile.exists(input_path) or tf.io.gfile.isdir(input_path):
        raise UsageError(f"--input={input_path}: not found (no such file).")
    if isinstance(model, str):
        model = Predictor(model, batch_size=batch_size)
    if fmt == ".txt" and len(model.input_names) > 1:
        raise UsageError(f"--input={input_path}: a .txt holds one text a line, the model takes "
                         f"{model.input_names}: give a .tsv or .jsonl file.")
    start = time.time()
    with tf.io.gfile.GFile(input_path, "rb") as source, writing(f"--output={output_path}"), \
            tf.io.gfile.GFile(output_path, "w") as sink:
        predicted, skipped = predict_lines(
            model, source, fmt, sink.write, chunk_size, max_warnings,
            tf.io.gfile.stat(input_path).length or None, source_name=input_path)
    seconds = time.time() - start
    summary = {"predicted": predicted, "skipped": skipped, "seconds": round(seconds, 2),
               "rows_per_second": round(predicted / max(seconds, 1e-9), 1)}
    print(f"Predicted {predicted} rows, skipped {skipped}, in {seconds:.1f} s "
          f"({summary['rows_per_second']} rows/s): wrote {output_path}", flush=True)
    return summary


def main(argv):
    if len(argv) > 1:
        raise UsageError(f"Unexpected arguments: {argv[1:]}")
    if not _FLAGS.output.endswith(".jsonl"):
        raise UsageError(f"--output={_FLAGS.output}: the predictions are JSON lines; name the "
                         "file .jsonl.")
    if os.path.abspath(_FLAGS.output) == os.path.abspath(_FLAGS.input):
        raise UsageError(f"--output={_FLAGS.output} is --input: give another file.")
    predict_file(_FLAGS.model, _FLAGS.input, _FLAGS.output, _FLAGS.batch_size,
                 _FLAGS.chunk_size, _FLAGS.max_warnings)


if __name__ == "__main__":
    define_flags()
    flags.mark_flags_as_required(["model", "input", "output"])
    run_program(main)
