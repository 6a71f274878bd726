"""What a fine-tuning run leaves in `--model_dir`, and reading it back (for export).

    model.keras        the whole task model (encoder inside)
    vocab.txt          the vocabulary (+ vocab_info.json: normalizer, lower_case)
    task.json          task kind, label names, max_seq_length, text-pair flag
    run.json           the settings a restart must keep (written before training starts)

Every path goes through `tf.io.gfile`, so `--model_dir=gs://...` (or `ram://`) works.
"""

import hashlib
import json
import os

import keras
import tensorflow as tf

import tfbert.models  # noqa: F401  (registers the task models for loading)
from tfbert.data import files
from tfbert.errors import UsageError
from tfbert.tokenization import vocab as vocab_lib

TASKS = ("classification", "regression", "ner", "squad", "pretraining")


def save_run(model_dir, model, vocab_file, task, max_seq_length, labels=None,
             text_pair=False, lower_case=None, normalizer=None, **task_fields):
    """Writes the model, vocabulary and `task.json`; returns the written paths.

    `task_fields` are further task-specific entries of `task.json` (NER's `word_split`).
    """
    if task not in TASKS:
        raise ValueError(f"`task` must be one of {TASKS}, got {task!r}.")
    tf.io.gfile.makedirs(model_dir)
    model_path = os.path.join(model_dir, "model.keras")
    model.save(model_path)
    vocab_path = vocab_lib.copy_vocab(vocab_file, model_dir, lower_case, normalizer)
    task_path = os.path.join(model_dir, "task.json")
    with files.overwrite(task_path) as f:
        json.dump({"task": task, "labels": labels, "max_seq_length": max_seq_length,
                   "text_pair": text_pair, **task_fields}, f, indent=2, ensure_ascii=False)
    return model_path, vocab_path, task_path


def load_run_info(model_dir):
    """The `task.json` dict of a finished run."""
    path = os.path.join(model_dir, "task.json")
    if not tf.io.gfile.isdir(model_dir):
        what = "is a file" if tf.io.gfile.exists(model_dir) else "not found"
        raise UsageError(f"--model_dir={model_dir}: {what}; expected a finished fine-tuning "
                         "run directory (model.keras, vocab.txt, task.json).")
    if not tf.io.gfile.exists(path):
        hint = (" (it is a SavedModel export: serve it, or give the run it came from)"
                if tf.io.gfile.exists(os.path.join(model_dir, "saved_model.pb")) else "")
        raise UsageError(f"{path} not found{hint}: --model_dir must be a finished "
                         "fine-tuning run (model.keras, vocab.txt, task.json).")
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def load_run(model_dir):
    """Returns `(model, vocab_file, task_info)` from a `save_run` directory."""
    info = load_run_info(model_dir)
    model_path = os.path.join(model_dir, "model.keras")
    for path in (model_path, os.path.join(model_dir, "vocab.txt")):
        if not tf.io.gfile.exists(path):
            raise UsageError(
                f"{path} not found: --model_dir must be a finished fine-tuning run "
                "(model.keras, vocab.txt, task.json).")
    # Without the optimizer: exporting and predicting need the model only.
    model = keras.saving.load_model(model_path, compile=False)
    return model, os.path.join(model_dir, "vocab.txt"), info


RUN_FILE = "run.json"
# What a restart must keep: the model's shape and inputs, what its outputs mean, and where a
# resumed run stands (loops of steps_per_loop; the optimizer's accumulators). Anything else
# (steps, epochs, learning rate, batch size, data files with the same labels, evaluation,
# strategy, seed) may change when resuming.
RESUME_SETTINGS = ("task", "labels", "config", "init_checkpoint", "vocabulary",
                   "max_seq_length", "text_pair", "mixed_precision", "steps_per_loop",
                   "gradient_accumulation_steps", "do_lower_case")


def has_training_state(model_dir):
    """Whether `model_dir` holds a started (resume checkpoint) or finished run."""
    return any(tf.io.gfile.exists(os.path.join(model_dir, name))
               for name in ("backup/training_metadata.json", "model.keras"))


def run_settings(options, task, vocab_file, labels=None, text_pair=None):
    """The `RESUME_SETTINGS` of a run about to start (`options` a `TrainingOptions`)."""
    with tf.io.gfile.GFile(vocab_file, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    return {"task": task, "labels": labels, "config": options.config,
            "init_checkpoint": options.init_checkpoint,
            "vocabulary": f"{vocab_file} (sha256 {digest})", "max_seq_length":
            options.max_seq_length, "text_pair": text_pair,
            "mixed_precision": options.mixed_precision,
            "steps_per_loop": options.steps_per_loop,
            "gradient_accumulation_steps": options.gradient_accumulation_steps,
            "do_lower_case": options.do_lower_case}


def _same(key, old, new):
    if key == "vocabulary":  # the content counts, not where the file lies
        return old.rsplit(" (sha256 ", 1)[-1] == new.rsplit(" (sha256 ", 1)[-1]
    return old == new


def check_resume(model_dir, settings):
    """Refuses to continue the run in `model_dir` with other `RESUME_SETTINGS`.

    Raises `UsageError` naming every differing setting (`--config: run has tiny, got mini`);
    nothing in `model_dir` is read but `run.json`, nothing is written.
    """
    path = os.path.join(model_dir, RUN_FILE)
    if not has_training_state(model_dir) or not tf.io.gfile.exists(path):
        return
    with tf.io.gfile.GFile(path) as f:
        recorded = json.load(f)
    differ = [f"{'--' if key not in ('task', 'labels', 'vocabulary') else ''}{key}: run has "
              f"{recorded.get(key)}, got {settings.get(key)}"
              for key in RESUME_SETTINGS
              if key in settings and not _same(key, recorded.get(key), settings.get(key))]
    if differ:
        raise UsageError(
            f"--model_dir={model_dir} holds a run with other settings ({'; '.join(differ)}): "
            f"resume it with its own (--flagfile={os.path.join(model_dir, 'flags.txt')}) or "
            "give a new --model_dir.")


def record_run(model_dir, settings):
    """Writes `settings` to `model_dir/run.json` (what `check_resume` compares against)."""
    tf.io.gfile.makedirs(model_dir)
    path = os.path.join(model_dir, RUN_FILE)
    with files.overwrite(path) as f:
        f.write(json.dumps(settings, indent=2, ensure_ascii=False) + "\n")
    return path
