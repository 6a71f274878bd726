"""The learning-curve picture of a run: losses and the task's metric against steps."""

import matplotlib
import tensorflow as tf

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt  # noqa: E402


def plot_learning_curve(history, metric, path, title=None):
    """Draws train/eval loss and eval `metric` per evaluation into a PNG at `path`.

    Args:
        history: list of dicts with `step`, `train_loss` and eval figures (`loss`, `metric`),
            as `tfbert.training.evaluation.read_history` returns.
        metric: str, the task's figure to draw on the right (e.g. `accuracy`, `f1`).
        path: str, the PNG to write.
    Returns:
        `path`.
    """
    steps = [r["step"] for r in history]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    if any(r.get("train_loss") is not None for r in history):
        left.plot(steps, [r.get("train_loss") for r in history], "o-", label="train loss")
    if any("loss" in r for r in history):
        left.plot(steps, [r.get("loss") for r in history], "s-", label="eval loss")
    left.set_xlabel("step")
    left.set_ylabel("loss")
    left.legend()
    left.grid(alpha=0.3)
    values = [r.get(metric) for r in history]
    right.plot(steps, values, "o-", color="tab:green", label=f"eval {metric}")
    if values:
        best = max(range(len(values)), key=lambda i: values[i])
        right.annotate(f"best {values[best]:.4f}", (steps[best], values[best]),
                       textcoords="offset points", xytext=(0, -15), ha="center")
    right.set_xlabel("step")
    right.set_ylabel(metric)
    right.legend()
    right.grid(alpha=0.3)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    with tf.io.gfile.GFile(path, "wb") as f:
        figure.savefig(f, dpi=100, format="png")
    plt.close(figure)
    return path
