"""Running `model.fit` the way every tfbert program does.

Training is counted in optimizer steps. The repeated training set is cut into
"loops" of `steps_per_loop` steps (Keras epochs), so `BackupAndRestore` saves
model and optimizer state every loop and a killed run restarts from the last
loop boundary with the same flags, as Model Garden's `steps_per_loop` does.
"""

import contextlib
import json
import math
import os
import signal
import sys
import threading
import time

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from tfbert.errors import UsageError, writing
from tfbert.training.optimization import create_optimizer


class PhaseTimer:
    """Logs one line per phase with its elapsed time, and keeps the timings."""

    def __init__(self):
        self.timings = {}
        self._start = time.perf_counter()

    @contextlib.contextmanager
    def phase(self, name):
        start = time.perf_counter()
        logging.info("[%s] started", name)
        print(f"[{name}] ...", flush=True)
        yield
        seconds = time.perf_counter() - start
        self.timings[name] = round(seconds, 1)
        print(f"[{name}] done in {seconds:.1f}s", flush=True)

    @property
    def total_seconds(self):
        return round(time.perf_counter() - self._start, 1)


def resume_position(model_dir):
    """`(loop, step in that loop)` a restarted run resumes from (`(0, 0)` for a fresh one);
    the step is > 0 after a signal stopped the run inside a loop."""
    path = os.path.join(model_dir, "backup", "training_metadata.json")
    if not tf.io.gfile.exists(path):
        return 0, 0
    with tf.io.gfile.GFile(path) as f:
        metadata = json.load(f)
    return metadata["epoch"], metadata.get("batch", 0)


class _Signals:
    """SIGTERM / SIGINT during training are noted, and acted on at the next step boundary
    (Python runs the handler between steps); a second one stops at once."""

    def __init__(self):
        self.received = None
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGTERM, signal.SIGINT):
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def _handle(self, number, frame):
        del frame
        if self.received is not None:
            raise KeyboardInterrupt
        self.received = signal.Signals(number)
        print(f"{self.received.name}: saving at the next step, then stopping.", flush=True)

    def __exit__(self, *exc_info):
        for number, handler in self._previous.items():
            signal.signal(number, handler)


def _backup_step(backup_dir, steps_per_loop):
    path = os.path.join(backup_dir, "training_metadata.json")
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        metadata = json.load(f)
    return metadata["epoch"] * steps_per_loop + metadata.get("batch", 0)


def _save_backup(model, backup_dir, loop, step_in_loop):
    """What `BackupAndRestore(double_checkpoint=True)` saves, at a step inside a loop: the
    previous state is copied to `*.bkp` first, so a failed write leaves one intact."""
    weights = os.path.join(backup_dir, "latest.weights.h5")
    metadata = os.path.join(backup_dir, "training_metadata.json")
    tf.io.gfile.makedirs(backup_dir)
    for path in (weights, metadata):
        if tf.io.gfile.exists(path):
            tf.io.gfile.copy(path, path + ".bkp", overwrite=True)
    model.save_weights(weights, overwrite=True)
    with tf.io.gfile.GFile(metadata, "w") as f:
        f.write(json.dumps({"epoch": loop, "batch": step_in_loop}))


class _StepGuard(keras.callbacks.Callback):
    """First callback of every step: a non-finite loss stops the run before anything saves
    the broken weights; a noted signal saves the state of this step and stops."""

    def __init__(self, backup_dir, steps_per_loop, first_step, signals):
        super().__init__()
        self.backup_dir = backup_dir
        self.steps_per_loop = steps_per_loop
        self.first_step = first_step  # steps of the current loop trained before this fit
        self.signals = signals
        self.loop = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.loop = epoch

    def on_train_batch_end(self, batch, logs=None):
        in_loop = self.first_step + batch + 1
        step = self.loop * self.steps_per_loop + in_loop
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(np.asarray(loss))):
            good = _backup_step(self.backup_dir, self.steps_per_loop)
            last = (f"the last good checkpoint is {self.backup_dir} (step {good}; the same "
                    "command resumes from it)" if good is not None else
                    "no checkpoint was saved before it")
            raise UsageError(
                f"training loss became {float(np.asarray(loss))} at step {step}: stopped "
                f"without saving; {last}. Lower --learning_rate or check the data.")
        if self.signals.received and in_loop < self.steps_per_loop:
            _save_backup(self.model, self.backup_dir, self.loop, in_loop)
            raise _stopped(self.signals.received, step, self.backup_dir)


class _LoopEndStop(keras.callbacks.Callback):
    """Last callback of a loop: a signal noted in the loop's final step stops the run once
    the loop's evaluation and checkpoint are written."""

    def __init__(self, backup_dir, steps_per_loop, signals):
        super().__init__()
        self.backup_dir = backup_dir
        self.steps_per_loop = steps_per_loop
        self.signals = signals

    def on_epoch_end(self, epoch, logs=None):
        if self.signals.received:
            raise _stopped(self.signals.received, (epoch + 1) * self.steps_per_loop,
                           self.backup_dir)


def _stopped(received, step, backup_dir):
    return UsageError(f"stopped by {received.name} at step {step}: saved {backup_dir}; run "
                      "the same command to resume.", exit_code=128 + received.value)


def fit(model, train_dataset, *, model_dir, total_steps, steps_per_loop, evaluation=None,
        callbacks=(), verbose=None):
    """Trains `model` (already compiled) for `total_steps` steps with resume and logs.

    Faults: SIGTERM / SIGINT save the state at the next step boundary and raise a
    `UsageError` (exit status 128 + the signal); running the same call again resumes there.
    A non-finite loss raises a `UsageError` naming the step before anything saves the broken
    weights (the last checkpoint stays loadable). A failed write (disk full, permissions)
    raises a `UsageError`; the previous checkpoint is kept as `backup/*.bkp`.

    Args:
        model: a compiled `keras.Model`, created inside the strategy's scope.
        train_dataset: `tf.data.Dataset` of `(features, labels)` global batches; it is
            repeated here, so pass one pass over the data.
        model_dir: str, where `backup/` (resume state) and `logs/` (TensorBoard) go.
        total_steps: int, optimizer steps for the whole run (a multiple of `steps_per_loop`
            when larger, as `TrainingOptions.total_steps` gives).
        steps_per_loop: int, steps between resume checkpoints (one Keras epoch each).
        evaluation: optional `tfbert.training.evaluation.PeriodicEvaluation`, run after every
            loop (its figures reach TensorBoard); the best loop's weights are restored at the
            end when it keeps them.
        callbacks: further Keras callbacks.
    Returns:
        the `keras.callbacks.History` of this (possibly resumed) run; None when a restarted
        run had already stopped early.
    """
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}.")
    steps_per_loop = max(1, min(steps_per_loop, total_steps))
    loops = math.ceil(total_steps / steps_per_loop)
    backup_dir = os.path.join(model_dir, "backup")
    start_loop, start_step = resume_position(model_dir)
    if evaluation is not None:
        evaluation.resume(start_loop, steps_per_loop)
        if evaluation.exhausted:  # the run had stopped early: nothing left to train
            print(f"{model_dir} stopped early before; not training further.", flush=True)
            evaluation.restore_best(model)
            return None
    dataset = train_dataset.repeat()
    if start_loop or start_step:
        print(f"Resuming from step {start_loop * steps_per_loop + start_step} of "
              f"{total_steps} ({backup_dir}).", flush=True)
    if verbose is None:  # progress bars on a terminal, one line per loop in logs
        verbose = 1 if sys.stdout.isatty() else 2
    history = None
    with writing(model_dir), _Signals() as signals:
        tf.io.gfile.makedirs(model_dir)

        def run(first_loop, first_step, last_loop):
            # Skip the batches already trained on, so a resumed run sees the same data
            # order as an uninterrupted one (given a seeded shuffle).
            data = dataset.skip(first_loop * steps_per_loop + first_step)
            return model.fit(
                data, initial_epoch=first_loop, epochs=last_loop,
                steps_per_epoch=steps_per_loop - first_step, verbose=verbose, callbacks=[
                    _StepGuard(backup_dir, steps_per_loop, first_step, signals),
                    keras.callbacks.BackupAndRestore(backup_dir, delete_checkpoint=False,
                                                     double_checkpoint=True),
                    *([evaluation] if evaluation is not None else []),
                    *callbacks,
                    # After the evaluation, so it logs the figures the evaluation added.
                    keras.callbacks.TensorBoard(os.path.join(model_dir, "logs"),
                                                update_freq="epoch"),
                    _LoopEndStop(backup_dir, steps_per_loop, signals)])

        if start_step:  # a signal stopped the run inside a loop: finish that loop first
            history = run(start_loop, start_step, start_loop + 1)
            start_loop += 1
        if start_loop < loops and not (evaluation is not None and evaluation.exhausted):
            history = run(start_loop, 0, loops)
    if evaluation is not None and evaluation.restore_best(model):
        print(f"Restored the best evaluated weights ({evaluation.monitor} "
              f"{evaluation.best:.4f}).", flush=True)
    return history


def train_results(history, total_steps):
    """The training figures every task reports: steps and the last loop's loss."""
    return {"train_steps": total_steps,
            "train_loss": float(history.history["loss"][-1])
            if history is not None and history.history else None}


def compile_for_training(model, options, total_steps, **compile_kwargs):
    """`model.compile` with tfbert's AdamW schedule and the run's XLA choice.

    `compile_kwargs` are the task's `loss`, `metrics`, `weighted_metrics`, `loss_weights`.
    """
    model.compile(
        optimizer=create_optimizer(
            options.learning_rate, total_steps, warmup_fraction=options.warmup_fraction,
            gradient_accumulation_steps=options.gradient_accumulation_steps,
            beta_2=options.adam_beta2, epsilon=options.adam_epsilon),
        jit_compile=options.jit_compile, **compile_kwargs)
    return model
