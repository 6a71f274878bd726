"""tfbert: BERT for TensorFlow users, from vocabulary to TF Serving and TFLite."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from tfbert.config import BertConfig  # noqa: E402

__all__ = ["BertConfig"]
