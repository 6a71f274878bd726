r"""Exports a fine-tuning run (or a checkpoint as sentence embeddings) as a raw-text SavedModel
in TF Serving layout.

Writes `EXPORT_BASE/<model_name>/<version>/` through `keras.export.ExportArchive` (tokenizer
and packer inside the graph), `EXPORT_BASE/models.config` and warm-up requests; fails when
the official `tensorflow_model_server` would lack an op of the graph.

    python -m export.saved_model --model_dir=runs/cls --export_base=/srv/models \
        --model_name=bert
    python -m export.saved_model --task=embedding --checkpoint=all-MiniLM-L6-v2 \
        --export_base=/srv/models --model_name=minilm

`--task=embedding` needs no fine-tuning run: it exports the encoder in `--checkpoint` (any
format `tfbert.checkpoints.load_encoder` reads) with mean pooling and L2 normalisation, as
sentence-transformers computes embeddings; `max_seq_length` comes from the checkpoint's
`sentence_bert_config.json` (else `--max_seq_length`, default 128; the flag, given, wins).

Signatures: see `tfbert/tasks/signature.py` (`serving_default` on raw text per task, and
`serve_ids` on token ids).

`assets.extra/` carries `vocab.txt`, `vocab_info.json`, `labels.txt` (classification, ner),
`export_info.json` (task, labels, max_seq_length, normalizer, signatures, the model card's
facts) and `tf_serving_warmup_requests`; `README.md` beside `saved_model.pb` is the model card
(`export/model_card.py`: task, labels, base checkpoint, training data, the run's metrics, case,
maximum length, how to call it).

The tokenizer uses the normalizer recorded with the vocabulary: "exact" (imported checkpoints,
bit-exact to reference BERT; core string ops, fine for TF Serving) or "fast" (tf-text kernels
only, convertible by `export.tflite`).
"""

import json
import os
import re
import time

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tf-text ops the graph uses)
from absl import app, flags, logging
from google.protobuf import text_format
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2
from tensorflow_serving.config import model_server_config_pb2

from export import model_card, op_audit
from export.warmup import WARMUP_FILE
from tfbert.errors import UsageError, run_program, writing
from tfbert.signatures import TASK_SIGNATURES, load_embedding_functions, load_serving_functions
from tfbert.tokenization.vocab import copy_vocab

_FLAGS = flags.FLAGS


def define_flags(flag_values=flags.FLAGS):
    """Defines the program's flags (under __main__, so that other programs can import this)."""
    flags.DEFINE_string("model_dir", None, "A finished fine-tuning run (model.keras, vocab.txt, "
                        "task.json); every task but embedding.", flag_values=flag_values)
    flags.DEFINE_enum("task", None, sorted(TASK_SIGNATURES), "The task to export. Default: the "
                      "run's (task.json); `embedding` exports --checkpoint instead of a run.",
                      flag_values=flag_values)
    flags.DEFINE_string("checkpoint", None, "With --task=embedding: a checkpoint directory "
                        "(Hugging Face, original BERT or the project's format, with vocab.txt), "
                        "such as a sentence-transformers model folder.", flag_values=flag_values)
    flags.DEFINE_integer("max_seq_length", None, "With --task=embedding: word pieces per text, "
                         "[CLS] and [SEP] included. Default: the checkpoint's "
                         "sentence_bert_config.json, else 128.", lower_bound=2,
                         flag_values=flag_values)
    flags.DEFINE_string("export_base", None, "Directory that receives <model_name>/<version>/ "
                        "and models.config.", flag_values=flag_values)
    flags.DEFINE_string("model_name", "bert", "Model name for TF Serving.",
                        flag_values=flag_values)
    flags.DEFINE_integer("version", None, "Version number; default: one more than the highest "
                         "existing version.", lower_bound=1, flag_values=flag_values)
    flags.DEFINE_integer("doc_stride", None, "NER and QA: word pieces between the starts of the "
                         "overlapping windows a long text is cut into. Default: the run's "
                         "(SQuAD runs record theirs), else half the shortest window.",
                         lower_bound=1, flag_values=flag_values)


_VERSION_RE = re.compile(r"^\s*[+-]?\d+\s*$")  # what TF Serving's absl::SimpleAtoi accepts
# Ops the server's C++ runtime has but cannot run: their kernels call back into Python.
PYTHON_ONLY_OPS = frozenset({"PyFunc", "PyFuncStateless", "EagerPyFunc"})
_WARMUP_TEXTS = ["The cat sat on the mat.", "今天天气很好，我很喜欢。", ""]


def audit(saved_model_dir, target="tf_serving"):
    """Sorted op types of `saved_model_dir` that `target` ("tf_serving"|"tflite") lacks.

    `tf_serving` extends `export.op_audit` with the Python-callback ops (`tf.py_function`,
    `tf.numpy_function`): registered in every TensorFlow build, runnable in none without Python.
    """
    missing = set(op_audit.audit(saved_model_dir, target))
    if target == "tf_serving":
        missing.update(PYTHON_ONLY_OPS & op_audit.graph_op_types(saved_model_dir))
    return sorted(missing)


def next_version(model_base):
    """One more than the highest integer version directory under `model_base` (1 if none)."""
    if not tf.io.gfile.isdir(model_base):
        return 1
    versions = [int(name.rstrip("/")) for name in tf.io.gfile.listdir(model_base)
                if _VERSION_RE.match(name.rstrip("/"))]
    return max(versions, default=0) + 1


def _sample_inputs(functions):
    if functions.task == "squad":
        return {"question": ["Where does John live?", "什么？"],
                "context": ["John Smith lives in New York.", "北京"]}
    return {name: list(_WARMUP_TEXTS[:2]) for name in functions.text_inputs()}


def write_warmup_requests(version_dir, model_name, functions):
    """Writes `assets.extra/tf_serving_warmup_requests`: PredictLogs TF Serving replays."""
    requests = []
    sample = _sample_inputs(functions)
    for n in (1, 2):  # batch sizes 1 and 2 (the server traces both shapes at load time)
        requests.append(("serving_default", {k: tf.make_tensor_proto(v[:n], dtype=tf.string)
                                             for k, v in sample.items()}))
    ids = np.zeros([1, functions.seq_length], np.int32)
    requests.append(("serve_ids", {k: tf.make_tensor_proto(ids)
                                   for k in ("token_ids", "segment_ids", "padding_mask")}))
    path = os.path.join(version_dir, WARMUP_FILE)
    with tf.io.TFRecordWriter(path) as writer:
        for signature, inputs in requests:
            request = predict_pb2.PredictRequest()
            request.model_spec.name = model_name
            request.model_spec.signature_name = signature
            for key, proto in inputs.items():
                request.inputs[key].CopyFrom(proto)
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return path


def write_models_config(export_base, model_name):
    """Adds (or replaces) `model_name` in `EXPORT_BASE/models.config`; returns its path."""
    path = os.path.join(export_base, "models.config")
    config = model_server_config_pb2.ModelServerConfig()
    if tf.io.gfile.exists(path):
        with tf.io.gfile.GFile(path) as f:
            text_format.Parse(f.read(), config)
    others = [c for c in config.model_config_list.config if c.name != model_name]
    del config.model_config_list.config[:]
    config.model_config_list.config.extend(others)
    entry = config.model_config_list.config.add()
    entry.name = model_name
    base_path = os.path.join(export_base, model_name)
    entry.base_path = base_path if "://" in base_path else os.path.abspath(base_path)
    entry.model_platform = "tensorflow"
    tmp = path + ".tmp"
    with tf.io.gfile.GFile(tmp, "w") as f:
        f.write(text_format.MessageToString(config))
    tf.io.gfile.rename(tmp, path, overwrite=True)
    return path


def _write_assets(version_dir, functions):
    extra = os.path.join(version_dir, "assets.extra")
    tf.io.gfile.makedirs(extra)
    tokenizer = functions.tokenizer
    copy_vocab(tokenizer.vocab_file, extra, tokenizer.lower_case, tokenizer.normalizer)
    if functions.labels:
        with tf.io.gfile.GFile(os.path.join(extra, "labels.txt"), "w") as f:
            f.write("\n".join(functions.labels) + "\n")
    # The run's task.json, plus how this export tokenizes and what it takes.
    info = {**functions.info, "labels": functions.labels or None,
            "normalizer": tokenizer.normalizer, "lower_case": tokenizer.lower_case,
            "signatures": {"serving_default": functions.text_inputs(),
                           "serve_ids": ["token_ids", "segment_ids", "padding_mask"]}}
    with tf.io.gfile.GFile(os.path.join(extra, "export_info.json"), "w") as f:
        f.write(json.dumps(info, indent=2, ensure_ascii=False))


def self_test(version_dir, functions, atol=1e-5):
    """Reloads the SavedModel and compares `serving_default` with the Keras model eagerly.

    Returns the largest absolute difference of the float outputs; raises `ValueError` when it
    exceeds `atol` or a non-float output differs.
    """
    loaded = tf.saved_model.load(version_dir)
    inputs = {k: tf.constant(v) for k, v in _sample_inputs(functions).items()}
    actual = loaded.signatures["serving_default"](**inputs)
    expected = functions.serve(*[inputs[k] for k in functions.text_inputs()])
    worst = 0.0
    for key, value in expected.items():
        a, e = actual[key].numpy(), np.asarray(value)
        if a.dtype.kind == "f":
            worst = max(worst, float(np.max(np.abs(a - e), initial=0.0)))
        elif not np.array_equal(a, e):
            raise ValueError(f"{version_dir}: self-test output {key!r} differs from the Keras "
                             f"model: {a.tolist()} vs {e.tolist()}")
    if worst > atol:
        raise ValueError(f"{version_dir}: self-test max abs difference {worst:.3g} from the "
                         f"Keras model exceeds {atol}")
    return worst


def _version_dir(export_base, model_name, version):
    """`export_base/model_name/<version>`, checked before anything is loaded or written."""
    if not re.match(r"^[A-Za-z0-9_.-]+$", model_name or ""):
        raise UsageError(f"`model_name` ({model_name!r}) must be letters, digits, '_', '.', '-'.")
    if tf.io.gfile.exists(export_base) and not tf.io.gfile.isdir(export_base):
        raise UsageError(f"--export_base={export_base} is a file; give a directory (it receives "
                         "<model_name>/<version>/ and models.config).")
    model_base = os.path.join(export_base, model_name)
    version = next_version(model_base) if version is None else int(version)
    final_dir = os.path.join(model_base, str(version))
    if tf.io.gfile.exists(final_dir):
        raise UsageError(f"{final_dir} already exists: pass another --version (or none for the "
                         "next free one).")
    return final_dir


def export_saved_model(model_dir, export_base, model_name="bert", version=None, task=None,
                       doc_stride=None):
    """Exports the run in `model_dir` to `export_base/model_name/<version>/`; returns that path.

    The version is written to a hidden sibling, audited for TF Serving ops (ValueError listing
    the missing ones), self-tested against the Keras model, given warm-up requests and then
    published by an atomic rename; `models.config` is updated last. `task`, given, must be the
    run's. `doc_stride` (NER, QA): pieces between window starts, recorded in export_info.json.
    """
    final_dir = _version_dir(export_base, model_name, version)
    functions = load_serving_functions(model_dir)
    if doc_stride is not None:
        if functions.doc_stride is None:
            raise UsageError(f"--doc_stride={doc_stride} is for NER and QA runs; {model_dir} is "
                             f"a {functions.task!r} run.")
        functions.set_doc_stride(doc_stride)
    if task is not None and task != functions.task:
        raise UsageError(f"{model_dir}: the run's task is {functions.task!r}, not `task` "
                         f"({task!r}).")
    return _publish(functions, model_dir, export_base, model_name, final_dir)


def export_embedding(checkpoint, export_base, model_name="bert", version=None,
                     max_seq_length=None):
    """Exports `checkpoint` as sentence embeddings to `export_base/model_name/<version>/`.

    `serving_default(text)` returns `embedding` float32 [batch, hidden], the L2-normalised mean
    of the last hidden states over real tokens (`tfbert.tasks.embedding`); `max_seq_length`
    overrides the checkpoint's `sentence_bert_config.json`. Published as `export_saved_model`
    publishes a run; returns the version directory.
    """
    final_dir = _version_dir(export_base, model_name, version)
    functions = load_embedding_functions(checkpoint, max_seq_length)
    return _publish(functions, checkpoint, export_base, model_name, final_dir)


def _publish(functions, source, export_base, model_name, final_dir):
    start = time.time()
    model_base, version = os.path.split(final_dir)
    staging = os.path.join(model_base, f".tmp-{version}-{os.getpid()}")
    with writing(f"--export_base={export_base}"):
        _remove_tree(staging)
        tf.io.gfile.makedirs(model_base)
        try:
            functions.archive().write_out(staging, verbose=False)
            missing = audit(staging, "tf_serving")
            if missing:
                raise UsageError(f"{source}: the exported graph uses ops that "
                                 f"tensorflow_model_server does not have: {', '.join(missing)}")
            _write_assets(staging, functions)
            model_card.add_saved_model_card(staging, final_dir, functions, source, model_name)
            diff = self_test(staging, functions)
            write_warmup_requests(staging, model_name, functions)
            _move_tree(staging, final_dir)
        finally:
            _remove_tree(staging)
        config_path = write_models_config(export_base, model_name)
    logging.info("Exported %s (%s, normalizer %s) to %s in %.1f s; self-test max diff %.2g; "
                 "serving config %s", source, functions.task, functions.tokenizer.normalizer,
                 final_dir, time.time() - start, diff, config_path)
    return final_dir


def _move_tree(source, target):
    """Publishes `source` as `target`: one rename on a local disk; on object stores
    (`gs://`, `ram://`), which cannot rename folders, file by file with `saved_model.pb`
    last, so a server polling the folder never loads a half-copied version."""
    if "://" not in source:
        tf.io.gfile.rename(source, target)
        return
    # ram:// lists by prefix ("assets/.extra" beside "assets.extra/"): keep what exists.
    paths = [os.path.join(folder, name) for folder, _, names in tf.io.gfile.walk(source)
             for name in names if tf.io.gfile.exists(os.path.join(folder, name))]
    for path in sorted(paths, key=lambda p: os.path.basename(p) == "saved_model.pb"):
        destination = os.path.join(target, os.path.relpath(path, source))
        tf.io.gfile.makedirs(os.path.dirname(destination))
        tf.io.gfile.copy(path, destination)
    _remove_tree(source)


def _remove_tree(path):
    try:
        tf.io.gfile.rmtree(path)
    except tf.errors.NotFoundError:  # nothing there (ram:// can report a stale folder)
        pass


def _check_flags(task, model_dir, checkpoint, max_seq_length):
    """Raises `app.UsageError` naming the flag for combinations that cannot work."""
    if task == "embedding":
        if not checkpoint:
            raise app.UsageError("--task=embedding needs --checkpoint (a checkpoint directory, "
                                 "such as a sentence-transformers model folder).")
        if model_dir:
            raise app.UsageError(f"--model_dir={model_dir} is a fine-tuning run; --task=embedding "
                                 "exports --checkpoint instead: drop one of them.")
        return
    given = f"--task={task}" if task else "no --task"
    if checkpoint:
        raise app.UsageError(f"--checkpoint={checkpoint} is for --task=embedding ({given}); "
                             "other tasks export a fine-tuning run: --model_dir.")
    if max_seq_length is not None:
        raise app.UsageError(f"--max_seq_length={max_seq_length} is for --task=embedding "
                             f"({given}); a run's length is in its task.json.")
    if not model_dir:
        raise app.UsageError("--model_dir is required (a fine-tuning run), or "
                             "--task=embedding --checkpoint=DIR.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    _check_flags(_FLAGS.task, _FLAGS.model_dir, _FLAGS.checkpoint, _FLAGS.max_seq_length)
    if _FLAGS.task == "embedding":
        path = export_embedding(_FLAGS.checkpoint, _FLAGS.export_base, _FLAGS.model_name,
                                _FLAGS.version, _FLAGS.max_seq_length)
    else:
        path = export_saved_model(_FLAGS.model_dir, _FLAGS.export_base, _FLAGS.model_name,
                                  _FLAGS.version, _FLAGS.task, _FLAGS.doc_stride)
    print(f"Wrote {path}\nServe it: python -m export.server --port=8500 "
          f"--model_config_file={os.path.join(_FLAGS.export_base, 'models.config')}")


if __name__ == "__main__":
    define_flags()
    flags.mark_flags_as_required(["export_base"])
    run_program(main)
