"""Lets `model.fit` run under `MultiWorkerMirroredStrategy` with Keras 3.15 + TF 2.21.

Two upstream bugs stop it (keras-team/keras#20585 and #20329, tensorflow/tensorflow#72388):

1. `fit` builds the model from a first batch by `strategy.reduce("MEAN", batch)`, which
   fails for dict inputs under the collective all-reduce. Any replica's local batch has the
   right shapes and dtypes, so we build from the first local result instead.
2. Per-step logs are reduced with `strategy.reduce("MEAN", value, axis=0)`, which fails
   on scalars. Giving each log a leading axis of size 1 makes that reduction valid (the
   mean over replicas of identical, already-synchronised metric values).

Both changes apply only under multi-worker collectives, so every other strategy runs
Keras' code untouched; one model, optimizer and `model.fit` serve every strategy.
"""

import tensorflow as tf


def _is_multi_worker(strategy):
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


class MultiWorkerFitMixin:
    """Mix into a `keras.Model` subclass before `keras.Model` in the bases."""

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        strategy = getattr(self, "_distribute_strategy", None)
        if not _is_multi_worker(strategy) or iterator is None:
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        for _, _, data_iterator in iterator:
            data_batch = tf.nest.map_structure(
                lambda value: strategy.experimental_local_results(value)[0]
                if isinstance(value, tf.distribute.DistributedValues) else value,
                next(data_iterator))
            break
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    def _with_batch_axis(self, logs):
        if not _is_multi_worker(self.distribute_strategy):
            return logs
        return {name: tf.reshape(value, [1]) for name, value in logs.items()}

    def train_step(self, data):
        return self._with_batch_axis(super().train_step(data))

    def test_step(self, data):
        return self._with_batch_axis(super().test_step(data))
