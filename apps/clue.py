r"""Fine-tunes BERT on the CLUE classification tasks, scores each on dev and writes the
leaderboard's files.

    python -m apps.clue --task=all --data_dir=clue_data \
        --init_checkpoint=chinese_L-12_H-768_A-12 --output_dir=runs/clue

`--data_dir` holds the tasks' folders as CLUE ships them (afqmc_public/, tnews_public/,
iflytek_public/, cmnli_public/, ocnli_public/, csl_public/, cluewsc2020_public/); `--task=all`
runs every task found there. Each task's run goes to OUTPUT_DIR/<task>/, the CLUE 1.1
submission files (afqmc_predict.json, tnews11_predict.json, ...) to OUTPUT_DIR/submission/,
and the dev table to OUTPUT_DIR/summary.json.
"""

from absl import flags

from apps import common_flags
from tfbert.errors import run_program
from tfbert.tasks.classification.suites import CLUE

common_flags.define_training_flags(batch_size=32, learning_rate=2e-5, epochs=3)
common_flags.define_suite_flags(
    CLUE, "The CLUE data folder (the tasks' `<task>_public/` folders).")


def main(argv):
    del argv
    common_flags.run_suite_from_flags(CLUE)


if __name__ == "__main__":
    flags.mark_flags_as_required(["data_dir", "output_dir"])
    run_program(main)
