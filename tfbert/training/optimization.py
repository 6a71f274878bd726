"""AdamW with linear warm-up and linear decay, as BERT was trained."""

import keras
from keras import ops

# LayerNorm scales/offsets and biases are not decayed (as in the original BERT).
NO_DECAY_NAMES = ("gamma", "beta", "bias")


@keras.saving.register_keras_serializable(package="tfbert")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 to `peak_learning_rate`, then linear decay to 0.

    Args:
        peak_learning_rate: float, the rate reached at the end of warm-up.
        total_steps: int, the step at which the rate reaches 0.
        warmup_steps: int, steps of linear warm-up. Defaults to 0.
    """

    def __init__(self, peak_learning_rate, total_steps, warmup_steps=0):
        if total_steps < 1:
            raise ValueError(f"`total_steps` must be >= 1, got {total_steps}.")
        if not 0 <= warmup_steps <= total_steps:
            raise ValueError(
                f"`warmup_steps` ({warmup_steps}) must be in [0, total_steps={total_steps}].")
        self.peak_learning_rate = peak_learning_rate
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warmup = step / max(self.warmup_steps, 1)
        decay = (self.total_steps - step) / max(self.total_steps - self.warmup_steps, 1)
        fraction = ops.where(step < self.warmup_steps, warmup, decay)
        return self.peak_learning_rate * ops.clip(fraction, 0.0, 1.0)

    def get_config(self):
        return {"peak_learning_rate": self.peak_learning_rate,
                "total_steps": self.total_steps, "warmup_steps": self.warmup_steps}


def create_optimizer(learning_rate, total_steps, warmup_fraction=0.1, weight_decay=0.01,
                     global_clipnorm=1.0, gradient_accumulation_steps=None, beta_2=0.999,
                     epsilon=1e-6):
    """Returns `keras.optimizers.AdamW` on a `WarmupLinearDecay` schedule.

    Args:
        learning_rate: float, peak learning rate.
        total_steps: int, optimizer steps of the whole run.
        warmup_fraction: float, share of `total_steps` spent warming up. Defaults to 0.1.
        weight_decay: float, decoupled weight decay; not applied to LayerNorm and biases.
        global_clipnorm: float or None, clip gradients to this global norm. Defaults to 1.0.
        gradient_accumulation_steps: int or None, apply the averaged gradient every N batches.
        beta_2: float, Adam's second-moment decay. Defaults to 0.999 (BERT); 0.98 (RoBERTa)
            keeps the large peak rates of small models stable.
        epsilon: float, Adam's epsilon. Defaults to 1e-6 (BERT).
    """
    if learning_rate <= 0:
        raise ValueError(f"`learning_rate` must be positive, got {learning_rate}.")
    if not 0 <= warmup_fraction < 1:
        raise ValueError(f"`warmup_fraction` must be in [0, 1), got {warmup_fraction}.")
    schedule = WarmupLinearDecay(
        learning_rate, total_steps, warmup_steps=int(total_steps * warmup_fraction))
    optimizer = keras.optimizers.AdamW(
        learning_rate=schedule, weight_decay=weight_decay, beta_1=0.9, beta_2=beta_2,
        epsilon=epsilon, global_clipnorm=global_clipnorm,
        gradient_accumulation_steps=gradient_accumulation_steps)
    optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY_NAMES))
    return optimizer
