"""Running a raw-text `.tflite` (tokenizer inside) with LiteRT, and the export facts it carries.

`export.tflite` writes the `.tflite` and embeds the export's facts (task, labels,
max_seq_length, case handling) as flatbuffer metadata `tfbert_export_info` (JSON), the slot
TFLite keeps for model metadata; runtimes ignore it. `read_export_info` reads it back, so a
`.tflite` file alone is enough for `tfbert.Predictor`.
"""

import json
import mmap
import os

import numpy as np
import tensorflow_text as tf_text
from ai_edge_litert.interpreter import InterpreterWithCustomOps

INFO_METADATA = "tfbert_export_info"


class TFLiteModel:
    """Runs a `.tflite` from `export.tflite` with LiteRT and tf-text's custom-op kernels.

    Args:
        path: str, the `.tflite` file.
        num_threads: int or None, interpreter threads.

    Example:
    >>> model = TFLiteModel("bert.tflite")
    >>> model.predict(["what a great film"])["label"]  # array([b'pos'], dtype=object)
    """

    def __init__(self, path, num_threads=None):
        self.path = path
        self.interpreter = InterpreterWithCustomOps(
            model_path=path, num_threads=num_threads,
            custom_op_registerers=tf_text.tflite_registrar.SELECT_TFTEXT_OPS)
        self._runner = self.interpreter.get_signature_runner("serving_default")
        self.input_names = sorted(self._runner.get_input_details())
        self.output_names = sorted(self._runner.get_output_details())

    def predict(self, texts=None, **inputs):
        """Runs `serving_default`; returns {output name: numpy array}.

        Args:
            texts: list of str/bytes for a one-input model (`text`).
            **inputs: lists of str/bytes by input name (`text_pair`, `question`, `context`).
        """
        if texts is not None:
            inputs["text"] = texts
        if sorted(inputs) != self.input_names:
            raise ValueError(f"{self.path}: inputs {sorted(inputs)} given, the model takes "
                             f"{self.input_names}.")
        sizes = {len(v) for v in inputs.values()}
        if len(sizes) != 1:
            raise ValueError(f"inputs have different batch sizes: "
                             f"{ {k: len(v) for k, v in inputs.items()} }.")
        if sizes == {0}:
            # XNNPACK cannot resize to an empty batch ("failed to prepare").
            raise ValueError("`texts` is empty: a TFLite batch needs at least one text.")
        feeds = {k: np.array([t.encode("utf-8") if isinstance(t, str) else bytes(t) for t in v],
                             dtype=object) for k, v in inputs.items()}
        return self._runner(**feeds)


def read_export_info(path):
    """The `tfbert_export_info` dict embedded in the `.tflite` at `path`, or None."""
    from tensorflow.lite.python import schema_py_generated as schema
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        model = schema.Model.GetRootAs(data, 0)
        for i in range(model.MetadataLength()):
            entry = model.Metadata(i)
            if entry.Name() == INFO_METADATA.encode():
                return json.loads(model.Buffers(entry.Buffer()).DataAsNumpy().tobytes())
    return None


def embed_export_info(path, info):
    """Rewrites the `.tflite` at `path` with `info` (a JSON-able dict) as its metadata."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils
    model = flatbuffer_utils.read_model(path)
    model.metadata = [m for m in (model.metadata or []) if m.name != INFO_METADATA.encode()]
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(json.dumps(info, ensure_ascii=False).encode(), np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = INFO_METADATA
    entry.buffer = len(model.buffers) - 1
    model.metadata.append(entry)
    flatbuffer_utils.write_model(model, path + ".tmp")
    os.replace(path + ".tmp", path)
    return path
