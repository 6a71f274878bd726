"""Converts a BERT checkpoint (original, Hugging Face or the project's) into the project's format.

    python -m apps.convert_checkpoint --input_dir=uncased_L-12_H-768_A-12 --output_dir=bert_base

The output directory holds `bert_config.json`, `encoder.weights.h5` and `vocab.txt`, and
loads with `tfbert.checkpoints.load_encoder`.
"""

import os
import time

from absl import app, flags

from tfbert import checkpoints
from tfbert.checkpoints import layout
from tfbert.errors import run_program

_INPUT_DIR = flags.DEFINE_string(
    "input_dir", None,
    "Directory of the checkpoint to convert: google-research/bert (bert_config.json, "
    "bert_model.ckpt.*), Hugging Face (config.json, model.safetensors) or the project's "
    "own format. It must hold vocab.txt.")
_OUTPUT_DIR = flags.DEFINE_string(
    "output_dir", None, "Directory to write the converted checkpoint to; created if needed.")
_ALLOW_PICKLE = flags.DEFINE_bool(
    "allow_pickle", False,
    "Whether a Hugging Face pytorch_model.bin may be unpickled (needs torch). Pickles can "
    "run code when loaded: set this only for checkpoints from a source you trust.")


def convert_checkpoint(input_dir, output_dir, allow_pickle=False):
    """Loads the checkpoint in `input_dir` and writes it in the project's format.

    Returns:
        dict summary: `format`, `num_layers`, `hidden_size`, `vocab_size`, `parameters`,
        `files` (role -> path written), `seconds`.
    """
    start = time.time()
    checkpoint_format = checkpoints.detect_format(input_dir)
    # The project's format always carries its vocabulary.
    layout.require_files(input_dir, ["vocab.txt"])
    encoder = checkpoints.load_encoder(input_dir, allow_pickle=allow_pickle)
    print(f"read {checkpoint_format} checkpoint {input_dir} ({time.time() - start:.1f} s)")
    files = checkpoints.save_encoder(encoder, os.path.join(input_dir, "vocab.txt"), output_dir)
    return {
        "format": checkpoint_format,
        "num_layers": encoder.num_layers,
        "hidden_size": encoder.hidden_size,
        "vocab_size": encoder.vocab_size,
        "parameters": encoder.count_params(),
        "files": files,
        "seconds": round(time.time() - start, 2),
    }


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    if os.path.abspath(_INPUT_DIR.value) == os.path.abspath(_OUTPUT_DIR.value):
        raise app.UsageError(
            f"--output_dir={_OUTPUT_DIR.value} must differ from --input_dir={_INPUT_DIR.value}.")
    summary = convert_checkpoint(_INPUT_DIR.value, _OUTPUT_DIR.value, _ALLOW_PICKLE.value)
    print(f"converted {summary['format']} checkpoint: {summary['num_layers']} layers, "
          f"hidden {summary['hidden_size']}, vocab {summary['vocab_size']}, "
          f"{summary['parameters']:,} parameters, {summary['seconds']} s")
    for role, path in summary["files"].items():
        print(f"  {role}: {path}")


if __name__ == "__main__":
    flags.mark_flags_as_required([_INPUT_DIR, _OUTPUT_DIR])
    run_program(main)
