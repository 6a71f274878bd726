r"""Fine-tunes BERT for named-entity recognition (BIO token classification).

With no data flags it trains on the shipped People's Daily NER split (character-level
PER/LOC/ORG, fixed split), and reports entity-level precision/recall/F1 as seqeval does:

    python -m apps.ner --init_checkpoint=runs/pretrain/encoder --model_dir=runs/ner

Your own data: `--train_file`/`--eval_file` in CoNLL format (`token ... tag` per line, blank
line between sentences). The first word piece of each word carries its tag. `--do_predict`
writes `entities.jsonl` for `--predict_file` (one text per line): per text, its entities
with type, text and character start/end.
"""

import os

from absl import app, flags

from apps import common_flags
from tfbert.data.conll import read_conll
from tfbert.data.files import check_file
from tfbert.data.peoples_daily import NER_LABELS, load_ner_split
from tfbert.errors import run_program, writing
from tfbert.tasks.ner.run import evaluate_run, predict_file, train_ner
from tfbert.training.run_dir import load_run_info

common_flags.define_training_flags(batch_size=32, learning_rate=5e-5, epochs=3)
_TRAIN_FILE = flags.DEFINE_string("train_file", None, "CoNLL training data; default: the "
                                  "shipped People's Daily NER split.")
_EVAL_FILE = flags.DEFINE_string("eval_file", None, "CoNLL evaluation data.")
_PREDICT_FILE = flags.DEFINE_string("predict_file", None, "Texts (one per line) to tag "
                                    "with --do_predict.")
_DO_PREDICT = flags.DEFINE_boolean("do_predict", False, "Tag --predict_file after training.")
_MODE = common_flags.define_mode_flag()


def load_examples(train_file, eval_file):
    """Returns `(train, eval, label_names, word_split)`; examples are `(words, tags)`."""
    if train_file is None:
        train, eval_ = load_ner_split()
        return train, eval_, list(NER_LABELS), "chars"
    for flag, path in (("--train_file", train_file), ("--eval_file", eval_file)):
        if path:
            check_file(path, flag)
    train = read_conll(train_file)
    common_flags.require_examples(train, "train_file", train_file)
    eval_ = read_conll(eval_file) if eval_file else []
    # Every tag seen in either file gets a class, so evaluation never meets an unknown one.
    tags = {t for _, tags in train + eval_ for t in tags} - {"O"}
    names = ["O"] + sorted(tags, key=lambda t: (t[2:], t[0]))
    return train, eval_, names, "whitespace"


def main(argv):
    del argv
    model_dir = flags.FLAGS.model_dir
    if (_MODE.value == "predict" or _DO_PREDICT.value) and not _PREDICT_FILE.value:
        raise app.UsageError(f"--mode={_MODE.value} / --do_predict needs --predict_file.")
    if _MODE.value == "predict":
        load_run_info(model_dir)
        check_file(_PREDICT_FILE.value, "--predict_file")
        predict_file(model_dir, _PREDICT_FILE.value, os.path.join(model_dir, "entities.jsonl"))
        return
    if _MODE.value == "eval":
        if not _EVAL_FILE.value and load_run_info(model_dir).get("word_split") != "chars":
            raise app.UsageError(f"--mode=eval needs --eval_file: the run in {model_dir} was "
                                 "not trained on the shipped People's Daily split.")
        evaluate_run(model_dir, read_conll(_EVAL_FILE.value) if _EVAL_FILE.value
                     else load_ner_split()[1])
        return
    if _EVAL_FILE.value and not _TRAIN_FILE.value:
        raise app.UsageError(f"--eval_file={_EVAL_FILE.value} needs --train_file.")
    options, vocab_file = common_flags.training_options()
    train, eval_, labels, word_split = load_examples(_TRAIN_FILE.value, _EVAL_FILE.value)
    if _DO_PREDICT.value:
        check_file(_PREDICT_FILE.value, "--predict_file")
    common_flags.start_run(options, "ner", vocab_file, labels)
    with writing(f"--model_dir={model_dir}"):
        train_ner(options, train, eval_, labels, word_split=word_split)
        if _DO_PREDICT.value:
            predict_file(model_dir, _PREDICT_FILE.value,
                         os.path.join(model_dir, "entities.jsonl"))


if __name__ == "__main__":
    flags.mark_flag_as_required("model_dir")
    run_program(main)
