"""Choosing a `tf.distribute` strategy for the training programs.

`auto` picks, in order: a TPU when one resolves, MultiWorkerMirrored when
`TF_CONFIG` names more than one worker, Mirrored over all GPUs when there is
more than one, Mirrored over logical CPU devices when `cpu_devices > 1`, else
the default (single-device) strategy.
"""

import json
import os

import tensorflow as tf
from absl import logging

STRATEGIES = ("auto", "default", "mirrored", "multi_worker", "tpu")


def split_cpu(num_devices):
    """Splits the host CPU into `num_devices` logical devices (before TF initialises)."""
    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration()] * num_devices)
    except RuntimeError as error:
        if len(tf.config.list_logical_devices("CPU")) != num_devices:
            raise RuntimeError(
                f"--cpu_devices={num_devices} must be applied before TensorFlow initialises "
                f"its devices ({error}).") from None


def _num_workers():
    cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def _tpu_strategy(tpu):
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def get_strategy(name="auto", tpu=None, cpu_devices=1):
    """Returns the `tf.distribute.Strategy` named by `--strategy`.

    Args:
        name: one of `STRATEGIES`.
        tpu: str or None, TPU name or address (`"local"` on a TPU VM).
        cpu_devices: int, logical CPU devices to split the host into; with more
            than one, `mirrored` (and `auto` without GPUs) mirrors across them.
    """
    if name not in STRATEGIES:
        raise ValueError(f"--strategy={name} is not one of {STRATEGIES}.")
    if cpu_devices < 1:
        raise ValueError(f"--cpu_devices={cpu_devices} must be >= 1.")
    if cpu_devices > 1:
        split_cpu(cpu_devices)
    if name == "auto":
        if tpu or os.environ.get("TPU_NAME"):
            name = "tpu"
        elif _num_workers() > 1:
            name = "multi_worker"
        elif len(tf.config.list_physical_devices("GPU")) > 1 or cpu_devices > 1:
            name = "mirrored"
        else:
            name = "default"
    if name == "tpu":
        strategy = _tpu_strategy(tpu or os.environ.get("TPU_NAME", "local"))
    elif name == "multi_worker":
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    elif name == "mirrored":
        devices = None
        if not tf.config.list_physical_devices("GPU"):
            devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        strategy = tf.distribute.MirroredStrategy(devices)
    else:
        strategy = tf.distribute.get_strategy()
    logging.info("Strategy %s with %d replica(s).", type(strategy).__name__,
                 strategy.num_replicas_in_sync)
    return strategy
