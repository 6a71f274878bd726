"""Training: options, the fit loop with resume, the optimizer schedule, strategies."""

from tfbert.training.distribution import STRATEGIES, get_strategy
from tfbert.training.loop import (
                                  PhaseTimer,
                                  compile_for_training,
                                  finish_run,
                                  fit,
                                  train_results,
                                  write_metrics,
)
from tfbert.training.options import TrainingOptions, build_encoder, resolve_vocab_file
from tfbert.training.run_dir import load_run, save_run

__all__ = ["STRATEGIES", "PhaseTimer", "TrainingOptions", "build_encoder", "compile_for_training",
           "finish_run", "fit", "get_strategy", "load_run", "resolve_vocab_file", "save_run",
           "train_results", "write_metrics"]
