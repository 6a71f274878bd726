r"""Converts a fine-tuning run to a raw-text `.tflite` (tokenizer inside) and runs it.

    python -m export.tflite --model_dir=runs/cls --output=bert.tflite --quantize=dynamic
    python -m export.tflite --saved_model_dir=/srv/models/bert/3 --output=bert.tflite

`convert_tflite(model_dir, ...)` builds the graph from the run; `convert_saved_model(dir, ...)`
converts an existing export (the same graph TF Serving runs) when its normalizer is "fast".

The graph is `export.saved_model`'s `serving_default` (same tokenizer, packer and heads),
written through `keras.export.ExportArchive` and converted with TFLITE_BUILTINS +
`allow_custom_ops` (no SELECT_TF_OPS: no Python runtime links the Flex delegate). The only
custom ops allowed are those of `tf_text.tflite_registrar.SELECT_TFTEXT_OPS`;
`export.op_audit.audit_tflite` checks that, and that no VAR_HANDLE/READ_VARIABLE survived
(uninitialized variables give NaN). `--quantize`: `none` (float32), `float16` (float16
weights), `dynamic` (int8 weights, float activations). Full-integer quantization is not offered:
its calibrator cannot run the tf-text custom ops.

Normalizer. The "exact" normalizer (bit-exact to reference BERT, used for imported vocabularies)
is built from core string ops (StaticRegexReplace, NormalizeUTF8, StringLower) that have no
TFLite kernel. A run recorded with "exact" is therefore converted with tf-text's "fast"
normalizer and a warning: ids agree for ordinary text, and differ on what
`tfbert/tokenization/tokenizer.py` lists (NFKC case folding such as ß -> ss and full-width
forms, control characters, the over-long-word limit in bytes). Vocabularies learned by the
project record "fast", so training, serving and the device see the same ids.

Signature `serving_default` in the `.tflite`: classification — `text` (+ `text_pair`) ->
`probabilities` float32 [batch, labels], `label` string [batch]; regression -> `score` float32
[batch].

NER (from a fine-tuning run, `convert_tflite`): `text` -> `entity_type` string
[batch, max_seq_length - 2], `entity_start_byte` / `entity_end_byte` int32 (UTF-8 byte spans
into the text, -1 padding) and `num_entities` int32 [batch]. tf-text's
`FastBertTokenizer.tokenize_with_offsets` maps offsets back with a ragged gather
(`RaggedGather`/`RaggedRange`, no TFLite kernel), so the device graph uses
`BertTokenizer.tokenize_with_dense_offsets` instead; substrings and UTF-8 character counting
have no kernels, hence byte spans (`text.encode()[start:end].decode()` is the entity).

QA (from a fine-tuning run): `question`, `context` -> `score` float32 [batch] and
`start_byte` / `end_byte` int32 [batch] (UTF-8 byte span of the answer in the context, -1 when
the window holds no context piece), from the same device offsets. On device NER and QA read
one window: both also return `num_windows` (1) and `truncated` bool [batch] (the text did not
fit; the SavedModel reads it all in overlapping windows). An exported NER or QA SavedModel
(character offsets, answer strings) is refused: convert the run.

Beside `NAME.tflite` the conversion writes the model card `NAME.README.md`
(`export/model_card.py`), and embeds the export's facts (task, labels, max_seq_length, case) in
the flatbuffer's metadata (`tfbert/litert.py`), so `tfbert.Predictor("NAME.tflite")` needs no
other file.
"""

import json
import os
import subprocess
import sys
import tempfile

import tensorflow as tf
import tensorflow_text  # noqa: F401
from absl import app, flags, logging

from export import model_card
from export.op_audit import audit_tflite
from tfbert.errors import UsageError, run_program, writing
from tfbert.litert import TFLiteModel  # noqa: F401  (runs what this module writes)
from tfbert.signatures import load_serving_functions
from tfbert.tokenization import read_vocab_info
from tfbert.training.run_dir import load_run_info

QUANTIZATIONS = ("none", "float16", "dynamic")
_FLAGS = flags.FLAGS
_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def define_flags(flag_values=flags.FLAGS):
    """Defines the program's flags (under __main__, so that other programs can import this)."""
    flags.DEFINE_string("model_dir", None, "A finished fine-tuning run (model.keras, vocab.txt, "
                        "task.json) to convert.", flag_values=flag_values)
    flags.DEFINE_string("saved_model_dir", None, "Or: an export.saved_model version directory "
                        "(fast normalizer) whose serving_default to convert.",
                        flag_values=flag_values)
    flags.DEFINE_string("output", None, "The .tflite file to write.", flag_values=flag_values)
    flags.DEFINE_enum("quantize", "none", QUANTIZATIONS, "Weights: none = float32, float16, "
                      "dynamic = int8 weights with float activations.", flag_values=flag_values)


def _convert_saved_model_here(saved_model_dir, output_path, quantize):
    """Converts `serving_default` of an ExportArchive SavedModel (in the calling process)."""
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir, ["serving_default"])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.allow_custom_ops = True
    if quantize != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    flatbuffer = converter.convert()
    tmp_path = output_path + ".tmp"
    with open(tmp_path, "wb") as f:
        f.write(flatbuffer)
    os.replace(tmp_path, output_path)


def _convert_run_here(model_dir, output_path, quantize):
    """Builds the run's `serving_default` with the fast normalizer, then converts it."""
    functions = load_serving_functions(model_dir, normalizer="fast", on_device=True)
    with tempfile.TemporaryDirectory() as tmp:
        functions.archive(with_ids=False).write_out(tmp, verbose=False)
        _convert_saved_model_here(tmp, output_path, quantize)


def _convert_in_child(function, source, output_path, quantize, timeout_seconds):
    """Runs `function(source, output_path, quantize)` of this module in a child process (the
    converter keeps memory after each call), then audits the flatbuffer's ops."""
    if quantize not in QUANTIZATIONS:
        raise UsageError(f"`quantize` ({quantize!r}) must be one of {QUANTIZATIONS}.")
    if os.path.isdir(output_path):
        raise UsageError(f"--output={output_path} is a directory; give the .tflite file to "
                         "write.")
    with writing(f"--output={output_path}"):
        os.makedirs(os.path.dirname(os.path.abspath(output_path)), exist_ok=True)
    code = (f"import sys; from export.tflite import {function}; "
            f"{function}(sys.argv[1], sys.argv[2], sys.argv[3])")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [_REPO] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    result = subprocess.run([sys.executable, "-c", code, source, output_path, quantize],
                            env=env, capture_output=True, text=True, timeout=timeout_seconds)
    if result.returncode != 0:
        problem = next((line for line in result.stderr.splitlines()[::-1]
                        if "No space left" in line or "Permission denied" in line), None)
        if problem:
            raise UsageError(f"cannot write --output={output_path}: {problem.strip()}")
        raise RuntimeError(f"TFLite conversion of {source} failed (exit {result.returncode}):"
                           f"\n{result.stderr[-3000:]}")
    missing = audit_tflite(output_path)
    if missing:
        os.remove(output_path)
        raise UsageError(f"{output_path}: the TFLite model needs ops no LiteRT runtime with "
                         f"tf-text kernels provides: {', '.join(missing)}")
    return output_path


def _refuse_task(task, source, supported):
    if task not in supported:
        raise UsageError(
            f"{source} is a {task!r} model: this TFLite conversion supports "
            f"{', '.join(supported)}. Serve it with export.saved_model"
            + (" or convert the fine-tuning run (--model_dir), which builds it with "
               "device offsets." if task in ("ner", "squad") else "."))


def convert_saved_model(saved_model_dir, output_path, quantize="none", timeout_seconds=900):
    """Converts `serving_default` of an `export.saved_model` version directory; returns the path.

    The export must use the "fast" normalizer (ValueError otherwise: convert the run with
    `convert_tflite`, which swaps the normalizer). Same checks as `convert_tflite`.
    """
    info_path = os.path.join(saved_model_dir, "assets.extra", "export_info.json")
    if not os.path.isdir(saved_model_dir):
        what = ("a file" + (" (already a TFLite model)" if saved_model_dir.endswith(".tflite")
                            else "") if os.path.exists(saved_model_dir) else "not found")
        raise UsageError(f"--saved_model_dir={saved_model_dir}: {what}; expected an "
                         "export.saved_model version directory (EXPORT_BASE/NAME/VERSION).")
    if not os.path.isfile(info_path):
        versions = " (it holds version directories: give one of them)" if any(
            name.isdigit() for name in os.listdir(saved_model_dir)) else ""
        raise UsageError(f"--saved_model_dir={saved_model_dir} is not an export.saved_model "
                         f"version directory (no {info_path}){versions}.")
    with open(info_path, encoding="utf-8") as f:
        info = json.load(f)
    _refuse_task(info["task"], saved_model_dir, ("classification", "regression"))
    if info["normalizer"] != "fast":
        raise UsageError(
            f"{saved_model_dir} tokenizes with the {info['normalizer']!r} normalizer, whose core "
            "string ops (StaticRegexReplace, NormalizeUTF8, StringLower) have no TFLite kernels. "
            "Convert the fine-tuning run instead: `python -m export.tflite --model_dir=RUN` "
            "builds the .tflite with tf-text's 'fast' normalizer.")
    path = _convert_in_child("_convert_saved_model_here", saved_model_dir, output_path,
                             quantize, timeout_seconds)
    return model_card.add_tflite_card(path, saved_model_dir=saved_model_dir)


def recorded_normalizer(model_dir):
    return read_vocab_info(os.path.join(model_dir, "vocab.txt")).get("normalizer", "exact")


def convert_tflite(model_dir, output_path, quantize="none", timeout_seconds=900):
    """Converts the fine-tuning run in `model_dir` to `output_path`; returns the path.

    The converter runs in a child process (it keeps memory after each call). Raises
    `ValueError` for pretraining runs and if the flatbuffer needs ops that tf-text's TFLite
    registrar does not provide, `RuntimeError` if the conversion fails. A run recorded with
    the "exact" normalizer is converted with the "fast" one, with a warning.
    """
    if quantize not in QUANTIZATIONS:
        raise UsageError(f"`quantize` ({quantize!r}) must be one of {QUANTIZATIONS}.")
    _refuse_task(load_run_info(model_dir)["task"], f"--model_dir={model_dir}",
                 ("classification", "regression", "ner", "squad"))
    if recorded_normalizer(model_dir) == "exact":
        logging.warning(
            "%s records the 'exact' normalizer, whose core string ops have no TFLite kernels; "
            "the .tflite uses tf-text's 'fast' normalizer instead (same ids on ordinary text, "
            "differences on NFKC folding, full-width forms and control characters).", model_dir)
    path = _convert_in_child("_convert_run_here", model_dir, output_path, quantize,
                             timeout_seconds)
    return model_card.add_tflite_card(path, run_dir=model_dir)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    if bool(_FLAGS.model_dir) == bool(_FLAGS.saved_model_dir):
        raise app.UsageError("Pass exactly one of --model_dir=RUN and --saved_model_dir=DIR.")
    if _FLAGS.model_dir:
        path = convert_tflite(_FLAGS.model_dir, _FLAGS.output, _FLAGS.quantize)
    else:
        path = convert_saved_model(_FLAGS.saved_model_dir, _FLAGS.output, _FLAGS.quantize)
    print(f"Wrote {path} ({os.path.getsize(path) / 1e6:.2f} MB, quantize={_FLAGS.quantize}).")


if __name__ == "__main__":
    define_flags()
    flags.mark_flags_as_required(["output"])
    run_program(main)
