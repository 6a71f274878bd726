r"""Fine-tunes BERT for extractive question answering on SQuAD v1.1 or v2.0 JSON files.

    python -m apps.squad --init_checkpoint=DIR --model_dir=runs/squad \
        --train_file=train-v1.1.json --eval_file=dev-v1.1.json

Long contexts are cut into windows `--doc_stride` pieces apart. With `--eval_file` it writes
`predictions.json` (id -> answer, "" for no answer), `nbest_predictions.json` and, for v2.0,
`null_odds.json`, and scores exact match and F1 as the official evaluation does.
Add `--version_2_with_negative` for SQuAD v2.0 (unanswerable questions). CMRC 2018 (Chinese)
files share SQuAD's layout; their answers are scored the CMRC way (`--qa_metric=auto`).
"""

from absl import app, flags

from apps import common_flags
from tfbert.data.files import check_file
from tfbert.data.squad import read_squad
from tfbert.errors import run_program, writing
from tfbert.tasks.squad.metrics import QA_METRICS
from tfbert.tasks.squad.run import train_squad

common_flags.define_training_flags(batch_size=32, learning_rate=5e-5, epochs=2,
                                   max_seq_length=384)
_TRAIN_FILE = flags.DEFINE_string("train_file", None, "SQuAD JSON training data.")
_EVAL_FILE = flags.DEFINE_string("eval_file", None, "SQuAD JSON data to predict and score.")
_VERSION_2 = flags.DEFINE_boolean("version_2_with_negative", False, "SQuAD v2.0: questions "
                                  "may have no answer.")
_DOC_STRIDE = flags.DEFINE_integer("doc_stride", 128, "Word pieces between the starts of "
                                   "consecutive context windows.", lower_bound=1)
_MAX_QUERY_LENGTH = flags.DEFINE_integer("max_query_length", 64, "Questions are cut to "
                                         "this many word pieces.", lower_bound=1)
_N_BEST_SIZE = flags.DEFINE_integer("n_best_size", 20, "Candidate starts and ends per "
                                    "window, and answers in nbest_predictions.json.",
                                    lower_bound=1)
_MAX_ANSWER_LENGTH = flags.DEFINE_integer("max_answer_length", 30, "Longest answer, in "
                                          "word pieces.", lower_bound=1)
_NULL_SCORE_DIFF_THRESHOLD = flags.DEFINE_float(
    "null_score_diff_threshold", 0.0, "v2.0: answer \"\" when the no-answer score exceeds "
    "the best span's score by more than this.")
_QA_METRIC = flags.DEFINE_enum(
    "qa_metric", "auto", QA_METRICS, "How answers are scored: `squad` (English words), "
    "`cmrc` (CMRC 2018: Chinese characters, longest common run) or `auto` (cmrc when the "
    "evaluation contexts are Chinese).")
_SKIP_MISMATCHED = flags.DEFINE_boolean("skip_mismatched_answers", False, "Drop answers "
                                        "whose text is not at their answer_start (warning) "
                                        "instead of failing.")


def main(argv):
    del argv
    options, vocab_file = common_flags.training_options()
    if _MAX_QUERY_LENGTH.value + 3 >= options.max_seq_length:
        raise app.UsageError(
            f"--max_query_length={_MAX_QUERY_LENGTH.value} leaves no room for the context "
            f"in --max_seq_length={options.max_seq_length}.")
    for flag, path in (("--train_file", _TRAIN_FILE.value), ("--eval_file", _EVAL_FILE.value)):
        if path:
            check_file(path, flag)
    train = read_squad(_TRAIN_FILE.value, skip_mismatched_answers=_SKIP_MISMATCHED.value)
    eval_ = (read_squad(_EVAL_FILE.value, skip_mismatched_answers=_SKIP_MISMATCHED.value)
             if _EVAL_FILE.value else [])
    common_flags.require_examples(train, "train_file", _TRAIN_FILE.value)
    common_flags.start_run(options, "squad", vocab_file)
    with writing(f"--model_dir={options.model_dir}"):
        train_squad(  # main returns None: absl exits with main's return value
            options, train, eval_, version_2_with_negative=_VERSION_2.value,
            doc_stride=_DOC_STRIDE.value, max_query_length=_MAX_QUERY_LENGTH.value,
            n_best_size=_N_BEST_SIZE.value, max_answer_length=_MAX_ANSWER_LENGTH.value,
            null_score_diff_threshold=_NULL_SCORE_DIFF_THRESHOLD.value,
            qa_metric=_QA_METRIC.value)


if __name__ == "__main__":
    flags.mark_flag_as_required("model_dir")
    flags.mark_flag_as_required("train_file")
    run_program(main)
