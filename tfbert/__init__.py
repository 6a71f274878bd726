"""tfbert: BERT for TensorFlow users, from vocabulary to TF Serving and TFLite."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from tfbert.config import BertConfig  # noqa: E402

__all__ = ["BertConfig", "Predictor"]


def __getattr__(name):
    # `tfbert.Predictor` loads TensorFlow, tf-text and LiteRT: only when asked for, so that
    # `import tfbert` (done by every submodule import) stays light.
    if name == "Predictor":
        from tfbert.predictor import Predictor
        return Predictor
    raise AttributeError(f"module 'tfbert' has no attribute {name!r}")
