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
import sys
import time

import keras
import tensorflow as tf
from absl import logging

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


def resume_loop(model_dir):
    """The loop a restarted run resumes from (0 for a fresh `model_dir`)."""
    path = os.path.join(model_dir, "backup", "training_metadata.json")
    if not tf.io.gfile.exists(path):
        return 0
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)["epoch"]


def fit(model, train_dataset, *, model_dir, total_steps, steps_per_loop, evaluation=None,
        callbacks=(), verbose=None):
    """Trains `model` (already compiled) for `total_steps` steps with resume and logs.

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
    tf.io.gfile.makedirs(model_dir)
    start_loop = resume_loop(model_dir)
    if evaluation is not None:
        evaluation.resume(start_loop, steps_per_loop)
        if evaluation.exhausted:  # the run had stopped early: nothing left to train
            print(f"{model_dir} stopped early before; not training further.", flush=True)
            evaluation.restore_best(model)
            return None
    dataset = train_dataset.repeat()
    if start_loop:
        print(f"Resuming from step {start_loop * steps_per_loop} of {total_steps} "
              f"({os.path.join(model_dir, 'backup')}).", flush=True)
        # Skip the batches already trained on, so a resumed run sees the same data
        # order as an uninterrupted one (given a seeded shuffle).
        dataset = dataset.skip(start_loop * steps_per_loop)
    callbacks = [
        keras.callbacks.BackupAndRestore(os.path.join(model_dir, "backup"),
                                         delete_checkpoint=False),
        *([evaluation] if evaluation is not None else []),
        *callbacks,
        # Last, so it logs the figures the evaluation added.
        keras.callbacks.TensorBoard(os.path.join(model_dir, "logs"), update_freq="epoch"),
    ]
    if verbose is None:  # progress bars on a terminal, one line per loop in logs
        verbose = 1 if sys.stdout.isatty() else 2
    history = model.fit(dataset, epochs=loops, steps_per_epoch=steps_per_loop,
                        callbacks=callbacks, verbose=verbose)
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
