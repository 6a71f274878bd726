"""Encoder forward pass: tfbert vs keras-hub's `BertBackbone` of the same size, one run.

    python -m benchmarks.encoder_forward            # BERT-base, batch 8, seq 128
    python -m benchmarks.encoder_forward --preset=tiny --rounds=5

Prints tokens/s for graph mode (`tf.function`) and XLA (`jit_compile=True`) and
the ratio tfbert / keras-hub. Calls alternate between the two models so that
load on the shared machine hits both alike; the median call time is used.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import flags  # noqa: E402

from benchmarks.peers import keras_hub_backbone  # noqa: E402
from benchmarks.timing import interleaved_times, print_table  # noqa: E402
from tfbert import BertConfig  # noqa: E402
from tfbert.errors import run_program
from tfbert.models import bert_encoder  # noqa: E402

_PRESET = flags.DEFINE_enum("preset", "base", ["tiny", "mini", "small", "medium", "base"],
                            "BERT size to compare.")
_BATCH = flags.DEFINE_integer("batch_size", 8, "Sequences per call.", lower_bound=1)
_SEQ = flags.DEFINE_integer("seq_length", 128, "Tokens per sequence.", lower_bound=2)
_ROUNDS = flags.DEFINE_integer("rounds", 10, "Timed calls per model and mode.", lower_bound=1)



def run_benchmark(preset, batch_size, seq_length, rounds):
    """Returns rows (mode, tfbert tok/s, keras-hub tok/s, ratio)."""
    config = BertConfig.preset(preset)
    models = {"tfbert": bert_encoder(config), "keras-hub": keras_hub_backbone(config)}
    rng = np.random.default_rng(0)
    inputs = {
        "token_ids": tf.constant(rng.integers(1, config.vocab_size, (batch_size, seq_length)),
                                 tf.int32),
        "segment_ids": tf.zeros((batch_size, seq_length), tf.int32),
        "padding_mask": tf.ones((batch_size, seq_length), tf.int32),
    }
    tokens = batch_size * seq_length
    rows = []
    for mode, jit in (("graph", False), ("xla", True)):
        calls = {}
        for name, model in models.items():
            forward = tf.function(lambda x, m=model: m(x, training=False), jit_compile=jit)
            calls[name] = lambda f=forward: keras_tree_block(f(inputs))
        times = interleaved_times(calls, rounds)
        rate = {name: tokens / np.median(t) for name, t in times.items()}
        rows.append((mode, f"{rate['tfbert']:.0f}", f"{rate['keras-hub']:.0f}",
                     f"{rate['tfbert'] / rate['keras-hub']:.3f}"))
    return rows


def keras_tree_block(outputs):
    """Forces the result to the host so the timing covers the whole computation."""
    for value in tf.nest.flatten(outputs):
        value.numpy()


def main(argv):
    del argv
    rows = run_benchmark(_PRESET.value, _BATCH.value, _SEQ.value, _ROUNDS.value)
    print_table(
        f"Encoder forward, BERT-{_PRESET.value}, batch {_BATCH.value}, seq {_SEQ.value} "
        f"(median of {_ROUNDS.value} interleaved calls)",
        ("mode", "tfbert tokens/s", "keras-hub tokens/s", "ratio"), rows)


if __name__ == "__main__":
    run_program(main)
