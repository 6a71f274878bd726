"""What every training program takes (the shared flags of DESIGN.md), and the encoder it
starts from."""

import dataclasses
import math
import os

import keras
import tensorflow as tf

from tfbert.checkpoints import load_encoder
from tfbert.config import PRESETS, BertConfig
from tfbert.models import bert_encoder
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
        if steps < 1:
            raise ValueError(
                f"{num_examples} training examples give no full batch of --batch_size="
                f"{self.batch_size}.")
        per_loop = min(self.steps_per_loop, steps)
        rounded = math.ceil(steps / per_loop) * per_loop
        if rounded != steps:
            print(f"Training {rounded} steps: {steps} rounded up to whole loops of "
                  f"--steps_per_loop={per_loop}.", flush=True)
        return rounded


def prepare(options):
    """Seeds Python, numpy and TensorFlow from `options.seed`; returns `(strategy, vocab_file)`."""
    # The strategy first: splitting the CPU into logical devices must precede TF's start-up.
    strategy = get_strategy(options.strategy, options.tpu, options.cpu_devices)
    keras.utils.set_random_seed(options.seed)
    return strategy, resolve_vocab_file(options)


def resolve_vocab_file(options):
    """`--vocab_file`, else the `vocab.txt` beside `--init_checkpoint`."""
    if options.vocab_file:
        path = options.vocab_file
    elif options.init_checkpoint:
        path = os.path.join(options.init_checkpoint, "vocab.txt")
    else:
        raise ValueError("Give --vocab_file (no --init_checkpoint to take it from).")
    if not tf.io.gfile.exists(path):
        raise ValueError(f"Vocabulary file not found: {path}")
    return path


def build_encoder(options, vocab_size):
    """The encoder to train: loaded from `init_checkpoint`, else built from `config`."""
    if options.init_checkpoint:
        encoder = load_encoder(options.init_checkpoint, dtype=options.mixed_precision)
        if encoder.vocab_size != vocab_size:
            raise ValueError(
                f"--init_checkpoint={options.init_checkpoint} has vocab_size "
                f"{encoder.vocab_size} but the vocabulary has {vocab_size} tokens.")
        _check_positions(options.max_seq_length, encoder.max_sequence_length,
                         f"--init_checkpoint={options.init_checkpoint}")
        return encoder
    if options.config in PRESETS:
        config = BertConfig.preset(options.config, vocab_size=vocab_size)
    else:
        config = dataclasses.replace(BertConfig.from_json(options.config),
                                     vocab_size=vocab_size)
    _check_positions(options.max_seq_length, config.max_position_embeddings,
                     f"--config={options.config}")
    return bert_encoder(config, dtype=options.mixed_precision)


def _check_positions(max_seq_length, max_positions, source):
    if max_seq_length > max_positions:
        raise ValueError(f"--max_seq_length={max_seq_length} exceeds the "
                         f"max_position_embeddings ({max_positions}) of {source}.")
