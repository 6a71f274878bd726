"""Validation during training: the task's metric every loop, its history, the best weights.

The history lives in `model_dir/eval_history.jsonl` (one JSON object per loop: `step`,
`train_loss` and the task's figures), so a resumed run continues it and still knows its best
loop; the best weights are `model_dir/best.weights.h5`.
"""

import json
import math
import os
import tempfile

import keras
import tensorflow as tf

from tfbert.data import files

HISTORY_FILE = "eval_history.jsonl"
BEST_WEIGHTS_FILE = "best.weights.h5"


def read_history(model_dir, up_to_step=None):
    """The recorded evaluations, one per step (the last record of a step wins), in order."""
    path = os.path.join(model_dir, HISTORY_FILE)
    if not tf.io.gfile.exists(path):
        return []
    by_step = {}
    with tf.io.gfile.GFile(path) as f:
        for line in f:
            if line.strip():
                record = json.loads(line)
                by_step[record["step"]] = record
    return [by_step[s] for s in sorted(by_step) if up_to_step is None or s <= up_to_step]


class PeriodicEvaluation(keras.callbacks.Callback):
    """Evaluates at the end of every loop; keeps the best weights; stops early if asked.

    `tfbert.training.loop.fit` runs it: it sets `steps_per_loop` and calls `resume` before
    training, so a restarted run keeps its history, its best score and its patience count.

    Args:
        evaluate: callable `model -> dict` of float figures (e.g. `loss`, `accuracy`); they
            reach the Keras logs as `val_<name>` (TensorBoard, History).
        monitor: str, the figure that decides the best loop (higher is better; NaN never
            counts as better).
        model_dir: str, where the history and best weights go.
        keep_best: bool, save the weights of the best loop so far.
        patience: int or None, stop after this many loops without a better `monitor`.
    """

    def __init__(self, evaluate, monitor, model_dir, keep_best=True, patience=None):
        super().__init__()
        self.evaluate = evaluate
        self.monitor = monitor
        self.model_dir = model_dir
        self.keep_best = keep_best
        self.patience = patience
        self.steps_per_loop = None
        self.best = None
        self.wait = 0

    @property
    def best_weights_path(self):
        return os.path.join(self.model_dir, BEST_WEIGHTS_FILE)

    @property
    def exhausted(self):
        """Patience has run out (a restarted run that already stopped early stays stopped)."""
        return bool(self.patience) and self.wait >= self.patience

    def resume(self, start_loop, steps_per_loop):
        """Takes up the history of the loops before `start_loop` (none: a fresh run, whose
        leftovers of an older run are removed)."""
        self.steps_per_loop = steps_per_loop
        if not start_loop:
            for name in (HISTORY_FILE, BEST_WEIGHTS_FILE):
                if tf.io.gfile.exists(os.path.join(self.model_dir, name)):
                    tf.io.gfile.remove(os.path.join(self.model_dir, name))
        for record in read_history(self.model_dir, start_loop * steps_per_loop):
            self._update_best(record[self.monitor])

    def _update_best(self, value):
        if value is not None and not math.isnan(value) and (
                self.best is None or value > self.best):
            self.best, self.wait = value, 0
            return True
        self.wait += 1
        return False

    def _writes(self):
        # Under MultiWorkerMirroredStrategy every worker runs the callback; one writes.
        return self.model.distribute_strategy.extended.should_checkpoint

    def on_epoch_end(self, epoch, logs=None):
        scores = self.evaluate(self.model)
        if self.monitor not in scores:
            raise ValueError(f"the evaluation gave {sorted(scores)}, not the monitored "
                             f"{self.monitor!r}")
        if logs is not None:
            logs.update({f"val_{name}": value for name, value in scores.items()})
        record = {"step": (epoch + 1) * self.steps_per_loop,
                  "train_loss": None if logs is None else logs.get("loss"), **scores}
        improved = self._update_best(scores[self.monitor])
        if self._writes():
            # Appended by rewriting: object stores (gs://) have no append; the history is
            # one short line per loop.
            path = os.path.join(self.model_dir, HISTORY_FILE)
            old = tf.io.gfile.GFile(path).read() if tf.io.gfile.exists(path) else ""
            with files.overwrite(path) as f:
                f.write(old + json.dumps(record) + "\n")
        if improved and self.keep_best:
            # Every worker saves (the weights are the same): non-chief copies go to a
            # throw-away directory.
            self.model.save_weights(self.best_weights_path if self._writes() else
                                    os.path.join(_scratch_dir(), BEST_WEIGHTS_FILE))
        figures = ", ".join(f"{k} {v:.4f}" for k, v in scores.items())
        print(f"step {record['step']}: {figures}{' (best)' if improved else ''}", flush=True)
        if self.exhausted:
            print(f"Stopping early: no better {self.monitor} in {self.wait} evaluations.",
                  flush=True)
            self.model.stop_training = True

    def restore_best(self, model):
        """Loads the best loop's weights into `model` (when they were kept)."""
        if self.keep_best and tf.io.gfile.exists(self.best_weights_path):
            model.load_weights(self.best_weights_path)
            return True
        return False


def _scratch_dir():
    return tempfile.mkdtemp(prefix="tfbert-worker-")


def task_figures(scores):
    """The float `eval_*` figures of a task's `evaluate`, named as `PeriodicEvaluation` logs
    them (`eval_accuracy` -> `accuracy`)."""
    return {k[len("eval_"):]: v for k, v in scores.items()
            if k.startswith("eval_") and isinstance(v, float)}
