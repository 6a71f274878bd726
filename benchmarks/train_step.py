"""Training step: tfbert vs keras-hub's `BertBackbone` + the same head, one run.

    python -m benchmarks.train_step                    # BERT-small, batch 16, seq 128
    python -m benchmarks.train_step --preset=base --batch_size=8

Both models are a classifier (dense layer on the pooled output) compiled with the same
AdamW and loss and stepped through Keras' own train function (`train_on_batch`), in
graph mode and with `jit_compile=True`; calls alternate between the models. A second
table times the `tf.data` input pipeline alone (in-graph tokenization + packing of the
shipped sentiment reviews) against the training rate, to show it is not the bottleneck.
"""

import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from absl import flags  # noqa: E402

from benchmarks.peers import keras_hub_backbone  # noqa: E402
from benchmarks.timing import interleaved_times, print_table  # noqa: E402
from tfbert import BertConfig  # noqa: E402
from tfbert.data.sentiment import load_sentiment_split
from tfbert.errors import run_program
from tfbert.models import BertClassifier, bert_encoder  # noqa: E402
from tfbert.tasks.classification.features import classification_dataset
from tfbert.tokenization import BertTokenizer
from tfbert.tokenization.learn import learn_vocab

_PRESET = flags.DEFINE_enum("preset", "small", ["tiny", "mini", "small", "medium", "base"],
                            "BERT size to compare.")
_BATCH = flags.DEFINE_integer("batch_size", 16, "Examples per step.", lower_bound=1)
_SEQ = flags.DEFINE_integer("seq_length", 128, "Tokens per example.", lower_bound=8)
_ROUNDS = flags.DEFINE_integer("rounds", 8, "Timed steps per model and mode.", lower_bound=1)


def keras_hub_classifier(config):
    backbone = keras_hub_backbone(config)
    pooled = backbone.output["pooled_output"]
    logits = keras.layers.Dense(2, dtype="float32")(keras.layers.Dropout(0.1)(pooled))
    return keras.Model(backbone.input, logits)


def compiled(model, jit_compile):
    model.compile(optimizer=keras.optimizers.AdamW(1e-4), jit_compile=jit_compile,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def train_rates(preset, batch_size, seq_length, rounds):
    config = BertConfig.preset(preset)
    rng = np.random.default_rng(0)
    x = {"token_ids": rng.integers(1, config.vocab_size, (batch_size, seq_length)).astype("int32"),
         "segment_ids": np.zeros((batch_size, seq_length), "int32"),
         "padding_mask": np.ones((batch_size, seq_length), "int32")}
    y = rng.integers(0, 2, (batch_size,)).astype("int32")
    rows, rates = [], {}
    for mode, jit in (("graph", False), ("xla", True)):
        models = {"tfbert": compiled(BertClassifier(bert_encoder(config), 2), jit),
                  "keras-hub": compiled(keras_hub_classifier(config), jit)}
        calls = {name: (lambda m=m: m.train_on_batch(x, y)) for name, m in models.items()}
        times = interleaved_times(calls, rounds)
        rate = {name: batch_size / np.median(t) for name, t in times.items()}
        rates[mode] = rate["tfbert"]
        rows.append((mode, f"{rate['tfbert']:.1f}", f"{rate['keras-hub']:.1f}",
                     f"{rate['tfbert'] / rate['keras-hub']:.3f}"))
    return rows, rates


def input_pipeline_rate(batch_size, seq_length):
    """Examples/s of tokenizing + packing the sentiment reviews in `tf.data` alone."""
    train, _ = load_sentiment_split()
    texts = [t for t, _ in train]
    vocab_dir = os.path.join(os.environ.get("TMPDIR", "/tmp"), "tfbert_bench_vocab")
    vocab_file = learn_vocab(texts, 8000, vocab_dir, log=lambda *_: None)
    dataset = classification_dataset(texts, np.zeros(len(texts), "int32"),
                                      BertTokenizer(vocab_file), seq_length, batch_size)
    for _ in dataset.take(2):
        pass
    start = time.perf_counter()
    count = sum(int(labels.shape[0]) for _, labels in dataset)
    return count / (time.perf_counter() - start)


def main(argv):
    del argv
    rows, rates = train_rates(_PRESET.value, _BATCH.value, _SEQ.value, _ROUNDS.value)
    print_table(f"Training step, BERT-{_PRESET.value} classifier, batch {_BATCH.value}, "
                f"seq {_SEQ.value} (examples/s, median of {_ROUNDS.value} interleaved steps)",
                ("mode", "tfbert", "keras-hub", "ratio"), rows)
    pipeline = input_pipeline_rate(_BATCH.value, _SEQ.value)
    print_table("Input pipeline alone vs training (examples/s)",
                ("pipeline", "training (graph)", "training (xla)", "headroom"),
                [(f"{pipeline:.0f}", f"{rates['graph']:.1f}", f"{rates['xla']:.1f}",
                  f"{pipeline / max(rates.values()):.0f}x")])


if __name__ == "__main__":
    run_program(main)
