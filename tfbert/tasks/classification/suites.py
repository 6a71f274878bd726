"""Benchmark suites (GLUE, CLUE): fine-tune each task with `train_classifier`, score it on dev
with the leaderboard's metrics, and write the leaderboard's submission files from the test
split.

    OUTPUT_DIR/<task>/          the task's run (model.keras, metrics.json, ...)
    OUTPUT_DIR/submission/      CoLA.tsv, MNLI-m.tsv, ... or afqmc_predict.json, ...
    OUTPUT_DIR/summary.json     every task's dev metrics and score, and their mean

A task's score is the mean of its metrics, and the suite's the mean of its tasks' scores, as
the leaderboards average (MNLI's matched and mismatched accuracies are its two metrics).
"""

import dataclasses
import json
import os
import typing

import numpy as np

from tfbert.data.clue import CLUE_TASKS, read_clue_file
from tfbert.data.glue import GLUE_TASKS, read_glue_file
from tfbert.tasks.classification import metrics as metrics_lib
from tfbert.tasks.classification.features import classification_dataset
from tfbert.tasks.classification.run import train_classifier
from tfbert.tokenization import BertTokenizer
from tfbert.training.report import print_table, write_metrics
from tfbert.training.run_dir import load_run

METRICS = {"accuracy": metrics_lib.accuracy, "f1": metrics_lib.binary_f1,
           "matthews_corrcoef": metrics_lib.matthews_corrcoef,
           "pearson": metrics_lib.pearson, "spearman": metrics_lib.spearman}


class SuiteTask(typing.NamedTuple):
    """What a leaderboard asks of one task.

    Fields:
        metrics: names in `METRICS`, scored on every dev split.
        dev: dev splits (keys of the task's `files`); the first is evaluated while training.
        submissions: `{test split: submission file name}`; splits whose file is absent are
            left out.
        clip: `(low, high)` for regression predictions (STS-B's 0-5 scale), or None; dev
            figures are computed on the clipped predictions, as the submitted ones are.
    """

    metrics: tuple
    dev: tuple
    submissions: dict
    clip: tuple | None = None


class Suite(typing.NamedTuple):
    """A benchmark: its data (`GLUE_TASKS`-like specs with `labels` and `files`), a reader
    `(task, path, labelled) -> TaskFile`, what it scores, and how submissions are written."""

    name: str
    data: dict
    read: typing.Callable
    tasks: dict
    submission_format: str  # "tsv": `index<TAB>prediction`; "jsonl": `{"id", "label"}` lines


def _one(metrics, file_name, clip=None):
    return SuiteTask(metrics, ("dev",), {"test": file_name}, clip)


GLUE = Suite("GLUE", GLUE_TASKS, read_glue_file, {
    "CoLA": _one(("matthews_corrcoef",), "CoLA.tsv"),
    "SST-2": _one(("accuracy",), "SST-2.tsv"),
    "MRPC": _one(("f1", "accuracy"), "MRPC.tsv"),
    "STS-B": _one(("pearson", "spearman"), "STS-B.tsv", clip=(0.0, 5.0)),
    "QQP": _one(("f1", "accuracy"), "QQP.tsv"),
    "MNLI": SuiteTask(("accuracy",), ("dev_matched", "dev_mismatched"),
                      {"test_matched": "MNLI-m.tsv", "test_mismatched": "MNLI-mm.tsv",
                       "diagnostic": "AX.tsv"}),
    "QNLI": _one(("accuracy",), "QNLI.tsv"),
    "RTE": _one(("accuracy",), "RTE.tsv"),
    "WNLI": _one(("accuracy",), "WNLI.tsv"),
}, "tsv")

# CLUE 1.1 file names (TNEWS and CLUEWSC2020 changed test sets: "11" marks the version).
CLUE = Suite("CLUE", CLUE_TASKS, read_clue_file, {
    "AFQMC": _one(("accuracy",), "afqmc_predict.json"),
    "TNEWS": _one(("accuracy",), "tnews11_predict.json"),
    "IFLYTEK": _one(("accuracy",), "iflytek_predict.json"),
    "CMNLI": _one(("accuracy",), "cmnli_predict.json"),
    "OCNLI": _one(("accuracy",), "ocnli_50k_predict.json"),
    "CSL": _one(("accuracy",), "csl_predict.json"),
    "CLUEWSC2020": _one(("accuracy",), "cluewsc11_predict.json"),
}, "jsonl")


def write_submission(path, ids, predictions, submission_format):
    """Writes a leaderboard file: GLUE's `index<TAB>prediction` TSV (floats with 3
    decimals), or CLUE's JSON lines `{"id": ..., "label": "..."}` in test-file order."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        if submission_format == "tsv":
            f.write("index\tprediction\n")
            for i, p in zip(ids, predictions):
                f.write(f"{i}\t{p:.3f}\n" if isinstance(p, float) else f"{i}\t{p}\n")
        else:
            for i, p in zip(ids, predictions):
                f.write(json.dumps({"id": i, "label": p}, ensure_ascii=False) + "\n")
    return path


def task_files(suite, task, data_dir):
    """`{split: path}` of the task's files under `data_dir`."""
    return {split: os.path.join(data_dir, rel) for split, rel in suite.data[task].files.items()}


def run_task(suite, task, data_dir, output_dir, options, log=print, strict=False):
    """Fine-tunes one task (train split, evaluated on its first dev split while training),
    scores every dev split and writes the submission files of the test splits present.

    Returns:
        `{"metrics", "score", "train_examples", "dev_examples", "skipped_rows",
        "submissions", "model_dir"}`.
    """
    spec, data = suite.tasks[task], suite.data[task]
    paths = task_files(suite, task, data_dir)
    read = {}

    def load(split, labelled=True):
        read[split] = suite.read(task, paths[split], labelled=labelled, log=log, strict=strict)
        return read[split].examples

    train = load("train")
    devs = {split: load(split) for split in spec.dev}
    tests = {split: load(split, labelled=False) for split in spec.submissions
             if os.path.exists(paths[split])}
    regression = data.labels is None
    label_ids = None if regression else {name: i for i, name in enumerate(data.labels)}

    def targets(examples):
        return [float(e.label) if regression else label_ids[e.label] for e in examples]

    def triples(examples):
        return list(zip([e.text for e in examples], [e.text_pair for e in examples],
                        targets(examples)))

    model_dir = os.path.join(output_dir, task)
    log(f"== {suite.name} {task}: {len(train)} training examples -> {model_dir}")
    train_classifier(dataclasses.replace(options, model_dir=model_dir), triples(train),
                     triples(devs[spec.dev[0]]), None if regression else list(data.labels),
                     regression=regression)
    predict = _predictor(model_dir, options.batch_size, regression, data.labels, spec.clip)
    metrics = {}
    for split, examples in devs.items():
        # MNLI's two dev sets: `matched_accuracy`, `mismatched_accuracy`.
        prefix = "" if len(devs) == 1 else split.removeprefix("dev_") + "_"
        predicted = predict(examples)
        truth = targets(examples)
        if not regression:
            predicted = [label_ids[p] for p in predicted]
        for metric in spec.metrics:
            metrics[prefix + metric] = METRICS[metric](truth, predicted)
    submissions = [
        write_submission(os.path.join(output_dir, "submission", spec.submissions[split]),
                         [e.id for e in examples], predict(examples), suite.submission_format)
        for split, examples in tests.items()]
    for path in submissions:
        log(f"Wrote {path}")
    return {"metrics": metrics, "score": float(np.mean(list(metrics.values()))),
            "train_examples": len(train),
            "dev_examples": {split: len(examples) for split, examples in devs.items()},
            "skipped_rows": {f.path: len(f.skipped) for f in read.values() if f.skipped},
            "submissions": submissions, "model_dir": model_dir}


def _predictor(model_dir, batch_size, regression, label_names, clip):
    """examples -> predicted label names (or floats, clipped) with the saved run."""
    model, vocab_file, info = load_run(model_dir)
    tokenizer = BertTokenizer(vocab_file)

    def predict(examples):
        pairs = [e.text_pair for e in examples] if info["text_pair"] else None
        dataset = classification_dataset(
            [e.text for e in examples], np.zeros(len(examples), "int32"), tokenizer,
            info["max_seq_length"], batch_size, text_pairs=pairs, bucket_width=32)
        outputs = model.predict(dataset, verbose=0)
        if regression:
            scores = outputs[:, 0] if clip is None else np.clip(outputs[:, 0], *clip)
            return [float(s) for s in scores]
        return [label_names[i] for i in outputs.argmax(-1)]

    return predict


def run_suite(suite, data_dir, output_dir, options, tasks=None, log=print, strict=False):
    """Runs `tasks` of `suite` (default: every task whose training file is under `data_dir`),
    prints one table of dev figures and writes `output_dir/summary.json`.

    Args:
        suite: `GLUE` or `CLUE`.
        data_dir: str, the benchmark's folder as downloaded (see `tfbert.data.glue` /
            `tfbert.data.clue` for the layouts).
        output_dir: str; each task's run goes to `output_dir/<task>` (`options.model_dir`
            is not used), submission files to `output_dir/submission/`.
        options: `tfbert.training.TrainingOptions`, the same for every task.
        tasks: list of task names, or None for all present.
        log: callable taking a str, for progress lines.
        strict: bool, a data row the readers would skip is an error (`--strict`).

    Returns:
        the summary dict: `{"benchmark", "tasks": {task: run_task's dict}, "average",
        "missing_tasks", "summary_file"}`.

    Raises:
        ValueError: on an unknown task, a named task whose training file is missing, or no
            task's data under `data_dir`.
    """
    unknown = [t for t in tasks or () if t not in suite.tasks]
    if unknown:
        raise ValueError(f"Unknown {suite.name} task(s) {unknown}; choose from "
                         f"{list(suite.tasks)}.")
    train_files = {t: task_files(suite, t, data_dir)["train"] for t in suite.tasks}
    present = [t for t in suite.tasks if os.path.exists(train_files[t])]
    missing = [t for t in suite.tasks if t not in present]
    if tasks:
        absent = [train_files[t] for t in tasks if t in missing]
        if absent:
            raise ValueError(f"--data_dir={data_dir}: training file(s) not found: {absent}.")
    elif not present:
        raise ValueError(f"--data_dir={data_dir} holds no {suite.name} task: expected e.g. "
                         f"{next(iter(train_files.values()))}.")
    elif missing:
        log(f"{suite.name}: no data for {', '.join(missing)} under {data_dir}; running "
            f"{', '.join(present)}.")
    results = {task: run_task(suite, task, data_dir, output_dir, options, log=log, strict=strict)
               for task in (tasks or present)}
    average = float(np.mean([r["score"] for r in results.values()]))
    rows = [[task, " / ".join(r["metrics"]),
             " / ".join(f"{v:.4f}" for v in r["metrics"].values()), r["score"]]
            for task, r in results.items()]
    rows.append(["average", "", "", average])
    print_table(f"{suite.name} dev results", ["task", "metric(s)", "dev", "score"], rows)
    summary = {"benchmark": suite.name, "tasks": results, "average": average,
               "missing_tasks": [] if tasks else missing}
    summary["summary_file"] = write_metrics(output_dir, summary, "summary.json")
    log(f"Wrote {summary['summary_file']}")
    return summary
