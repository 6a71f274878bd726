"""GLUE: readers on files in the official layouts (quirks included), the leaderboard metrics
against hand-computed values and scikit-learn/scipy, submission files, and `apps.glue`'s
worker end to end on a tiny model."""

import json
import os

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as sklearn_metrics

from tfbert.data.glue import GLUE_TASKS, read_glue_file
from tfbert.tasks.classification import metrics

T = "\t"

# Rows as the GLUE download script leaves them. CoLA's train/dev have no header; MRPC's
# header carries the original file's byte-order mark; MRPC and QQP texts hold stray quotes.
GLUE_FILES = {
    "CoLA/train.tsv": [
        "gj04\t1\t\tOur friends won't buy this analysis, let alone the next one we propose.",
        "gj04\t0\t*\tThe more we study verbs, the crazier they get get.",
        "cj99\t1\t\tDay by day the facts are getting murkier.",
        "cj99\t0\t*\tThey drank the pub.",
    ],
    "CoLA/dev.tsv": [
        "gj04\t1\t\tThe sailors rode the breeze clear of the rocks.",
        "gj04\t0\t*\tThe weights made the rope stretch over the pulley the.",
        "cj99\t1\t\tThe car honked down the road.",
    ],
    "CoLA/test.tsv": [
        "index\tsentence",
        "0\tBill whistled past the house.",
        "1\tThe car honked its way down the road.",
    ],
    "SST-2/train.tsv": ["sentence\tlabel", "hide new secretions from the parental units \t0",
                        "contains no wit , only labored gags \t0",
                        "that loves its characters and communicates something rather "
                        "beautiful about human nature \t1"],
    "SST-2/dev.tsv": ["sentence\tlabel", "it 's a charming and often affecting journey . \t1"],
    "SST-2/test.tsv": ["index\tsentence", "0\tuneasy mishmash of styles and genres ."],
    "MRPC/train.tsv": [
        "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String",
        "1\t702876\t702977\tAmrozi accused his brother , whom he called \" the witness \" , "
        "of deliberately distorting his evidence .\tReferring to him as only \" the witness "
        "\" , Amrozi accused his brother of deliberately distorting his evidence .",
        "0\t2108705\t2108831\tYucaipa owned Dominick 's before selling the chain to Safeway "
        "in 1998 for $ 2.5 billion .\tYucaipa bought Dominick 's in 1995 for $ 693 million .",
    ],
    "MRPC/dev.tsv": ["Quality\t#1 ID\t#2 ID\t#1 String\t#2 String",
                     "1\t1355540\t1355592\tHe said the foodservice pie business doesn 't "
                     "fit .\tThe foodservice pie business does not fit ."],
    "MRPC/test.tsv": ["index\t#1 ID\t#2 ID\t#1 String\t#2 String",
                      "0\t1089874\t1089925\tPCCW 's chief operating officer .\tThe chief "
                      "operating officer of PCCW ."],
    "STS-B/train.tsv": [
        "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore",
        "0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\tA plane is taking off.\tAn air "
        "plane is taking off.\t5.000",
        "1\tmain-captions\tMSRvid\t2012test\t0004\tnone\tnone\tA man is playing a large "
        "flute.\tA man is playing a flute.\t3.800",
        "2\tmain-captions\tMSRvid\t2012test\t0005\tnone\tnone\tA man is spreading shreded "
        "cheese on a pizza.\tA man is spreading shredded cheese on an uncooked pizza.\t3.800",
        "3\tmain-captions\tMSRvid\t2012test\t0006\tnone\tnone\tThree men are playing "
        "chess.\tTwo men are playing chess.\t2.600",
    ],
    "STS-B/dev.tsv": [
        "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore",
        "0\tmain-captions\tMSRvid\t2012test\t0000\tnone\tnone\tA man with a hard hat is "
        "dancing.\tA man wearing a hard hat is dancing.\t5.000",
        "1\tmain-captions\tMSRvid\t2012test\t0002\tnone\tnone\tA young child is riding a "
        "horse.\tA child is riding a horse.\t4.750",
        "2\tmain-captions\tMSRvid\t2012test\t0003\tnone\tnone\tA man is feeding a mouse to a "
        "snake.\tThe man is feeding a mouse to the snake.\t5.000",
    ],
    "STS-B/test.tsv": [
        "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2",
        "0\tmain-captions\tMSRvid\t2012test\t0024\tnone\tnone\tA girl is styling her "
        "hair.\tA girl is brushing her hair.",
        "1\tmain-captions\tMSRvid\t2012test\t0033\tnone\tnone\tA group of men play soccer on "
        "the beach.\tA group of boys are playing soccer on the beach.",
    ],
    # Lines 4-5 are one row broken by a newline in question2: both halves have the wrong
    # column count.
    "QQP/train.tsv": [
        "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate",
        "133273\t213221\t213222\tHow is the life of a math student? Could you describe your "
        "own experiences?\tWhich level of prepration is enough for the exam jlpt5?\t0",
        "402555\t536040\t536041\tHow do I control my horny emotions?\tHow do you control your "
        "horniness?\t1",
        "201841\t303951\t174364\tHow can I create an Android app?",
        "\t\"How can I develop android app?\"\t1",
        "360472\t364011\t490273\tWhat does \"a la carte\" mean?\tWhat is the meaning of "
        "\"a la carte\"?\t1",
    ],
    "QQP/dev.tsv": ["id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate",
                    "40066\t79167\t79168\tWhat are the \"best\" books?\tWhat books should I "
                    "read?\t0"],
    "QQP/test.tsv": ["id\tquestion1\tquestion2",
                     "0\tWhy am I mentally very lonely?\tFind the remainder when [math]23^{24}"
                     "[/math] is divided by 24,23?"],
    "QNLI/train.tsv": ["index\tquestion\tsentence\tlabel",
                       "0\tWhen did the third Digimon series begin?\tUnlike the two seasons "
                       "before it, it was set in Japan.\tnot_entailment"],
    "QNLI/dev.tsv": ["index\tquestion\tsentence\tlabel",
                     "0\tWhat came into force after the new constitution was herald?\tAs of "
                     "that day, the new constitution came into force.\tentailment"],
    "RTE/train.tsv": ["index\tsentence1\tsentence2\tlabel",
                      "0\tNo Weapons of Mass Destruction Found in Iraq Yet.\tWeapons of Mass "
                      "Destruction Found in Iraq.\tnot_entailment"],
    "RTE/dev.tsv": ["index\tsentence1\tsentence2\tlabel",
                    "0\tDana Reeve, the widow of the actor Christopher Reeve, has died.\t"
                    "Christopher Reeve had an accident.\tnot_entailment"],
    "WNLI/train.tsv": ["index\tsentence1\tsentence2\tlabel",
                       "0\tI stuck a pin through a carrot. When I pulled the pin out, it had a "
                       "hole.\tThe carrot had a hole.\t1"],
    "WNLI/dev.tsv": ["index\tsentence1\tsentence2\tlabel",
                     "0\tThe drain is clogged with hair. It has to be cleaned.\tThe hair has "
                     "to be cleaned.\t0"],
}

MNLI_HEAD = ["index", "promptID", "pairID", "genre", "sentence1_binary_parse",
             "sentence2_binary_parse", "sentence1_parse", "sentence2_parse", "sentence1",
             "sentence2"]


def _mnli_row(index, genre, s1, s2, *labels):
    parse = f"( {s1} )"
    return T.join([str(index), "31193", f"31193{index}", genre, parse, f"( {s2} )",
                   f"(ROOT {parse})", f"(ROOT ( {s2} ))", s1, s2, *labels])


GLUE_FILES.update({
    # Train: 12 columns (label1, gold_label); dev: 16 (label1..label5, gold_label).
    "MNLI/train.tsv": [T.join(MNLI_HEAD + ["label1", "gold_label"]),
                       _mnli_row(0, "government", "Conceptually cream skimming has two basic "
                                 "dimensions - product and geography.", "Product and "
                                 "geography are what make cream skimming work.", "neutral",
                                 "neutral"),
                       _mnli_row(1, "telephone", "you know during the season and i guess",
                                 "You lose the things to the following level.", "entailment",
                                 "entailment"),
                       _mnli_row(2, "fiction", "He said \"no\" twice.", "He agreed.",
                                 "contradiction", "contradiction")],
    "MNLI/dev_matched.tsv": [T.join(MNLI_HEAD + [f"label{i}" for i in range(1, 6)] +
                                    ["gold_label"]),
                             _mnli_row(0, "fiction", "The new rights are nice enough",
                                       "Everyone really likes the newest benefits ", "neutral",
                                       "entailment", "neutral", "neutral", "neutral",
                                       "neutral")],
    "MNLI/dev_mismatched.tsv": [T.join(MNLI_HEAD + [f"label{i}" for i in range(1, 6)] +
                                       ["gold_label"]),
                                _mnli_row(0, "letters", "Your contribution helped make it "
                                          "possible.", "Your contributions were of no help.",
                                          "contradiction", "contradiction", "contradiction",
                                          "contradiction", "contradiction", "contradiction")],
    "MNLI/test_matched.tsv": [T.join(MNLI_HEAD),
                              _mnli_row(0, "government", "Hierbas, ans seco, ans dulce.",
                                        "Hierbas is a name.")],
    "MNLI/test_mismatched.tsv": [T.join(MNLI_HEAD),
                                 _mnli_row(0, "nineeleven", "What have you decided?",
                                           "Are you going to decide?")],
    "diagnostic/diagnostic.tsv": ["index\tsentence1\tsentence2",
                                  "0\tThe cat sat on the mat.\tThe cat did not sit on the mat.",
                                  "1\tThe cat did not sit on the mat.\tThe cat sat on the mat."],
})


def write_files(root, table):
    for relative, lines in table.items():
        path = os.path.join(str(root), relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in lines))
    return str(root)


@pytest.fixture
def glue_dir(tmp_path):
    return write_files(tmp_path / "glue_data", GLUE_FILES)


def _read(glue_dir, task, split, labelled=True, log=None):
    path = os.path.join(glue_dir, GLUE_TASKS[task].files[split])
    return read_glue_file(task, path, labelled=labelled, log=log or (lambda line: None))


def test_cola_train_has_no_header_and_its_test_has_one(glue_dir):
    train = _read(glue_dir, "CoLA", "train").examples
    assert len(train) == 4
    assert train[0] == ("1", "Our friends won't buy this analysis, let alone the next one we "
                        "propose.", None, "1")
    assert [e.label for e in train] == ["1", "0", "1", "0"]
    test = _read(glue_dir, "CoLA", "test", labelled=False).examples
    assert test == [("0", "Bill whistled past the house.", None, None),
                    ("1", "The car honked its way down the road.", None, None)]


def test_pairs_labels_and_stray_quotes_read_as_text(glue_dir):
    mrpc = _read(glue_dir, "MRPC", "train").examples
    assert mrpc[0].label == "1" and mrpc[0].id == "2"  # line number: MRPC has no id column
    assert mrpc[0].text.startswith('Amrozi accused his brother , whom he called " the witness')
    assert mrpc[0].text_pair.endswith("distorting his evidence .")
    assert _read(glue_dir, "MRPC", "test", labelled=False).examples[0].id == "0"
    sst = _read(glue_dir, "SST-2", "train").examples
    assert sst[0] == ("2", "hide new secretions from the parental units ", None, "0")
    stsb = _read(glue_dir, "STS-B", "train").examples
    assert [e.label for e in stsb] == ["5.000", "3.800", "3.800", "2.600"]
    assert stsb[1][:3] == ("1", "A man is playing a large flute.", "A man is playing a flute.")
    for task, label in (("QNLI", "not_entailment"), ("RTE", "not_entailment"), ("WNLI", "1")):
        assert _read(glue_dir, task, "train").examples[0].label == label


def test_mnli_columns_by_position_in_train_dev_test_and_diagnostic(glue_dir):
    train = _read(glue_dir, "MNLI", "train").examples
    assert [e.label for e in train] == ["neutral", "entailment", "contradiction"]
    assert train[2][1:3] == ('He said "no" twice.', "He agreed.")
    dev = _read(glue_dir, "MNLI", "dev_mismatched").examples
    assert dev[0].label == "contradiction"
    assert dev[0].text == "Your contribution helped make it possible."
    test = _read(glue_dir, "MNLI", "test_matched", labelled=False).examples
    assert test == [("0", "Hierbas, ans seco, ans dulce.", "Hierbas is a name.", None)]
    ax = _read(glue_dir, "MNLI", "diagnostic", labelled=False).examples
    assert [e.id for e in ax] == ["0", "1"] and ax[1].text_pair == "The cat sat on the mat."


def test_qqp_malformed_rows_are_counted_and_reported(glue_dir):
    lines = []
    read = _read(glue_dir, "QQP", "train", log=lines.append)
    assert read.skipped == (4, 5)
    assert lines == [f"skipped 2 malformed rows of {read.path} (lines 4, 5)"]
    with pytest.raises(ValueError, match=rf"{read.path}:4: malformed row .* --strict stops here"):
        read_glue_file("QQP", read.path, strict=True)
    assert [e.id for e in read.examples] == ["133273", "402555", "360472"]
    assert read.examples[2][1:] == ('What does "a la carte" mean?',
                                    'What is the meaning of "a la carte"?', "1")
    test = _read(glue_dir, "QQP", "test", labelled=False).examples
    assert test[0].id == "0" and test[0].text == "Why am I mentally very lonely?"


def test_bad_files_name_the_file_and_line(tmp_path):
    def write(name, *lines):
        path = tmp_path / name
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        return str(path)

    path = write("rte.tsv", "index\tsentence1\tsentence2\tlabel", "0\ta\tb\tentailment",
                 "1\ta\tb")
    with pytest.raises(ValueError, match=rf"^{path}:3: expected 4 tab-separated columns "
                                         r"\(index, sentence1, sentence2, label\), got 3$"):
        read_glue_file("RTE", path)
    path = write("mnli.tsv", "index\tsentence1\tsentence2\tlabel", "0\ta\tb\tneutral")
    with pytest.raises(ValueError, match=rf"{path}:1: expected a MNLI header with the columns "
                                         r"\['sentence1', 'sentence2', 'gold_label'\]; "
                                         r"missing \['gold_label'\]"):
        read_glue_file("MNLI", path)
    path = write("cola.tsv", "gj04\t2\t\tA sentence.")
    with pytest.raises(ValueError, match=rf"{path}:1: label '2' is not one of \['0', '1'\]"):
        read_glue_file("CoLA", path)
    path = write("cola_header.tsv", "sentence\tlabel", "A sentence.\t1")
    with pytest.raises(ValueError, match=rf"{path}:1: expected 4 tab-separated columns"):
        read_glue_file("CoLA", path)
    path = write("stsb.tsv", "index\tsentence1\tsentence2\tscore", "0\ta\tb\tfive")
    with pytest.raises(ValueError, match=rf"{path}:2: score 'five' is not a number"):
        read_glue_file("STS-B", path)
    path = write("qqp_test.tsv", "id\tquestion1\tquestion2", "0\tq")
    with pytest.raises(ValueError, match=rf"{path}:2: expected 3 tab-separated columns"):
        read_glue_file("QQP", path, labelled=False)  # a submission needs every test row
    path = write("empty.tsv", "sentence\tlabel")
    with pytest.raises(ValueError, match=rf"{path}: no rows \(expected a SST-2 file\)"):
        read_glue_file("SST-2", path)
    with pytest.raises(ValueError, match=r"`task` must be one of .*, got 'SST2'"):
        read_glue_file("SST2", path)


# Metrics: hand-computed values, then scikit-learn / scipy on random labels.

def test_matthews_corrcoef_by_hand():
    # TP=2, TN=1, FP=1, FN=1: (2*1 - 1*1) / sqrt(3 * 3 * 2 * 2) = 1/6.
    assert metrics.matthews_corrcoef([1, 1, 1, 0, 0], [1, 1, 0, 1, 0]) == pytest.approx(1 / 6)
    assert metrics.matthews_corrcoef([0, 1, 0, 1], [0, 1, 0, 1]) == 1.0
    assert metrics.matthews_corrcoef([0, 1, 0, 1], [1, 0, 1, 0]) == -1.0
    assert metrics.matthews_corrcoef([0, 1, 0, 1], [1, 1, 1, 1]) == 0.0  # constant: undefined


def test_binary_f1_and_accuracy_by_hand():
    # TP=2, FP=1, FN=1: precision 2/3, recall 2/3, F1 2/3.
    assert metrics.binary_f1([1, 1, 1, 0, 0], [1, 1, 0, 1, 0]) == pytest.approx(2 / 3)
    assert metrics.binary_f1([0, 0], [0, 0]) == 0.0
    assert metrics.accuracy([1, 1, 1, 0, 0], [1, 1, 0, 1, 0]) == pytest.approx(0.6)
    with pytest.raises(ValueError, match=r"must be 1-D and the same length"):
        metrics.accuracy([1, 0], [1])


def test_metrics_match_scikit_learn_and_scipy():
    rng = np.random.default_rng(7)
    for n, classes in ((37, 2), (101, 3), (12, 5)):
        labels, predicted = rng.integers(0, classes, n), rng.integers(0, classes, n)
        assert metrics.matthews_corrcoef(labels, predicted) == pytest.approx(
            sklearn_metrics.matthews_corrcoef(labels, predicted), abs=1e-12)
        assert metrics.accuracy(labels, predicted) == pytest.approx(
            sklearn_metrics.accuracy_score(labels, predicted))
        if classes == 2:
            assert metrics.binary_f1(labels, predicted) == pytest.approx(
                sklearn_metrics.f1_score(labels, predicted))
    x = rng.normal(size=53)
    y = np.round(x + rng.normal(size=53), 1)  # rounded: ties for the ranks
    assert metrics.pearson(x, y) == pytest.approx(stats.pearsonr(x, y)[0], abs=1e-12)
    assert metrics.spearman(x, y) == pytest.approx(stats.spearmanr(x, y)[0], abs=1e-12)


def test_glue_submission_file(tmp_path):
    from tfbert.tasks.classification.suites import write_submission
    path = write_submission(str(tmp_path / "sub" / "STS-B.tsv"), ["0", "1"], [4.98765, 0.0],
                            "tsv")
    assert open(path).read() == "index\tprediction\n0\t4.988\n1\t0.000\n"
    path = write_submission(str(tmp_path / "sub" / "MNLI-m.tsv"), ["0", "1"],
                            ["entailment", "neutral"], "tsv")
    assert open(path).read() == "index\tprediction\n0\tentailment\n1\tneutral\n"


def test_suite_rejects_unknown_and_absent_tasks(tmp_path, glue_dir):
    from tfbert.tasks.classification.suites import GLUE, run_suite
    from tfbert.training.options import TrainingOptions
    options = TrainingOptions(model_dir=None)
    with pytest.raises(ValueError, match=r"Unknown GLUE task\(s\) \['SST2'\]"):
        run_suite(GLUE, glue_dir, str(tmp_path / "out"), options, tasks=["SST2"])
    with pytest.raises(ValueError, match=r"holds no GLUE task: expected e.g. .*CoLA/train.tsv"):
        run_suite(GLUE, str(tmp_path), str(tmp_path / "out"), options)
    os.remove(os.path.join(glue_dir, "RTE", "train.tsv"))
    with pytest.raises(ValueError, match=r"training file\(s\) not found: \[.*RTE/train.tsv'\]"):
        run_suite(GLUE, glue_dir, str(tmp_path / "out"), options, tasks=["RTE"])


# Words of the test files (lower-cased by the tokenizer); the rest is [UNK].
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "?", '"', "'", "the", "a",
         "man", "is", "playing", "cat", "sat", "on", "mat", "did", "not", "sit", "car",
         "house", "flute", "plane", "taking", "off", "chess", "hair", "girl", "you", "he",
         "said", "no", "agreed", "new", "rights", "are", "nice", "enough", "bill", "drank",
         "pub", "verbs", "they", "day", "by", "facts", "murkier", "riding", "horse", "child"]


@pytest.mark.slow
def test_glue_program_worker_end_to_end(tmp_path, glue_dir, capsys):
    from tests.helpers import write_tiny_config, write_vocab
    from tfbert.tasks.classification.suites import GLUE, run_suite
    from tfbert.training.options import TrainingOptions
    # Two tasks stay: regression (STS-B) and MNLI (two dev sets, three submission files).
    for task in ("CoLA", "SST-2", "MRPC", "QQP", "QNLI", "RTE", "WNLI"):
        os.remove(os.path.join(glue_dir, task, "train.tsv"))
    options = TrainingOptions(
        model_dir=None, strategy="default", config=write_tiny_config(tmp_path, len(VOCAB)),
        vocab_file=write_vocab(tmp_path, VOCAB), max_seq_length=24, batch_size=3,
        learning_rate=1e-3, train_steps=2, steps_per_loop=2, bucket_width=8)
    output_dir = str(tmp_path / "out")
    summary = run_suite(GLUE, glue_dir, output_dir, options)
    out = capsys.readouterr().out
    assert list(summary["tasks"]) == ["STS-B", "MNLI"]
    assert summary["missing_tasks"] == ["CoLA", "SST-2", "MRPC", "QQP", "QNLI", "RTE", "WNLI"]
    assert "GLUE: no data for CoLA, SST-2, MRPC, QQP, QNLI, RTE, WNLI under" in out
    tasks = summary["tasks"]
    assert list(tasks["STS-B"]["metrics"]) == ["pearson", "spearman"]
    assert list(tasks["MNLI"]["metrics"]) == ["matched_accuracy", "mismatched_accuracy"]
    assert tasks["MNLI"]["dev_examples"] == {"dev_matched": 1, "dev_mismatched": 1}
    assert tasks["STS-B"]["train_examples"] == 4
    # A tiny model may predict one constant (clipped) score: Pearson is then nan, as scipy's.
    for task in tasks.values():
        assert task["score"] == pytest.approx(np.mean(list(task["metrics"].values())),
                                              nan_ok=True)
        assert os.path.exists(os.path.join(task["model_dir"], "model.keras"))
    assert summary["average"] == pytest.approx(np.mean([t["score"] for t in tasks.values()]),
                                               nan_ok=True)
    with open(os.path.join(output_dir, "summary.json")) as f:
        assert json.load(f)["tasks"]["MNLI"]["metrics"] == tasks["MNLI"]["metrics"]
    # The table: a title, a header, one row per task and the average.
    table = out[out.index("GLUE dev results"):].splitlines()
    assert table[1].split() == ["task", "metric(s)", "dev", "score"]
    assert table[2].split()[:4] == ["STS-B", "pearson", "/", "spearman"]
    assert table[3].split()[:4] == ["MNLI", "matched_accuracy", "/", "mismatched_accuracy"]
    assert table[4].split() == ["average", f"{summary['average']:.4f}"]
    # Submission files: every test split present, in the leaderboard's format.
    submission = os.path.join(output_dir, "submission")
    assert sorted(os.listdir(submission)) == ["AX.tsv", "MNLI-m.tsv", "MNLI-mm.tsv",
                                              "STS-B.tsv"]

    def rows(name):
        lines = open(os.path.join(submission, name)).read().splitlines()
        assert lines[0] == "index\tprediction"
        return [line.split("\t") for line in lines[1:]]

    assert [i for i, _ in rows("STS-B.tsv")] == ["0", "1"]
    assert all(0.0 <= float(p) <= 5.0 and len(p.split(".")[1]) == 3 for _, p in rows("STS-B.tsv"))
    nli = {"entailment", "neutral", "contradiction"}
    assert [i for i, _ in rows("AX.tsv")] == ["0", "1"] and {p for _, p in rows("AX.tsv")} <= nli
    assert {p for _, p in rows("MNLI-m.tsv") + rows("MNLI-mm.tsv")} <= nli


@pytest.mark.slow
def test_glue_program_checks_its_flags(tmp_path):
    import subprocess
    import sys
    done = subprocess.run(
        [sys.executable, "-m", "apps.glue", f"--data_dir={tmp_path}",
         f"--output_dir={tmp_path / 'out'}", f"--model_dir={tmp_path / 'run'}"],
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert f"--model_dir={tmp_path / 'run'}: give --output_dir" in done.stderr
