"""BERTScore: parity with the reference `bert-score` package on the real MiniLM checkpoint,
the program's output, and the errors.

The reference scores come from tests/fixtures/make_bertscore_reference.py (bert-score 0.3.13,
run once in a separate virtualenv); nothing here needs torch.
"""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from apps.bertscore import score_files
from tests.helpers import minilm_dir
from tfbert.tasks.bertscore import (
    LayerEmbedder,
    bert_score,
    greedy_match,
    idf_weights,
    load_embedder,
    read_baseline,
    read_lines,
    read_pairs,
    uniform_weights,
)

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
with open(os.path.join(FIXTURES, "bertscore_reference.json"), encoding="utf-8") as _f:
    REFERENCE = json.load(_f)
BASELINE = os.path.join(FIXTURES, REFERENCE["baseline_file"])



@pytest.fixture(scope="module")
def embedder():
    """The last layer of MiniLM; other layers reuse its encoder and tokenizer."""
    return load_embedder(minilm_dir(), num_layers=6)


def write_lines(path, lines):
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))
    return str(path)


def max_differences(scores, expected):
    return {name: float(np.nanmax(np.abs(np.asarray(scores[name]) - expected[name])))
            for name in ("precision", "recall", "f1")}


# --- Parity with bert-score --------------------------------------------------------------------

def test_truncation_and_special_tokens_match_the_reference(embedder):
    """`[CLS] pieces [SEP]`, 2 for an empty or blank text, 512 for the texts past the limit."""
    assert embedder.max_length == 512
    assert [len(ids) for ids in embedder.encode(REFERENCE["candidates"])] == \
        REFERENCE["candidate_lengths"]
    assert [len(ids) for ids in embedder.encode(REFERENCE["references"])] == \
        REFERENCE["reference_lengths"]
    assert max(REFERENCE["candidate_lengths"]) == 512


@pytest.mark.parametrize("num_layers", [0, 2, 6])
def test_scores_match_bert_score(embedder, num_layers):
    """P, R, F1 within 1e-4 of bert-score, with and without idf, raw and rescaled."""
    layer = LayerEmbedder(embedder.encoder, embedder.tokenizer, num_layers, embedder.max_length)
    expected = REFERENCE["scores"][f"layers={num_layers}"]
    differences = {}
    for key, reference in expected.items():
        scores = bert_score(layer, REFERENCE["candidates"], REFERENCE["references"],
                            idf="idf=True" in key,
                            baseline_file=BASELINE if "rescaled" in key else None)
        differences[key] = max_differences(scores, reference)
    assert set(differences) == {"idf=False", "idf=True", "idf=False,rescaled",
                                "idf=True,rescaled"}
    assert max(max(d.values()) for d in differences.values()) < 1e-4, differences


def test_empty_texts_score_zero_and_case_does_not_matter():
    raw = REFERENCE["scores"]["layers=6"]["idf=False"]
    for pair in (4, 5, 6):  # empty candidate, blank reference, both empty
        assert [raw[name][pair] for name in ("precision", "recall", "f1")] == [0.0, 0.0, 0.0]
    assert raw["f1"][2] == pytest.approx(1.0, abs=1e-6)  # upper and lower case: same pieces


# --- The program -------------------------------------------------------------------------------

def test_program_worker_writes_the_reference_scores(tmp_path, capsys):
    output = tmp_path / "out" / "scores.json"
    summary = score_files(
        minilm_dir(), 2, write_lines(tmp_path / "c.txt", REFERENCE["candidates"]),
        write_lines(tmp_path / "r.txt", REFERENCE["references"]), str(output), idf=True,
        baseline_file=BASELINE, batch_size=5)
    with open(output, encoding="utf-8") as f:
        written = json.load(f)
    assert sorted(written) == ["f1", "precision", "recall"]
    assert all(len(v) == len(REFERENCE["candidates"]) for v in written.values())
    expected = REFERENCE["scores"]["layers=2"]["idf=True,rescaled"]
    assert max(max_differences(written, expected).values()) < 1e-4
    assert summary["pairs"] == len(REFERENCE["candidates"])
    assert summary["f1"] == pytest.approx(np.mean(expected["f1"]), abs=1e-4)
    assert "scored 14/14 pairs" in capsys.readouterr().out


def test_program_runs_from_the_command_line(tmp_path):
    output = tmp_path / "scores.json"
    done = subprocess.run(
        [sys.executable, "-m", "apps.bertscore", f"--checkpoint={minilm_dir()}",
         "--num_layers=2", f"--candidates={write_lines(tmp_path / 'c.txt', ['a cat', ''])}",
         f"--references={write_lines(tmp_path / 'r.txt', ['a cat', 'a dog'])}",
         f"--output={output}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "2 pairs, mean precision 0.5000, recall 0.5000, F1 0.5000" in done.stdout
    with open(output, encoding="utf-8") as f:
        written = json.load(f)
    assert written["f1"][1] == 0.0 and written["f1"][0] == pytest.approx(1.0, abs=1e-6)


def test_program_rejects_files_of_different_lengths(tmp_path):
    candidates = write_lines(tmp_path / "c.txt", ["one", "two", "three"])
    references = write_lines(tmp_path / "r.txt", ["one", "two"])
    with pytest.raises(ValueError) as error:
        score_files(minilm_dir(), 2, candidates, references, str(tmp_path / "o.json"))
    message = str(error.value)
    assert f"({candidates}: 3 lines)" in message and f"({references}: 2 lines)" in message


def test_program_rejects_num_layers_past_the_encoder(tmp_path):
    lines = write_lines(tmp_path / "c.txt", ["one"])
    with pytest.raises(ValueError, match=r"`num_layers` \(7\) must be between 0 and 6"):
        score_files(minilm_dir(), 7, lines, lines, str(tmp_path / "o.json"))


# --- Parts and their errors --------------------------------------------------------------------

def test_idf_weights_smoothing():
    """log((M + 1) / (df + 1)); a repeated reference counts twice; unseen: log(M + 1)."""
    references = [np.array([1, 5, 5, 2]), np.array([1, 6, 2]), np.array([1, 6, 2])]
    weights = idf_weights(references, vocab_size=8)
    np.testing.assert_allclose(weights[[1, 5, 6, 7]],
                               [0.0, math.log(4 / 2), math.log(4 / 3), math.log(4)], rtol=1e-6)
    np.testing.assert_array_equal(uniform_weights(8, cls_id=1, sep_id=2),
                                  [1, 0, 0, 1, 1, 1, 1, 1])


def test_greedy_match_by_hand():
    """Best cosine per token, weighted; CLS/SEP rows take part in the maxima."""
    candidate = np.array([[1, 0], [0, 1], [1, 0]], np.float32)
    reference = np.array([[1, 0], [0.6, 0.8], [0.6, 0.8], [1, 0]], np.float32)
    p, r, f = greedy_match(candidate, np.array([0, 1, 0], np.float32),
                           reference, np.array([0, 1, 1, 0], np.float32))
    assert (p, r) == pytest.approx((0.8, 0.8))
    assert f == pytest.approx(0.8)
    # No word piece in the candidate: P and R are 0, F1 0.
    assert greedy_match(candidate[:2], np.zeros(2, np.float32), reference,
                        np.ones(4, np.float32)) == (0.0, 0.0, 0.0)
    # Weights summing to 0 (idf: tokens in every reference) leave NaN, as the reference does.
    p, r, f = greedy_match(candidate, np.zeros(3, np.float32), reference,
                           np.ones(4, np.float32))
    assert math.isnan(p) and f == 0.0


def test_read_baseline_picks_the_layer_row_and_names_bad_lines(tmp_path):
    np.testing.assert_allclose(read_baseline(BASELINE, 2), [0.48365, 0.47011, 0.47629])
    bad_header = tmp_path / "a.csv"
    bad_header.write_text("LAYER,F,R,P\n0,0.1,0.2,0.3\n")
    with pytest.raises(ValueError, match=r"a\.csv:1: expected the header LAYER,P,R,F"):
        read_baseline(str(bad_header), 0)
    bad_row = tmp_path / "b.csv"
    bad_row.write_text("LAYER,P,R,F\n0,0.1,0.2,0.3\n1,0.1,0.2\n")
    with pytest.raises(ValueError, match=r"b\.csv:3: expected `LAYER,P,R,F`"):
        read_baseline(str(bad_row), 0)
    with pytest.raises(ValueError, match=r"no row for layer 4 \(layers present: \[0, 1\]\)"):
        read_baseline(write_lines(tmp_path / "c.csv", ["LAYER,P,R,F", "0,1,1,1", "1,1,1,1"]), 4)
    with pytest.raises(ValueError, match="Baseline file not found"):
        read_baseline(str(tmp_path / "missing.csv"), 0)


def test_read_lines_keeps_empty_lines_and_other_separators(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes("first\r\n\nthird\u2028still third\n".encode())
    assert read_lines(str(path)) == ["first", "", "third\u2028still third"]
    path.write_bytes(b"ok\n\xff\n")
    with pytest.raises(ValueError, match=r"t\.txt:2: not UTF-8"):
        read_lines(str(path))
    with pytest.raises(ValueError, match="Text file not found"):
        read_pairs(str(tmp_path / "none.txt"), str(path))


def test_argument_errors(embedder):
    encoder, tokenizer = embedder.encoder, embedder.tokenizer
    with pytest.raises(ValueError, match=r"`num_layers` \(-1\) must be between 0 and 6"):
        LayerEmbedder(encoder, tokenizer, -1)
    with pytest.raises(ValueError, match=r"`max_length` \(513\) must be between 2 and"):
        LayerEmbedder(encoder, tokenizer, 2, max_length=513)
    with pytest.raises(ValueError, match=r"`batch_size` \(0\) must be at least 1"):
        LayerEmbedder(encoder, tokenizer, 2, batch_size=0)
    with pytest.raises(ValueError, match=r"`candidates` \(1 texts\) and `references` \(2"):
        bert_score(embedder, ["a"], ["a", "b"])
