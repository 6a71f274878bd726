"""apps/predict.py: .txt / .tsv / .jsonl input, bad rows by line number, streaming in chunks."""

import json
import os
import tracemalloc

import pytest

from apps import predict
from tests import export_fixtures as fx
from tfbert import Predictor


class CountingPredictor:
    """Stands in for `tfbert.Predictor`: the length of each text, and a record of the calls."""

    def __init__(self, input_names=("text",)):
        self.input_names = list(input_names)
        self.batches = []

    def predict(self, *columns, progress=None):
        self.batches.append(len(columns[0]))
        return [{"length": sum(len(c) for c in row)} for row in zip(*columns)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict_program")
    return {task: fx.tiny_run(str(root / task), task) for task in ("classification", "squad")}


def _read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_txt_with_a_real_model_matches_the_predictor(runs, tmp_path, capsys):
    source = tmp_path / "texts.txt"
    source.write_text("the cat sat on the mat\n\n今天天气很好\n   \nwhat is a good film?\n",
                      encoding="utf-8")
    output = str(tmp_path / "out.jsonl")
    summary = predict.predict_file(runs["classification"], str(source), output, batch_size=2,
                                   chunk_size=2)
    assert (summary["predicted"], summary["skipped"]) == (3, 2)
    rows = _read_jsonl(output)
    assert [r["line"] for r in rows] == [1, 3, 5]
    expected = Predictor(runs["classification"]).predict(
        ["the cat sat on the mat", "今天天气很好", "what is a good film?"])
    for row, want in zip(rows, expected):
        assert row["label"] == want["label"]
        assert row["probabilities"] == pytest.approx(want["probabilities"], abs=1e-6)
    captured = capsys.readouterr()
    assert ".txt:2: empty text; skipped" in captured.err
    assert ".txt:4: empty text; skipped" in captured.err
    assert "Predicted 3 rows, skipped 2, in " in captured.out and "rows/s" in captured.out


def test_tsv_and_jsonl_questions_with_bad_rows(runs, tmp_path, capsys):
    qa = Predictor(runs["squad"])
    tsv = tmp_path / "qa.tsv"
    tsv.write_text("question\tcontext\nwhere does john live?\tJohn Smith lives in New York.\n"
                   "only one column\nwho?\t\n", encoding="utf-8")
    predict.predict_file(qa, str(tsv), str(tmp_path / "tsv.jsonl"))
    rows = _read_jsonl(tmp_path / "tsv.jsonl")
    assert [r["line"] for r in rows] == [2]
    assert {"end", "line", "score", "start", "text"} <= set(rows[0])
    assert "John Smith lives in New York."[rows[0]["start"]:rows[0]["end"]] == rows[0]["text"]
    err = capsys.readouterr().err
    assert ".tsv:3: expected 2 tab-separated column(s) (question<TAB>context), got 1" in err
    assert ".tsv:4: empty context" in err

    jsonl = tmp_path / "qa.jsonl"
    lines = [json.dumps({"question": "where?", "context": "in New York"}), "{not json",
             json.dumps({"question": "where?"}), json.dumps(["a", "b"]),
             json.dumps({"question": "who", "context": 3}), "",
             json.dumps({"question": "我喜欢", "context": "今天天气很好, 北京人喜欢"})]
    jsonl.write_bytes(("\n".join(lines) + "\n").encode() + b"\xff\xfe\n")
    summary = predict.predict_file(qa, str(jsonl), str(tmp_path / "jsonl.jsonl"))
    assert (summary["predicted"], summary["skipped"]) == (2, 6)
    assert [r["line"] for r in _read_jsonl(tmp_path / "jsonl.jsonl")] == [1, 7]
    err = capsys.readouterr().err
    for message in (":2: invalid JSON", ":3: missing field 'context'",
                    ":4: expected a JSON object", ":5: fields ['question', 'context'] "
                    "must be strings", ":6: empty line", ":8: not UTF-8"):
        assert message in err, message


def test_warnings_are_capped_and_counted(tmp_path, capsys):
    source = tmp_path / "t.jsonl"
    source.write_text("\n".join(["{}"] * 30 + [json.dumps({"text": "ok"})]) + "\n")
    summary = predict.predict_file(CountingPredictor(), str(source), str(tmp_path / "o.jsonl"),
                                   max_warnings=5)
    assert (summary["predicted"], summary["skipped"]) == (1, 30)
    err = capsys.readouterr().err
    assert err.count("missing field 'text'") == 5
    assert "25 more bad rows not shown (30 in all)" in err


def test_streams_a_chunk_at_a_time():
    """Rows are pulled from the input lazily: never more than one chunk ahead of the output."""
    pulled = []
    model = CountingPredictor()

    def lines():
        for i in range(10_000):
            pulled.append(i)
            # Every predict call happens while at most one chunk is pulled but not written.
            assert len(pulled) - sum(model.batches) <= 100 + 1
            yield f"text number {i}\n".encode()

    written = []
    predicted, skipped = predict.predict_lines(model, lines(), ".txt", written.append,
                                               chunk_size=100)
    assert (predicted, skipped) == (10_000, 0)
    assert model.batches == [100] * 100
    assert len(written) == 100 and written[0].count("\n") == 100


def test_memory_stays_flat_on_a_large_file(tmp_path):
    """A 24 MB file through the real reader and writer: peak Python memory far below its size."""
    source = tmp_path / "big.tsv"
    row = ("a fairly long text of about one hundred bytes, repeated to make a large input file "
           "\tand a pair\n")
    with open(source, "w") as f:
        for _ in range(24 * 1024 * 1024 // len(row)):
            f.write(row)
    size = os.path.getsize(source)
    tracemalloc.start()
    summary = predict.predict_file(CountingPredictor(["text", "text_pair"]), str(source),
                                   str(tmp_path / "big.jsonl"), chunk_size=512)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert summary["predicted"] == size // len(row)
    assert peak < size / 10, (peak, size)


def test_usage_errors_name_the_flag(runs, tmp_path):
    with pytest.raises(ValueError, match=r"--input=.*\.csv: unknown extension"):
        predict.predict_file(CountingPredictor(), str(tmp_path / "x.csv"), "o.jsonl")
    with pytest.raises(ValueError, match="not found"):
        predict.predict_file(CountingPredictor(), str(tmp_path / "x.txt"), "o.jsonl")
    (tmp_path / "q.txt").write_text("where?\n")
    with pytest.raises(ValueError, match="give a .tsv or .jsonl"):
        predict.predict_file(CountingPredictor(["question", "context"]),
                             str(tmp_path / "q.txt"), str(tmp_path / "o.jsonl"))


def test_program_runs_and_reports_usage_errors_in_one_line(runs, tmp_path):
    import subprocess
    import sys
    main = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    (tmp_path / "in.txt").write_text("the cat sat on the mat\n\nwhat is a good film?\n")
    env = dict(os.environ, PYTHONPATH=main, TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, "-m", "apps.predict", f"--model={runs['classification']}",
               f"--input={tmp_path / 'in.txt'}", f"--output={tmp_path / 'out.jsonl'}",
               "--batch_size=1"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=main,
                          env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Predicted 2 rows, skipped 1" in done.stdout
    assert ".txt:2: empty text; skipped" in done.stderr
    assert [r["line"] for r in _read_jsonl(tmp_path / "out.jsonl")] == [1, 3]
    command[-2] = f"--output={tmp_path / 'out.json'}"
    failed = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=main,
                            env=env)
    assert failed.returncode == 1
    assert "--output=" in failed.stderr and "name the file .jsonl" in failed.stderr
