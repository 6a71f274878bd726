"""CLUE: JSON-lines readers on files in the official formats ("-" labels, test files with ids,
CSL's keyword lists, CLUEWSC's spans), submission files, and `apps.clue`'s worker end to end
on a tiny model."""

import json
import os

import pytest

from tfbert.data.clue import CLUE_TASKS, read_clue_file

WSC_TEXT = "这时候放在床上枕头旁边的手机响了，我感到奇怪，因为欠费已被停机两个月，现在它突然响了。"

# Rows as the CLUE `<task>_public.zip` files have them (keys in their order).
CLUE_ROWS = {
    "afqmc_public/train.json": [
        {"sentence1": "双十一花呗提额在哪", "sentence2": "里可以提花呗额度", "label": "0"},
        {"sentence1": "花呗支持高铁票支付吗", "sentence2": "为什么友付宝不支持花呗付款", "label": "0"},
        {"sentence1": "借呗能再取款吗", "sentence2": "借呗可以再借吗", "label": "1"}],
    "afqmc_public/test.json": [
        {"id": 0, "sentence1": "借呗取消的时间", "sentence2": "蚂蚁借呗什么时候会被取消"}],
    "tnews_public/train.json": [
        {"label": "102", "label_desc": "news_entertainment",
         "sentence": "江疏影甜甜圈自拍，迷之角度竟这么好看，美吸引一切事物",
         "keywords": "江疏影,美少女,经纪人,甜甜圈"},
        {"label": "110", "label_desc": "news_military",
         "sentence": "以色列大规模空袭开始，伊朗多个军事目标遭遇打击，誓言对等反击", "keywords": ""}],
    "tnews_public/test.json": [
        {"id": 0, "sentence": "东北大学一博士生，在沈阳的一个小区夜晚散步", "keywords": "东北大学"}],
    "iflytek_public/train.json": [
        {"label": "11", "label_des": "薅羊毛", "sentence": "银行卡积分兑换商品，每天签到领取积分"},
        {"label": "118", "label_des": "其他", "sentence": "一款简单的工具"}],
    "cmnli_public/train.json": [
        {"sentence1": "从概念上讲，奶油略读有两个基本维度-产品和地理。",
         "sentence2": "产品和地理位置是使奶油撇油起作用的原因。", "label": "neutral"},
        {"sentence1": "你知道在这个季节，我猜在你的水平你把他们送到下一个水平",
         "sentence2": "在这个季节，我猜在你的水平上，你把他们送到下一个水平", "label": "-"},
        {"sentence1": "我们的一个号码会非常详细地执行你的指示。",
         "sentence2": "我团队的一个成员将非常精确地执行你的命令。", "label": "entailment"},
        {"sentence1": "他说不。", "sentence2": "他同意了。", "label": "contradiction"}],
    "cmnli_public/dev.json": [
        {"sentence1": "新的权利已经足够好了", "sentence2": "每个人都很喜欢最新的福利", "label": "neutral"},
        {"sentence1": "他说不。", "sentence2": "他同意了。", "label": "-"},
        {"sentence1": "你的贡献使它成为可能。", "sentence2": "你的贡献毫无帮助。",
         "label": "contradiction"}],
    "cmnli_public/test.json": [
        {"id": 0, "sentence1": "香草，干的，甜的。", "sentence2": "香草是一个名字。"},
        {"id": 1, "sentence1": "你决定了什么？", "sentence2": "你要做决定吗？"}],
    "ocnli_public/train.50k.json": [
        {"level": "medium", "sentence1": "一月份跟二月份肯定有一个月份有.",
         "sentence2": "肯定有一个月份有", "label": "entailment", "label0": "entailment",
         "label1": "entailment", "label2": "entailment", "label3": "entailment",
         "label4": "entailment", "genre": "lit", "prem_id": "lit_635", "id": 0}],
    "csl_public/train.json": [
        {"id": 1, "abst": "针对现有的声呐目标识别方法，提出一种基于感知器的识别方法。",
         "keyword": ["水声学", "感知器", "目标识别"], "label": "1"}],
    "csl_public/test.json": [
        {"id": 0, "abst": "提出一种新的方法。", "keyword": ["方法", "识别"]}],
    "cluewsc2020_public/train.json": [
        {"target": {"span2_index": 37, "span1_index": 5, "span1_text": "床", "span2_text": "它"},
         "idx": 0, "label": "false", "text": WSC_TEXT},
        {"target": {"span2_index": 37, "span1_index": 12, "span1_text": "手机",
                    "span2_text": "它"}, "idx": 1, "label": "true", "text": WSC_TEXT}],
    "cluewsc2020_public/test.json": [
        {"id": 0, "target": {"span1_text": "小明", "span1_index": 0, "span2_text": "他",
                             "span2_index": 7}, "text": "小明看见小红，他很高兴。"}],
}


def write_rows(root, table):
    for relative, rows in table.items():
        path = os.path.join(str(root), relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    return str(root)


@pytest.fixture
def clue_dir(tmp_path):
    return write_rows(tmp_path / "clue_data", CLUE_ROWS)


def _read(clue_dir, task, split, labelled=True, log=None):
    path = os.path.join(clue_dir, CLUE_TASKS[task].files[split])
    return read_clue_file(task, path, labelled=labelled, log=log or (lambda line: None))


def test_sentence_and_pair_tasks(clue_dir):
    afqmc = _read(clue_dir, "AFQMC", "train").examples
    assert afqmc[2] == (3, "借呗能再取款吗", "借呗可以再借吗", "1")  # no id: the line number
    assert _read(clue_dir, "AFQMC", "test", labelled=False).examples == [
        (0, "借呗取消的时间", "蚂蚁借呗什么时候会被取消", None)]
    tnews = _read(clue_dir, "TNEWS", "train").examples
    assert [e.label for e in tnews] == ["102", "110"]
    assert tnews[0].text.startswith("江疏影甜甜圈自拍") and tnews[0].text_pair is None
    assert len(CLUE_TASKS["TNEWS"].labels) == 15 and len(CLUE_TASKS["IFLYTEK"].labels) == 119
    assert [e.label for e in _read(clue_dir, "IFLYTEK", "train").examples] == ["11", "118"]
    ocnli = _read(clue_dir, "OCNLI", "train").examples
    assert ocnli == [(0, "一月份跟二月份肯定有一个月份有.", "肯定有一个月份有", "entailment")]


def test_nli_rows_labelled_dash_are_dropped_counted_and_reported(clue_dir):
    lines = []
    train = _read(clue_dir, "CMNLI", "train", log=lines.append)
    assert [e.label for e in train.examples] == ["neutral", "entailment", "contradiction"]
    assert train.skipped == (2,)
    assert lines == [f"skipped 1 row labelled '-' (no gold label) of {train.path} (line 2)"]
    with pytest.raises(ValueError, match=rf"{train.path}:2: label '-' \(no gold label\); "
                                         "--strict stops here"):
        read_clue_file("CMNLI", train.path, strict=True)
    dev = _read(clue_dir, "CMNLI", "dev", log=lines.append)
    assert dev.skipped == (2,) and len(dev.examples) == 2
    test = _read(clue_dir, "CMNLI", "test", labelled=False).examples
    assert [e.id for e in test] == [0, 1] and test[1].text_pair == "你要做决定吗？"


def test_csl_joins_keywords_and_cluewsc_marks_spans(clue_dir):
    csl = _read(clue_dir, "CSL", "train").examples[0]
    assert csl == (1, "水声学 感知器 目标识别", CLUE_ROWS["csl_public/train.json"][0]["abst"], "1")
    wsc = _read(clue_dir, "CLUEWSC2020", "train").examples
    assert wsc[0].text == ("这时候放在_床_上枕头旁边的手机响了，我感到奇怪，因为欠费已被停机两个月，"
                           "现在[它]突然响了。")
    assert wsc[1].text.startswith("这时候放在床上枕头旁边的_手机_响了") and wsc[1].label == "true"
    assert wsc[1].text_pair is None
    test = _read(clue_dir, "CLUEWSC2020", "test", labelled=False).examples
    assert test == [(0, "_小明_看见小红，[他]很高兴。", None, None)]


def test_bad_files_name_the_file_and_line(tmp_path):
    def write(name, *lines):
        path = tmp_path / name
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        return str(path)

    good = json.dumps({"sentence1": "甲", "sentence2": "乙", "label": "0"})
    path = write("afqmc.json", good, '{"sentence1": "甲", "sentence2": "乙", "label": "0"')
    with pytest.raises(ValueError, match=rf"^{path}:2: not JSON \(Expecting ',' delimiter"):
        read_clue_file("AFQMC", path)
    path = write("list.json", "[1, 2]")
    with pytest.raises(ValueError, match=rf"{path}:1: expected a JSON object, got list"):
        read_clue_file("AFQMC", path)
    path = write("no_label.json", good, json.dumps({"id": 1, "sentence1": "甲", "sentence2": "乙"}))
    with pytest.raises(ValueError, match=rf"{path}:2: no field 'label' \(a test file\?"):
        read_clue_file("AFQMC", path)
    path = write("label.json", json.dumps({"sentence1": "甲", "sentence2": "乙", "label": "2"}))
    with pytest.raises(ValueError, match=rf"{path}:1: label '2' is not a AFQMC label \(0, 1\)"):
        read_clue_file("AFQMC", path)
    path = write("dash.json", json.dumps({"sentence": "甲", "label": "-"}))
    with pytest.raises(ValueError, match=rf"{path}:1: label '-' is not a TNEWS label "
                                         r"\(100, 101, 102, 103, 104, \.\.\.\)"):
        read_clue_file("TNEWS", path)  # "-" means "no gold label" in CMNLI/OCNLI only
    path = write("field.json", json.dumps({"sentence1": "甲", "label": "0"}))
    with pytest.raises(ValueError, match=rf"{path}:1: field 'sentence2' must be a string, "
                                         "got None"):
        read_clue_file("AFQMC", path)
    path = write("csl.json", json.dumps({"abst": "甲", "keyword": "乙", "label": "0"}))
    with pytest.raises(ValueError, match=rf"{path}:1: field 'keyword' must be a list"):
        read_clue_file("CSL", path)
    wsc = {"target": {"span1_text": "小红", "span1_index": 0, "span2_text": "他",
                      "span2_index": 7}, "text": "小明看见小红，他很高兴。", "label": "false"}
    path = write("wsc.json", json.dumps(wsc, ensure_ascii=False))
    with pytest.raises(ValueError, match=rf"{path}:1: target span1_text '小红' is not at "
                                         "span1_index 0 of the text"):
        read_clue_file("CLUEWSC2020", path)
    path = write("test.json", json.dumps({"sentence1": "甲", "sentence2": "乙"}))
    with pytest.raises(ValueError, match=rf"{path}:1: test rows need an 'id'"):
        read_clue_file("AFQMC", path, labelled=False)
    path = write("blank.json", "", "  ")
    with pytest.raises(ValueError, match=rf"{path}: no rows \(expected a CSL file\)"):
        read_clue_file("CSL", path)


def test_clue_submission_file(tmp_path):
    from tfbert.tasks.classification.suites import CLUE, write_submission
    assert CLUE.tasks["TNEWS"].submissions == {"test": "tnews11_predict.json"}
    assert CLUE.tasks["OCNLI"].submissions == {"test": "ocnli_50k_predict.json"}
    assert CLUE.tasks["CLUEWSC2020"].submissions == {"test": "cluewsc11_predict.json"}
    path = write_submission(str(tmp_path / "cluewsc11_predict.json"), [0, 1], ["true", "false"],
                            "jsonl")
    assert open(path).read() == '{"id": 0, "label": "true"}\n{"id": 1, "label": "false"}\n'


def _vocab():
    """Every character of the test rows, after the special tokens."""
    text = json.dumps(CLUE_ROWS, ensure_ascii=False)
    return ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[", "]", "_"] + sorted(
        {c for c in text if "\u4e00" <= c <= "\u9fff"} | set("，。？"))


@pytest.mark.slow
def test_clue_program_worker_end_to_end(tmp_path, clue_dir, capsys):
    from tests.helpers import write_tiny_config, write_vocab
    from tfbert.tasks.classification.suites import CLUE, run_suite
    from tfbert.training.options import TrainingOptions
    vocab = _vocab()
    options = TrainingOptions(
        model_dir=None, strategy="default", config=write_tiny_config(tmp_path, len(vocab)),
        vocab_file=write_vocab(tmp_path, vocab), max_seq_length=40, batch_size=3,
        learning_rate=1e-3, train_steps=2, steps_per_loop=2, bucket_width=8)
    output_dir = str(tmp_path / "out")
    summary = run_suite(CLUE, clue_dir, output_dir, options, tasks=["CMNLI"])
    out = capsys.readouterr().out
    cmnli = summary["tasks"]["CMNLI"]
    assert list(cmnli["metrics"]) == ["accuracy"] and cmnli["train_examples"] == 3
    assert cmnli["dev_examples"] == {"dev": 2}
    assert 0.0 <= cmnli["score"] <= 1.0 and summary["average"] == cmnli["score"]
    train_file = os.path.join(clue_dir, "cmnli_public", "train.json")
    assert cmnli["skipped_rows"] == {train_file: 1,
                                     os.path.join(clue_dir, "cmnli_public", "dev.json"): 1}
    assert f"skipped 1 row labelled '-' (no gold label) of {train_file} (line 2)" in out
    table = out[out.index("CLUE dev results"):].splitlines()
    score = f"{cmnli['score']:.4f}"
    assert table[2].split() == ["CMNLI", "accuracy", score, score]
    assert table[3].split() == ["average", f"{summary['average']:.4f}"]
    with open(os.path.join(output_dir, "summary.json")) as f:
        assert json.load(f)["benchmark"] == "CLUE"
    assert os.listdir(os.path.join(output_dir, "submission")) == ["cmnli_predict.json"]
    rows = [json.loads(line) for line in
            open(os.path.join(output_dir, "submission", "cmnli_predict.json"))]
    assert [r["id"] for r in rows] == [0, 1]
    assert all(set(r) == {"id", "label"} and r["label"] in ("entailment", "neutral",
                                                            "contradiction") for r in rows)


@pytest.mark.slow
def test_clue_program_checks_its_flags(tmp_path):
    import subprocess
    import sys
    done = subprocess.run(
        [sys.executable, "-m", "apps.clue", f"--data_dir={tmp_path}",
         f"--output_dir={tmp_path / 'out'}", f"--model_dir={tmp_path / 'run'}"],
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert f"--model_dir={tmp_path / 'run'}: give --output_dir" in done.stderr
