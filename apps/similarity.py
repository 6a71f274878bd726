"""Scores semantic similarity: Spearman correlation of embedding cosines with gold scores.

    python -m export.saved_model --task=embedding --checkpoint=all-MiniLM-L6-v2 \
        --export_base=/srv/models --model_name=minilm
    python -m apps.similarity --model=/srv/models/minilm/1 --pairs=sts-dev.tsv

`--model` is an embedding export (a version directory) or a checkpoint directory (embedded in
this process, as `export.saved_model --task=embedding` would export it). `--pairs` is a GLUE
STS-B file (`STS-B/dev.tsv`), or any TSV whose header names the columns `sentence1`,
`sentence2` and `score` (read by `tfbert.data.glue`). The cosine of the two embeddings is each
pair's prediction; the program prints Spearman (the STS-B figure) and Pearson correlations.
"""

import json
import time

from absl import app, flags

from tfbert.data.glue import read_glue_file
from tfbert.errors import run_program
from tfbert.tasks.classification.metrics import pearson, spearman
from tfbert.tasks.embedding.similarity import cosine_similarities, text_embedder


def define_flags():
    """The program's flags (defined under __main__, so tests can import several
    programs whose flags share names)."""
    flags.DEFINE_string(
        "model", None, "An export.saved_model --task=embedding version directory, or a checkpoint "
        "directory (Hugging Face, original BERT or the project's format, with vocab.txt).")
    flags.DEFINE_string(
        "pairs", None, "TSV file of scored pairs with a header naming sentence1, sentence2 and "
        "score (the GLUE STS-B layout).")
    flags.DEFINE_integer(
        "max_seq_length", None, "For a checkpoint --model: word pieces per text. Default: its "
        "sentence_bert_config.json, else 128.", lower_bound=2)
    flags.DEFINE_integer(
        "batch_size", 64, "Texts embedded per call.", lower_bound=1)
    flags.DEFINE_string(
        "output_json", None, "Optional file for the figures and each pair's cosine as JSON.")


def score_similarity(model, pairs_file, max_seq_length=None, batch_size=64, output_json=None):
    """Embeds the pairs of `pairs_file` with `model` and correlates cosines with gold scores.

    Returns:
        dict: `pairs`, `spearman`, `pearson`, `seconds` (embedding time), and `cosines` (one
        float per pair, in file order).
    """
    examples = read_glue_file("STS-B", pairs_file).examples
    first = [e.text for e in examples]
    second = [e.text_pair for e in examples]
    gold = [float(e.label) for e in examples]
    print(f"read {len(gold)} pairs from {pairs_file}")
    start = time.time()
    embed = text_embedder(model, max_seq_length)
    print(f"loaded {model} ({time.time() - start:.1f} s)")
    start = time.time()
    cosines = cosine_similarities(embed, first, second, batch_size)
    result = {"pairs": len(gold), "spearman": spearman(cosines, gold),
              "pearson": pearson(cosines, gold), "seconds": round(time.time() - start, 2),
              "cosines": [round(float(c), 6) for c in cosines]}
    if output_json:
        with open(output_json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
    return result


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    result = score_similarity(flags.FLAGS.model, flags.FLAGS.pairs, flags.FLAGS.max_seq_length,
                              flags.FLAGS.batch_size, flags.FLAGS.output_json)
    print(f"{result['pairs']} pairs embedded in {result['seconds']:.1f} s: "
          f"Spearman {result['spearman']:.4f}, Pearson {result['pearson']:.4f}")


if __name__ == "__main__":
    define_flags()
    flags.mark_flags_as_required(["model", "pairs"])
    run_program(main)
