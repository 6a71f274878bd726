"""A tiny training run through tfbert's real strategy + fit path, for distribution tests.

    python -m tests.distributed_worker --strategy=mirrored --cpu_devices=2 --model_dir=D

Prints one `RESULT {json}` line: the loss of every step and a checksum of the weights.
Run as a subprocess: logical CPU devices and TF_CONFIG must be set before TF starts.
"""

import json
import time

from absl import app, flags

flags.DEFINE_string("strategy", "default", "Strategy name for get_strategy.")
flags.DEFINE_integer("cpu_devices", 1, "Logical CPU devices.")
flags.DEFINE_string("model_dir", None, "Training directory.")
flags.DEFINE_integer("steps", 6, "Optimizer steps.")
flags.DEFINE_integer("steps_per_loop", 1, "Steps between resume checkpoints.")
flags.DEFINE_float("sleep", 0.0, "Seconds to sleep after each step (kill tests).")
FLAGS = flags.FLAGS

GLOBAL_BATCH = 8


def run(strategy_name, cpu_devices, model_dir, steps, steps_per_loop, sleep):
    from tfbert.training.distribution import get_strategy
    strategy = get_strategy(strategy_name, cpu_devices=cpu_devices)
    import keras
    import numpy as np
    import tensorflow as tf

    from tfbert import BertConfig
    from tfbert.models import BertClassifier, bert_encoder
    from tfbert.training import loop as training
    from tfbert.training.optimization import create_optimizer

    rng = np.random.default_rng(0)
    features = {"token_ids": rng.integers(1, 99, (64, 7)).astype("int32"),
                "segment_ids": np.zeros((64, 7), "int32"),
                "padding_mask": np.ones((64, 7), "int32")}
    labels = (features["token_ids"][:, 0] > 50).astype("int32")
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    dataset = (tf.data.Dataset.from_tensor_slices((features, labels))
               .batch(GLOBAL_BATCH, drop_remainder=True)
               .with_options(options))
    config = BertConfig(vocab_size=99, hidden_size=12, num_hidden_layers=2,
                        num_attention_heads=3, intermediate_size=37,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = BertClassifier(bert_encoder(config), num_classes=2, dropout=0.0)
        model.compile(optimizer=create_optimizer(1e-2, steps, warmup_fraction=0.0),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    initial = float(sum(np.abs(w).sum() for w in model.get_weights()))

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if sleep:
                time.sleep(sleep)

    history = training.fit(model, dataset, model_dir=model_dir, total_steps=steps,
                           steps_per_loop=steps_per_loop, callbacks=[Record()], verbose=0)
    checksum = float(sum(np.abs(w).sum() for w in model.get_weights()))
    print("RESULT " + json.dumps({
        "losses": [float(v) for v in history.history.get("loss", [])],
        "replicas": strategy.num_replicas_in_sync, "checksum": checksum,
        "initial_checksum": initial,
        "weights": [w.ravel()[:5].tolist() for w in model.get_weights()][:4]}), flush=True)


def main(argv):
    del argv
    run(FLAGS.strategy, FLAGS.cpu_devices, FLAGS.model_dir, FLAGS.steps,
        FLAGS.steps_per_loop, FLAGS.sleep)


if __name__ == "__main__":
    app.run(main)
