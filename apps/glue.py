r"""Fine-tunes BERT on the GLUE tasks, scores each on dev and writes the leaderboard's files.

    python -m apps.glue --task=all --data_dir=glue_data \
        --init_checkpoint=uncased_L-12_H-768_A-12 --output_dir=runs/glue

`--data_dir` as the GLUE download script lays it out (CoLA/, SST-2/, MRPC/, STS-B/, QQP/,
MNLI/, QNLI/, RTE/, WNLI/, diagnostic/diagnostic.tsv); `--task=all` runs every task found
there. Each task's run goes to OUTPUT_DIR/<task>/, the submission files (CoLA.tsv, ...,
MNLI-m.tsv, MNLI-mm.tsv, AX.tsv) to OUTPUT_DIR/submission/, and the dev table to
OUTPUT_DIR/summary.json. STS-B trains as regression; every other task as classification.
"""

from absl import app, flags

from apps import common_flags
from tfbert.errors import run_program, writing
from tfbert.tasks.classification.suites import GLUE, run_suite

common_flags.define_training_flags(batch_size=32, learning_rate=2e-5, epochs=3)
_TASK = flags.DEFINE_enum("task", "all", ["all", *GLUE.tasks], "The GLUE task to run, or "
                          "`all` for every task under --data_dir.", case_sensitive=False)
_DATA_DIR = flags.DEFINE_string("data_dir", None, "The GLUE data folder (one sub-folder per "
                                "task, as the GLUE download script writes it).")
_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Where each task's run, the submission "
                                  "files and summary.json go.")


def main(argv):
    del argv
    if flags.FLAGS.model_dir:
        raise app.UsageError(f"--model_dir={flags.FLAGS.model_dir}: give --output_dir; each "
                             "task's run goes to OUTPUT_DIR/<task>.")
    options, _ = common_flags.training_options()
    with writing(f"--output_dir={_OUTPUT_DIR.value}"):
        common_flags.save_flagfile(_OUTPUT_DIR.value)
        run_suite(GLUE, _DATA_DIR.value, _OUTPUT_DIR.value, options,
                  tasks=None if _TASK.value == "all" else [_TASK.value],
                  strict=flags.FLAGS.strict)


if __name__ == "__main__":
    flags.mark_flags_as_required(["data_dir", "output_dir"])
    run_program(main)
