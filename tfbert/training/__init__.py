"""Training: options, the fit loop with resume, evaluation during training, reports."""

from tfbert.training.distribution import STRATEGIES, get_strategy
from tfbert.training.evaluation import PeriodicEvaluation, read_history
from tfbert.training.loop import PhaseTimer, compile_for_training, fit, train_results
from tfbert.training.options import TrainingOptions, build_encoder, prepare, resolve_vocab_file
from tfbert.training.report import finish_run, print_table, write_metrics
from tfbert.training.run_dir import load_run, save_run

__all__ = ["STRATEGIES", "PeriodicEvaluation", "PhaseTimer", "TrainingOptions", "build_encoder",
           "compile_for_training", "finish_run", "fit", "get_strategy", "load_run", "prepare",
           "print_table", "read_history", "resolve_vocab_file", "save_run", "train_results",
           "write_metrics"]
