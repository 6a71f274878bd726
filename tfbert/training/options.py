"""What every training program takes (the shared flags of DESIGN.md), and the encoder it
starts from."""

import dataclasses
import math
import os

import keras
import tensorflow as tf

from tfbert.checkpoints import load_encoder
from tfbert.checkpoints.layout import FORMATS
from tfbert.config import PRESETS, BertConfig
from tfbert.errors import UsageError, writing
from tfbert.models import bert_encoder
from tfbert.tokenization.case import resolve_lower_case
from tfbert.tokenization.vocab import copy_vocab, load_vocab
from tfbert.training.distribution import get_strategy


@dataclasses.dataclass
class TrainingOptions:
    """What every training program takes (the shared flags of DESIGN.md)."""

    model_dir: str
    strategy: str = "auto"
    tpu: str = None
    cpu_devices: int = 1
    mixed_precision: str = None
    jit_compile: bool = False
    config: str = None
    init_checkpoint: str = None
    vocab_file: str = None
    do_lower_case: bool = None
    max_seq_length: int = 128
    batch_size: int = 32
    learning_rate: float = 5e-5
    epochs: int = 3
    train_steps: int = None
    steps_per_loop: int = 200
    warmup_fraction: float = 0.1
    gradient_accumulation_steps: int = None
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-6
    seed: int = 0
    keep_best: bool = True
    early_stopping_patience: int = None
    bucket_width: int = 32

    def total_steps(self, num_examples):
        """Optimizer steps: `train_steps`, else `epochs` full global batches; rounded up to
        whole loops of `steps_per_loop`, so the schedule ends where training does."""
        steps = self.train_steps or self.epochs * (num_examples // self.batch_size)
        if num_examples < 1 and not self.train_steps:  # TFRecords count no examples
            raise UsageError("no training examples: the training data is empty (or every "
                             "row was skipped).")
        if steps < 1:
            raise UsageError(
                f"{num_examples} training examples give no full batch of --batch_size="
                f"{self.batch_size}.")
        per_loop = min(self.steps_per_loop, steps)
        rounded = math.ceil(steps / per_loop) * per_loop
        if rounded != steps:
            print(f"Training {rounded} steps: {steps} rounded up to whole loops of "
                  f"--steps_per_loop={per_loop}.", flush=True)
        return rounded


def prepare(options):
    """Seeds Python, numpy and TensorFlow from `options.seed`; returns `(strategy, vocab_file)`.

    `vocab_file` is the run's own copy in `model_dir`, its `vocab_info.json` recording the case
    handling (`run_vocab_file`), so training, evaluation and every export tokenize alike.
    """
    # The strategy first: splitting the CPU into logical devices must precede TF's start-up.
    strategy = get_strategy(options.strategy, options.tpu, options.cpu_devices)
    keras.utils.set_random_seed(options.seed)
    return strategy, run_vocab_file(options)


def run_vocab_file(options):
    """Copies the vocabulary into `model_dir` with the run's case setting; returns the copy.

    The setting is `--do_lower_case`, else what the checkpoint and vocabulary say
    (`tfbert.tokenization.case`); a disagreement is logged as one warning line.
    """
    vocab_file = resolve_vocab_file(options)
    lower_case = resolve_lower_case(vocab_file, options.init_checkpoint, options.do_lower_case)
    with writing(f"--model_dir={options.model_dir}"):
        return copy_vocab(vocab_file, options.model_dir, lower_case=lower_case)


def resolve_vocab_file(options):
    """`--vocab_file`, else the `vocab.txt` beside `--init_checkpoint`."""
    if options.vocab_file:
        path, flag = options.vocab_file, f"--vocab_file={options.vocab_file}"
    elif options.init_checkpoint:
        path = os.path.join(options.init_checkpoint, "vocab.txt")
        flag = f"--init_checkpoint={options.init_checkpoint}"
    else:
        raise UsageError("Give --vocab_file (no --init_checkpoint to take it from).")
    if tf.io.gfile.isdir(path):
        raise UsageError(f"{flag}: {path} is a directory; give the vocab.txt file in it.")
    if not tf.io.gfile.exists(path):
        raise UsageError(f"Vocabulary file not found: {path} ({flag}).")
    return path


def model_config(options):
    """The `BertConfig` of `--init_checkpoint` or `--config` (vocab_size as recorded there),
    read from its JSON without loading weights; `UsageError` naming the flag otherwise."""
    if options.init_checkpoint:
        directory, flag = options.init_checkpoint, f"--init_checkpoint={options.init_checkpoint}"
        if not tf.io.gfile.isdir(directory):
            what = "a file" if tf.io.gfile.exists(directory) else "not found"
            raise UsageError(f"{flag}: {what}; expected a checkpoint directory.")
        present = set(tf.io.gfile.listdir(directory))
        for files in FORMATS.values():
            if all(f in present for f in files):
                return _read_config(os.path.join(directory, files[0]), flag)
        hint = (f" (it holds encoder/: did you mean --init_checkpoint="
                f"{os.path.join(directory, 'encoder')}?)"
                if "encoder/" in present or "encoder" in present else
                " (it is a finished fine-tuning run, not an encoder checkpoint)"
                if "model.keras" in present else "")
        expected = "; ".join(" + ".join(files) for files in FORMATS.values())
        raise UsageError(f"{flag}: no checkpoint in this directory{hint}; expected one of: "
                         f"{expected}.")
    if options.config in PRESETS:
        return PRESETS[options.config]
    flag = f"--config={options.config}"
    if not tf.io.gfile.exists(options.config):
        raise UsageError(f"{flag}: neither a preset ({', '.join(PRESETS)}) nor an existing "
                         "config file.")
    if tf.io.gfile.isdir(options.config):
        raise UsageError(f"{flag}: is a directory; give a preset ({', '.join(PRESETS)}) or a "
                         "config JSON file (use --init_checkpoint for a checkpoint directory).")
    return _read_config(options.config, flag)


def _read_config(path, flag):
    try:
        return BertConfig.from_json(path)
    except (ValueError, KeyError, TypeError) as e:  # json errors are ValueErrors
        raise UsageError(f"{flag}: {path}: {e}") from None


def check_start(options):
    """Checks what training starts from before anything is written; returns the vocab file.

    The config (preset or JSON), the checkpoint directory, the vocabulary (readable, and as
    large as the checkpoint's embedding table) and `max_seq_length` against the position
    table: each mistake is a `UsageError` naming the flag.
    """
    config = model_config(options)
    vocab_file = resolve_vocab_file(options)
    try:
        vocab_size = len(load_vocab(vocab_file))
    except ValueError as e:
        raise UsageError(str(e)) from None
    if options.init_checkpoint and config.vocab_size != vocab_size:
        raise UsageError(
            f"--init_checkpoint={options.init_checkpoint} has vocab_size {config.vocab_size} "
            f"but {vocab_file} has {vocab_size} tokens: use the checkpoint's own vocab.txt.")
    source = (f"--init_checkpoint={options.init_checkpoint}" if options.init_checkpoint
              else f"--config={options.config}")
    _check_positions(options.max_seq_length, config.max_position_embeddings, source)
    return vocab_file


def build_encoder(options, vocab_size):
    """The encoder to train: loaded from `init_checkpoint`, else built from `config`."""
    if options.init_checkpoint:
        encoder = load_encoder(options.init_checkpoint, dtype=options.mixed_precision)
        if encoder.vocab_size != vocab_size:
            raise UsageError(
                f"--init_checkpoint={options.init_checkpoint} has vocab_size "
                f"{encoder.vocab_size} but the vocabulary has {vocab_size} tokens.")
        _check_positions(options.max_seq_length, encoder.max_sequence_length,
                         f"--init_checkpoint={options.init_checkpoint}")
        return encoder
    config = dataclasses.replace(model_config(options), vocab_size=vocab_size)
    _check_positions(options.max_seq_length, config.max_position_embeddings,
                     f"--config={options.config}")
    return bert_encoder(config, dtype=options.mixed_precision)


def _check_positions(max_seq_length, max_positions, source):
    if max_seq_length > max_positions:
        raise UsageError(f"--max_seq_length={max_seq_length} exceeds the "
                         f"max_position_embeddings ({max_positions}) of {source}.")
