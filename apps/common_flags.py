"""Flags every training program shares (names as in DESIGN.md), and reading them once."""

import os
import sys

import tensorflow as tf
from absl import app, flags

from tfbert.data import files
from tfbert.errors import UsageError, writing
from tfbert.tasks.classification.suites import run_suite
from tfbert.training import run_dir
from tfbert.training.distribution import STRATEGIES
from tfbert.training.options import TrainingOptions, check_start


def define_training_flags(batch_size=32, learning_rate=5e-5, epochs=3, max_seq_length=128):
    flags.DEFINE_enum("strategy", "auto", STRATEGIES,
                      "tf.distribute strategy; `auto` picks TPU, multi-worker (TF_CONFIG), "
                      "mirrored (several GPUs or --cpu_devices>1) or the default.")
    flags.DEFINE_string("tpu", None, "TPU name or address (`local` on a TPU VM).")
    flags.DEFINE_integer("cpu_devices", 1, "Split the host CPU into this many logical "
                         "devices, so mirrored training runs without GPUs.", lower_bound=1)
    flags.DEFINE_enum("mixed_precision", None, ["mixed_float16", "mixed_bfloat16"],
                      "Mixed-precision policy; LayerNorm, softmax and logits stay float32.")
    flags.DEFINE_boolean("jit_compile", False, "Compile the train step with XLA.")
    flags.DEFINE_string("model_dir", None, "Directory for checkpoints (resume), TensorBoard "
                        "logs, the final model and metrics.json.")
    flags.DEFINE_string("config", None, "BertConfig JSON (project, original or Hugging Face) "
                        "or a preset name (tiny, mini, small, medium, base, large) for "
                        "training from scratch.")
    flags.DEFINE_string("init_checkpoint", None, "Directory of a checkpoint to start from: "
                        "original BERT, Hugging Face, tfbert's own format or a pretrain run.")
    flags.DEFINE_string("vocab_file", None, "vocab.txt; defaults to the one beside "
                        "--init_checkpoint.")
    flags.DEFINE_boolean("do_lower_case", None, "Lower-case and strip accents (uncased BERT); "
                         "defaults to what the checkpoint says (tokenizer_config.json, the "
                         "original's cased_/uncased_ folder name, the vocabulary's capitals).")
    flags.DEFINE_integer("max_seq_length", max_seq_length, "Tokens per sequence, [CLS] and "
                         "[SEP] included.", lower_bound=8)
    flags.DEFINE_integer("batch_size", batch_size, "Global batch size (per replica times "
                         "replicas).", lower_bound=1)
    flags.DEFINE_float("learning_rate", learning_rate, "Peak AdamW learning rate.")
    flags.DEFINE_integer("epochs", epochs, "Passes over the training data.", lower_bound=1)
    flags.DEFINE_integer("train_steps", None, "Optimizer steps; overrides --epochs.",
                         lower_bound=1)
    flags.DEFINE_integer("steps_per_loop", 200, "Steps between resume checkpoints and "
                         "progress summaries.", lower_bound=1)
    flags.DEFINE_float("warmup_fraction", 0.1, "Share of steps with linear warm-up.")
    flags.DEFINE_integer("gradient_accumulation_steps", None, "Average gradients over this "
                         "many batches before each update.", lower_bound=2)
    flags.DEFINE_float("adam_beta2", 0.999, "Adam's second-moment decay; 0.98 steadies large "
                       "learning rates.")
    flags.DEFINE_integer("seed", 0, "Seed of weight initialisation, dropout, shuffling and "
                         "masking: the same seed gives the same run on CPU.")
    flags.DEFINE_boolean("keep_best", True, "Keep the weights of the best evaluation (every "
                         "--steps_per_loop steps) and save those, not the last.")
    flags.DEFINE_integer("bucket_width", 32, "Batch examples of similar length and pad them "
                         "to a multiple of this many tokens (a few fixed shapes); 0 pads all "
                         "to --max_seq_length.", lower_bound=0)
    flags.DEFINE_integer("early_stopping_patience", None, "Stop after this many evaluations "
                         "without a better score.", lower_bound=1)
    flags.DEFINE_boolean("strict", False, "Stop at the first data row a reader would skip "
                         "(malformed, empty, too long) instead of counting and reporting it.")


def define_mode_flag():
    """`--mode=train|eval|predict` of the fine-tuning programs."""
    return flags.DEFINE_enum(
        "mode", "train", ["train", "eval", "predict"], "train: fine-tune (then evaluate); "
        "eval: score the finished run in --model_dir on --eval_file (default: the shipped "
        "evaluation split); predict: label --predict_file with the run in --model_dir.")


def save_flagfile(model_dir):
    """Writes the program's flags to `model_dir/flags.txt`: `--flagfile=` reruns the run."""
    values = flags.FLAGS
    lines = []
    for module, module_flags in sorted(values.flags_by_module_dict().items()):
        # The program's own flags: `python -m apps.x` names its module by file path.
        if module.startswith("apps.") or module in (sys.argv[0], os.path.abspath(sys.argv[0])):
            lines += [flag.serialize() for flag in module_flags if flag.value is not None]
    tf.io.gfile.makedirs(model_dir)
    path = os.path.join(model_dir, "flags.txt")
    with files.overwrite(path) as f:
        f.write("\n".join(sorted(lines)) + "\n")
    return path


def require_examples(examples, flag, path):
    """`UsageError` when a data file gave no examples (before TensorFlow meets an empty set)."""
    if not examples:
        raise UsageError(f"--{flag}={path}: no examples in the file (empty, or every row "
                         "skipped).")


def start_run(options, task, vocab_file, labels=None, text_pair=None):
    """The first write of a training program, after its flags, data and checkpoint passed:
    refuses a restart of `model_dir` with other settings (`run_dir.check_resume`), then records
    the flags (`flags.txt`) and the settings (`run.json`)."""
    settings = run_dir.run_settings(options, task, vocab_file, labels, text_pair)
    run_dir.check_resume(options.model_dir, settings)
    with writing(f"--model_dir={options.model_dir}"):
        save_flagfile(options.model_dir)
        run_dir.record_run(options.model_dir, settings)


def training_options():
    """Reads the shared flags into a `TrainingOptions` (called by `main` only) and checks what
    training starts from (config, checkpoint, vocabulary); returns `(options, vocab_file)`."""
    values = flags.FLAGS
    if values.init_checkpoint is None and values.config is None:
        raise flags.ValidationError(
            "Give --init_checkpoint=DIR to fine-tune or --config=PRESET|FILE to start from "
            "scratch.")
    if values.init_checkpoint is None and values.vocab_file is None:
        raise flags.ValidationError(f"--config={values.config} needs --vocab_file.")
    if values.model_dir and tf.io.gfile.exists(values.model_dir) and not tf.io.gfile.isdir(
            values.model_dir):
        raise flags.ValidationError(f"--model_dir={values.model_dir} is a file; give a "
                                    "directory (new, or a run to resume).")
    options = TrainingOptions(
        strategy=values.strategy, tpu=values.tpu, cpu_devices=values.cpu_devices,
        mixed_precision=values.mixed_precision, jit_compile=values.jit_compile,
        model_dir=values.model_dir, config=values.config,
        init_checkpoint=values.init_checkpoint, vocab_file=values.vocab_file,
        do_lower_case=values.do_lower_case,
        max_seq_length=values.max_seq_length, batch_size=values.batch_size,
        learning_rate=values.learning_rate, epochs=values.epochs,
        train_steps=values.train_steps, steps_per_loop=values.steps_per_loop,
        warmup_fraction=values.warmup_fraction,
        gradient_accumulation_steps=values.gradient_accumulation_steps,
        adam_beta2=values.adam_beta2, seed=values.seed,
        keep_best=values.keep_best, early_stopping_patience=values.early_stopping_patience,
        bucket_width=values.bucket_width)
    return options, check_start(options)


def define_suite_flags(suite, data_dir_help):
    """`--task`, `--data_dir`, `--output_dir` of a benchmark-suite program (GLUE, CLUE)."""
    flags.DEFINE_enum("task", "all", ["all", *suite.tasks], f"The {suite.name} task to run, "
                      "or `all` for every task under --data_dir.", case_sensitive=False)
    flags.DEFINE_string("data_dir", None, data_dir_help)
    flags.DEFINE_string("output_dir", None, "Where each task's run, the submission files and "
                        "summary.json go.")


def run_suite_from_flags(suite):
    """Fine-tunes and scores the flags' tasks of `suite` (see `define_suite_flags`)."""
    values = flags.FLAGS
    if values.model_dir:
        raise app.UsageError(f"--model_dir={values.model_dir}: give --output_dir; each "
                             "task's run goes to OUTPUT_DIR/<task>.")
    options, _ = training_options()
    with writing(f"--output_dir={values.output_dir}"):
        save_flagfile(values.output_dir)
        run_suite(suite, values.data_dir, values.output_dir, options,
                  tasks=None if values.task == "all" else [values.task], strict=values.strict)
