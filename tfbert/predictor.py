"""`Predictor`: one object over a SavedModel export, a `.tflite` file or a fine-tuning run.

The model is loaded once; `predict` tokenizes inside the model's own graph (the tokenizer the
export carries), runs batches and returns plain Python values:

* classification — `{"label": str, "probabilities": {label: float}}` (every label, in the
  model's label order);
* regression — `{"score": float}`;
* ner — `{"entities": [{"type", "text", "start", "end"}]}`, `start`/`end` character offsets
  into the text (`text[start:end] == entity["text"]`);
* squad (extractive QA) — `{"text", "start", "end", "score"}`, character offsets into the
  context (`-1`, `-1` and `""` when the context is empty); `score` is start + end logit;
* embedding (SavedModel only) — `{"embedding": [float, ...]}`.

Models whose signature reports `truncated` (pieces left out of what the model saw) add
`"truncated": bool` to each result.

The three backends run the same serving graph (`tfbert/tasks/<task>/serving.py`): a run
directory traces it from `model.keras`, a SavedModel holds it, a `.tflite` holds its device
variant (fast normalizer, UTF-8 byte spans turned back into character offsets here).
"""

import json
import os
import re

import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tf-text ops of the graphs)

from tfbert.errors import UsageError

# What TF Serving's absl::SimpleAtoi accepts as a version directory name.
VERSION_RE = re.compile(r"^\s*[+-]?\d+\s*$")
PROGRESS_FROM = 1000  # inputs from which `predict` shows a progress bar by default


def _inputs_of(task, text_pair):
    if task == "squad":
        return ["question", "context"]
    return ["text", "text_pair"] if text_pair else ["text"]


class _SavedModel:
    def __init__(self, version_dir):
        info_path = os.path.join(version_dir, "assets.extra", "export_info.json")
        if not tf.io.gfile.exists(info_path):
            raise UsageError(f"{version_dir}: no assets.extra/export_info.json; expected a "
                             "version directory written by export.saved_model.")
        with tf.io.gfile.GFile(info_path) as f:
            self.info = json.load(f)
        self.info.setdefault("text_pair", False)
        self._loaded = tf.saved_model.load(version_dir)
        self._signature = self._loaded.signatures["serving_default"]
        self.device = False

    def __call__(self, inputs):
        outputs = self._signature(**{k: tf.constant(v, tf.string) for k, v in inputs.items()})
        return {k: v.numpy() for k, v in outputs.items()}


class _Run:
    def __init__(self, model_dir):
        from tfbert.signatures import task_signatures
        from tfbert.tokenization import BertTokenizer
        from tfbert.training.run_dir import load_run
        model, vocab_file, self.info = load_run(model_dir)
        functions = task_signatures(model, BertTokenizer(vocab_file), self.info)
        self._names = functions.text_inputs()
        self._serve = tf.function(functions.serve, input_signature=functions.input_signature())
        self.device = False

    def __call__(self, inputs):
        outputs = self._serve(*[tf.constant(inputs[k], tf.string) for k in self._names])
        return {k: v.numpy() for k, v in outputs.items()}


class _TFLite:
    def __init__(self, path, num_threads):
        from tfbert.litert import TFLiteModel, read_export_info
        self._model = TFLiteModel(path, num_threads=num_threads)
        self.info = read_export_info(path)
        if self.info is None:  # written before the facts were embedded: infer the task
            outputs = set(self._model.output_names)
            task = ("classification" if "probabilities" in outputs else
                    "ner" if "entity_type" in outputs else
                    "squad" if "start_byte" in outputs else "regression")
            self.info = {"task": task, "labels": None,
                         "text_pair": "text_pair" in self._model.input_names}
        self.device = True

    def __call__(self, inputs):
        return self._model.predict(**inputs)


def _resolve(path):
    """`(kind, path)`: kind "tflite", "saved_model" or "run"; a model base -> newest version."""
    exists = tf.io.gfile.exists
    if exists(path) and not tf.io.gfile.isdir(path):
        if path.endswith(".tflite"):
            return "tflite", path
        raise UsageError(f"`path` ({path!r}) is a file but not a .tflite; give a .tflite, a "
                         "SavedModel version directory or a fine-tuning run directory.")
    if not exists(path):
        raise UsageError(f"`path` ({path!r}) not found.")
    if exists(os.path.join(path, "saved_model.pb")):
        return "saved_model", path
    if exists(os.path.join(path, "task.json")):
        return "run", path
    # A model base: the newest version that holds a SavedModel (one being copied may not yet).
    names = [name.rstrip("/") for name in tf.io.gfile.listdir(path)]
    versions = sorted((int(name), name) for name in names if VERSION_RE.match(name)
                      and exists(os.path.join(path, name, "saved_model.pb")))
    if versions:
        return "saved_model", os.path.join(path, versions[-1][1])
    raise UsageError(f"`path` ({path!r}) is neither a SavedModel (version directory or model "
                     "base with integer versions), a .tflite file nor a fine-tuning run "
                     "(model.keras, vocab.txt, task.json).")


def _char_offset(encoded, byte_offset):
    return len(encoded[:byte_offset].decode("utf-8", errors="replace"))


class Predictor:
    """Predictions from an exported or fine-tuned tfbert model, loaded once.

    Args:
        path: str. A SavedModel version directory from `export.saved_model` (or its model base
            directory: the newest integer version is used), a `.tflite` file from
            `export.tflite`, or a fine-tuning run directory (`model.keras`, `vocab.txt`,
            `task.json`).
        batch_size: int, default 32. Texts per model call.
        num_threads: int or None. TFLite interpreter threads (the others use TensorFlow's).

    Attributes: `backend` ("saved_model", "tflite" or "run"), `path` (the resolved path),
    `task`, `labels` (list or None), `input_names` (the serving inputs, in order).

    Example:
    >>> predictor = Predictor("runs/sentiment")  # or /srv/models/sentiment, sentiment.tflite
    >>> predictor.predict(["质量很好"])  # [{'label': 'pos', 'probabilities': {'neg': ..}}]
    >>> Predictor("runs/squad").predict(["Where does John live?"], ["John lives in Paris."])
    ... # [{'text': 'Paris', 'start': 14, 'end': 19, 'score': ..}]
    """

    def __init__(self, path, batch_size=32, num_threads=None):
        if int(batch_size) < 1:
            raise UsageError(f"`batch_size` ({batch_size}) must be at least 1.")
        self.batch_size = int(batch_size)
        self.backend, self.path = _resolve(os.fspath(path))
        if self.backend == "tflite":
            self._model = _TFLite(self.path, num_threads)
        elif self.backend == "saved_model":
            self._model = _SavedModel(self.path)
        else:
            self._model = _Run(self.path)
        info = self._model.info
        self.task = info["task"]
        self.labels = list(info["labels"]) if info.get("labels") else None
        self.max_seq_length = info.get("max_seq_length")
        self.input_names = _inputs_of(self.task, bool(info.get("text_pair")))

    def predict(self, texts, text_pairs=None, batch_size=None, progress=None):
        """Predicts every input; returns one result per input (see the module docstring).

        Args:
            texts: list of str (or one str: then one result, not a list). For QA the
                questions.
            text_pairs: list of str (or one str), same length: the second text of a pair
                classifier, the contexts for QA. Required by those models, refused by others.
            batch_size: int or None, texts per model call (default: the Predictor's).
            progress: bool or None; None shows a `keras.utils.Progbar` from 1,000 inputs.
        """
        single = isinstance(texts, str)
        columns = [[texts] if single else list(texts)]
        if len(self.input_names) == 2:
            if text_pairs is None:
                raise UsageError(f"{self.path} takes {self.input_names}: pass "
                                 f"predict({self.input_names[0]}s, {self.input_names[1]}s).")
            columns.append([text_pairs] if isinstance(text_pairs, str) else list(text_pairs))
            if len(columns[1]) != len(columns[0]):
                raise UsageError(f"`texts` ({len(columns[0])}) and `text_pairs` "
                                 f"({len(columns[1])}) must have the same length.")
        elif text_pairs is not None:
            raise UsageError(f"{self.path} is a one-text {self.task} model: `text_pairs` is for "
                             "pair classifiers and QA (contexts).")
        for column in columns:
            for i, text in enumerate(column):
                if not isinstance(text, str):
                    raise UsageError(f"input {i} is a {type(text).__name__}, not a str: "
                                     f"{text!r:.80}")
        size = int(batch_size or self.batch_size)
        total = len(columns[0])
        bar = None
        if progress or (progress is None and total >= PROGRESS_FROM):
            import keras
            bar = keras.utils.Progbar(total, unit_name="text")
        results = []
        for start in range(0, total, size):
            batch = [column[start:start + size] for column in columns]
            outputs = self._model(dict(zip(self.input_names, batch)))
            results.extend(self._decode(outputs, batch))
            if bar is not None:
                bar.update(len(results))
        return results[0] if single else results

    def _decode(self, out, batch):
        results = self._decode_task(out, batch)
        if "truncated" in out:
            for result, truncated in zip(results, out["truncated"]):
                result["truncated"] = bool(truncated)
        return results

    def _decode_task(self, out, batch):
        n = len(batch[0])
        if self.task == "classification":
            labels = self.labels or [str(i) for i in range(out["probabilities"].shape[1])]
            return [{"label": out["label"][i].decode("utf-8"),
                     "probabilities": dict(zip(labels, out["probabilities"][i].tolist()))}
                    for i in range(n)]
        if self.task == "regression":
            return [{"score": float(s)} for s in out["score"]]
        if self.task == "embedding":
            return [{"embedding": e.tolist()} for e in out["embedding"]]
        if self.task == "ner":
            return [{"entities": self._entities(out, i, batch[0][i])} for i in range(n)]
        if self.task == "squad":
            return [self._answer(out, i, batch[1][i]) for i in range(n)]
        raise UsageError(f"{self.path}: task {self.task!r} has no Predictor results.")

    def _entities(self, out, row, text):
        entities = []
        encoded = text.encode("utf-8")
        for slot in range(int(out["num_entities"][row])):
            if self._model.device:
                start = _char_offset(encoded, int(out["entity_start_byte"][row, slot]))
                end = _char_offset(encoded, int(out["entity_end_byte"][row, slot]))
            else:
                start = int(out["entity_start"][row, slot])
                end = int(out["entity_end"][row, slot])
            entities.append({"type": out["entity_type"][row, slot].decode("utf-8"),
                             "text": text[start:end], "start": start, "end": end})
        return entities

    def _answer(self, out, row, context):
        if self._model.device:
            start_byte, end_byte = int(out["start_byte"][row]), int(out["end_byte"][row])
            encoded = context.encode("utf-8")
            start, end = ((-1, -1) if start_byte < 0 else
                          (_char_offset(encoded, start_byte), _char_offset(encoded, end_byte)))
        else:
            start, end = int(out["start"][row]), int(out["end"][row])
        return {"text": context[start:end] if start >= 0 else "", "start": start, "end": end,
                "score": float(out["score"][row])}
