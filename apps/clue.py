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

from absl import app, flags

from apps import common_flags
from tfbert.errors import run_program, writing
from tfbert.tasks.classification.suites import CLUE, run_suite

common_flags.define_training_flags(batch_size=32, learning_rate=2e-5, epochs=3)
_TASK = flags.DEFINE_enum("task", "all", ["all", *CLUE.tasks], "The CLUE task to run, or "
                          "`all` for every task under --data_dir.", case_sensitive=False)
_DATA_DIR = flags.DEFINE_string("data_dir", None, "The CLUE data folder (the tasks' "
                                "`<task>_public/` folders).")
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
        run_suite(CLUE, _DATA_DIR.value, _OUTPUT_DIR.value, options,
                  tasks=None if _TASK.value == "all" else [_TASK.value],
                  strict=flags.FLAGS.strict)


if __name__ == "__main__":
    flags.mark_flags_as_required(["data_dir", "output_dir"])
    run_program(main)
