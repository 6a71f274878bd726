r"""Fine-tunes BERT for text or text-pair classification, or regression.

With no data flags it trains on the shipped sentiment reviews (fixed split):

    python -m apps.classify --init_checkpoint=runs/pretrain/encoder --model_dir=runs/cls

Your own data: `--train_file`/`--eval_file` as `label<TAB>text[<TAB>text_pair]` (.tsv)
or CSV. `--do_predict` writes `predictions.tsv` for `--predict_file` (one text per line,
or `text<TAB>text_pair`).
"""

import os

from absl import app, flags

from apps import common_flags
from tfbert.data.classification import read_classification_file
from tfbert.data.files import check_file
from tfbert.data.sentiment import SENTIMENT_LABELS, load_sentiment_split
from tfbert.errors import UsageError, run_program, writing
from tfbert.tasks.classification.run import evaluate_run, predict_file, train_classifier
from tfbert.training.run_dir import load_run_info

common_flags.define_training_flags(batch_size=32, learning_rate=5e-5, epochs=3)
_TRAIN_FILE = flags.DEFINE_string("train_file", None, "Training data; default: the shipped "
                                  "sentiment reviews.")
_EVAL_FILE = flags.DEFINE_string("eval_file", None, "Evaluation data (same format).")
_PREDICT_FILE = flags.DEFINE_string("predict_file", None, "Texts to label with --do_predict.")
_DO_PREDICT = flags.DEFINE_boolean("do_predict", False, "Label --predict_file after training.")
_REGRESSION = flags.DEFINE_boolean("regression", False, "Labels are numbers: one output, "
                                   "MSE loss, Pearson/Spearman.")
_HEADER = flags.DEFINE_boolean("header", False, "The data files start with a header row.")
_MODE = common_flags.define_mode_flag()


def load_examples(train_file, eval_file, header, regression, strict=False):
    """Returns `(train, eval, label_names)`; examples are `(text, text_pair, label)`."""
    if train_file is None:
        train, eval_ = load_sentiment_split()
        return ([(t, None, y) for t, y in train], [(t, None, y) for t, y in eval_],
                list(SENTIMENT_LABELS))
    for flag, path in (("--train_file", train_file), ("--eval_file", eval_file)):
        if path:
            check_file(path, flag)
    rows = {name: read_classification_file(path, header=header, strict=strict)
            for name, path in (("train", train_file), ("eval", eval_file)) if path}
    common_flags.require_examples(rows["train"], "train_file", train_file)
    if regression:
        names = None

        def convert(label):
            try:
                return float(label)
            except ValueError:
                raise UsageError(f"--regression: label {label!r} of --train_file={train_file} "
                                 "or --eval_file is not a number.") from None
    else:
        names = sorted({e.label for e in rows["train"]})
        index = {name: i for i, name in enumerate(names)}

        def convert(label):
            if label not in index:
                raise UsageError(f"--eval_file={eval_file}: label {label!r} is not among the "
                                 f"training labels {names}.")
            return index[label]
    data = {k: [(e.text, e.text_pair, convert(e.label)) for e in v] for k, v in rows.items()}
    return data["train"], data.get("eval", []), names


def eval_examples(model_dir, eval_file, header):
    """`--mode=eval` data: `--eval_file` with the run's label names, or the shipped split."""
    info = load_run_info(model_dir)
    if eval_file is None:
        if info["labels"] != list(SENTIMENT_LABELS):
            raise app.UsageError(f"--mode=eval needs --eval_file: the run in {model_dir} was "
                                 "not trained on the shipped sentiment split.")
        return [(t, None, y) for t, y in load_sentiment_split()[1]]
    index = {name: i for i, name in enumerate(info["labels"] or [])}
    examples = []
    for e in read_classification_file(eval_file, header=header):
        if info["task"] == "regression":
            examples.append((e.text, e.text_pair, float(e.label)))
        elif e.label not in index:
            raise UsageError(f"--eval_file={eval_file}: label {e.label!r} is not among the "
                             f"run's labels {info['labels']}.")
        else:
            examples.append((e.text, e.text_pair, index[e.label]))
    return examples


def main(argv):
    del argv
    model_dir = flags.FLAGS.model_dir
    if (_MODE.value == "predict" or _DO_PREDICT.value) and not _PREDICT_FILE.value:
        raise app.UsageError(f"--mode={_MODE.value} / --do_predict needs --predict_file.")
    if _MODE.value == "predict":
        load_run_info(model_dir)
        check_file(_PREDICT_FILE.value, "--predict_file")
        predict_file(model_dir, _PREDICT_FILE.value, os.path.join(model_dir, "predictions.tsv"))
        return
    if _MODE.value == "eval":
        evaluate_run(model_dir, eval_examples(model_dir, _EVAL_FILE.value, _HEADER.value))
        return
    if _EVAL_FILE.value and not _TRAIN_FILE.value:
        raise app.UsageError(f"--eval_file={_EVAL_FILE.value} needs --train_file.")
    if _TRAIN_FILE.value is None and _REGRESSION.value:
        raise app.UsageError("--regression needs --train_file (the shipped data is labels).")
    options, vocab_file = common_flags.training_options()
    train, eval_, labels = load_examples(_TRAIN_FILE.value, _EVAL_FILE.value, _HEADER.value,
                                         _REGRESSION.value, flags.FLAGS.strict)
    if _DO_PREDICT.value:
        check_file(_PREDICT_FILE.value, "--predict_file")
    common_flags.start_run(options, "regression" if _REGRESSION.value else "classification",
                           vocab_file, labels, text_pair=train[0][1] is not None)
    with writing(f"--model_dir={model_dir}"):
        train_classifier(options, train, eval_, labels, regression=_REGRESSION.value)
        if _DO_PREDICT.value:
            predict_file(model_dir, _PREDICT_FILE.value,
                         os.path.join(model_dir, "predictions.tsv"))


if __name__ == "__main__":
    flags.mark_flag_as_required("model_dir")
    run_program(main)
