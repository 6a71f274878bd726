r"""Fine-tunes BERT on the GLUE tasks, scores each on dev and writes the leaderboard's files.

    python -m apps.glue --task=all --data_dir=glue_data \
        --init_checkpoint=uncased_L-12_H-768_A-12 --output_dir=runs/glue

`--data_dir` as the GLUE download script lays it out (CoLA/, SST-2/, MRPC/, STS-B/, QQP/,
MNLI/, QNLI/, RTE/, WNLI/, diagnostic/diagnostic.tsv); `--task=all` runs every task found
there. Each task's run goes to OUTPUT_DIR/<task>/, the submission files (CoLA.tsv, ...,
MNLI-m.tsv, MNLI-mm.tsv, AX.tsv) to OUTPUT_DIR/submission/, and the dev table to
OUTPUT_DIR/summary.json. STS-B trains as regression; every other task as classification.
"""

from absl import flags

from apps import common_flags
from tfbert.errors import run_program
from tfbert.tasks.classification.suites import GLUE

common_flags.define_training_flags(batch_size=32, learning_rate=2e-5, epochs=3)
common_flags.define_suite_flags(
    GLUE, "The GLUE data folder (one sub-folder per task, as the GLUE download script writes it).")


def main(argv):
    del argv
    common_flags.run_suite_from_flags(GLUE)


if __name__ == "__main__":
    flags.mark_flags_as_required(["data_dir", "output_dir"])
    run_program(main)
