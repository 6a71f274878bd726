"""What a fine-tuning run leaves in `--model_dir`, and reading it back (for export).

    model.keras        the whole task model (encoder inside)
    vocab.txt          the vocabulary (+ vocab_info.json: normalizer, lower_case)
    task.json          task kind, label names, max_seq_length, text-pair flag
"""

import json
import os

import keras

import tfbert.models  # noqa: F401  (registers the task models for loading)
from tfbert.tokenization import vocab as vocab_lib

TASKS = ("classification", "regression", "ner", "squad", "pretraining")


def save_run(model_dir, model, vocab_file, task, max_seq_length, labels=None,
             text_pair=False, lower_case=None, normalizer=None, **task_fields):
    """Writes the model, vocabulary and `task.json`; returns the written paths.

    `task_fields` are further task-specific entries of `task.json` (NER's `word_split`).
    """
    if task not in TASKS:
        raise ValueError(f"`task` must be one of {TASKS}, got {task!r}.")
    os.makedirs(model_dir, exist_ok=True)
    model_path = os.path.join(model_dir, "model.keras")
    model.save(model_path)
    vocab_path = vocab_lib.copy_vocab(vocab_file, model_dir, lower_case, normalizer)
    task_path = os.path.join(model_dir, "task.json")
    with open(task_path, "w", encoding="utf-8") as f:
        json.dump({"task": task, "labels": labels, "max_seq_length": max_seq_length,
                   "text_pair": text_pair, **task_fields}, f, indent=2, ensure_ascii=False)
    return model_path, vocab_path, task_path


def load_run_info(model_dir):
    """The `task.json` dict of a finished run."""
    path = os.path.join(model_dir, "task.json")
    if not os.path.isfile(path):
        raise ValueError(f"{path} not found: --model_dir must be a finished fine-tuning run "
                         "(model.keras, vocab.txt, task.json).")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def load_run(model_dir):
    """Returns `(model, vocab_file, task_info)` from a `save_run` directory."""
    info = load_run_info(model_dir)
    model_path = os.path.join(model_dir, "model.keras")
    for path in (model_path, os.path.join(model_dir, "vocab.txt")):
        if not os.path.isfile(path):
            raise ValueError(
                f"{path} not found: --model_dir must be a finished fine-tuning run "
                "(model.keras, vocab.txt, task.json).")
    # Without the optimizer: exporting and predicting need the model only.
    model = keras.saving.load_model(model_path, compile=False)
    return model, os.path.join(model_dir, "vocab.txt"), info
