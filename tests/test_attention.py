"""Attention probabilities of the encoder (opt-in) and `apps/attention.py`'s heat map."""

import os

import keras
import numpy as np
import pytest

from tests.helpers import BATCH, HEADS, HIDDEN, INTERMEDIATE, SEQ, encoder_batch, tiny_config
from tfbert.layers import TransformerBlock
from tfbert.models import bert_encoder, encoder_attention

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def encoder():
    keras.utils.set_random_seed(0)
    return bert_encoder(tiny_config())


def padded_batch():
    inputs = encoder_batch()
    mask = np.ones((BATCH, SEQ), "int32")
    mask[1, 4:] = 0
    mask[2, 2:] = 0
    return {**inputs, "padding_mask": mask}


def test_probabilities_shape_rows_and_padding(encoder):
    inputs = padded_batch()
    out = encoder_attention(encoder, inputs)
    probs = np.asarray(out["attention_probs"])
    assert probs.shape == (BATCH, 2, HEADS, SEQ, SEQ) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)  # every query row
    keys = inputs["padding_mask"][:, None, None, None, :].astype(bool)  # [b, 1, 1, 1, seq]
    assert np.all(np.where(keys, 0.0, probs) == 0.0)  # padding keys get exactly 0
    assert np.all(np.where(keys, probs, 1.0) > 0.0)
    # The same weights and numbers as the encoder: nothing was copied or changed.
    np.testing.assert_allclose(out["sequence_output"],
                               encoder(inputs)["sequence_output"], atol=1e-6)


def test_encoder_outputs_config_and_weights_unchanged(encoder):
    weights = len(encoder.weights)
    encoder_attention(encoder, padded_batch())
    assert len(encoder.weights) == weights
    assert set(encoder.output) == {"sequence_output", "pooled_output"}
    assert "output_attentions" not in encoder.get_config()


def test_block_returns_scores_on_request():
    block = TransformerBlock(num_heads=HEADS, intermediate_size=INTERMEDIATE)
    x = keras.Input((SEQ, HIDDEN))
    mask = keras.Input((1, SEQ), dtype="bool")
    output, scores = block(x, mask, return_attention_scores=True)
    assert tuple(output.shape) == (None, SEQ, HIDDEN)
    assert tuple(scores.shape) == (None, HEADS, SEQ, SEQ)
    model = keras.Model([x, mask], [output, scores])
    data = np.random.default_rng(0).normal(size=(BATCH, SEQ, HIDDEN)).astype("float32")
    out, probs = model([data, np.ones((BATCH, 1, SEQ), bool)])
    np.testing.assert_allclose(out, block(data, np.ones((BATCH, 1, SEQ), bool)), atol=1e-6)
    np.testing.assert_allclose(np.asarray(probs).sum(-1), 1.0, atol=1e-5)


# --- apps/attention.py ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from tests import export_fixtures as fx
    return fx.tiny_run(str(tmp_path_factory.mktemp("attention") / "run"), "classification")


def check_png(path):
    with open(path, "rb") as f:
        assert f.read(8) == PNG_MAGIC
    assert os.path.getsize(path) > 5000


def test_program_writes_a_png_of_a_head_and_of_the_average(run, tmp_path):
    from apps.attention import plot_attention
    result = plot_attention(run, "the cat sat on the mat", str(tmp_path / "head.png"),
                            layer=1, head=2)
    check_png(result["output"])
    assert result["tokens"] == ["[CLS]", "the", "cat", "sat", "on", "the", "mat", "[SEP]"]
    assert (result["num_layers"], result["num_heads"]) == (2, 3)
    average = plot_attention(run, "今天天气很好", str(tmp_path / "sub" / "average.png"),
                             layer=0, head=-1, text_pair="what is a good film?",
                             max_seq_length=24)
    check_png(average["output"])
    assert average["tokens"] == ["[CLS]", "今", "天", "天", "气", "很", "好", "[SEP]", "what",
                                 "is", "a", "good", "film", "?", "[SEP]"]


def test_program_reads_a_checkpoint_directory(tmp_path):
    from apps.attention import plot_attention
    from tests import export_fixtures as fx
    from tfbert.checkpoints import save_encoder
    encoder = fx.tiny_task_model("classification", 2).encoder
    vocab = fx.write_vocab(str(tmp_path / "vocab"))
    save_encoder(encoder, vocab, str(tmp_path / "ckpt"))
    result = plot_attention(str(tmp_path / "ckpt"), "a good film", str(tmp_path / "c.png"))
    check_png(result["output"])
    assert result["tokens"] == ["[CLS]", "a", "good", "film", "[SEP]"]
    # A pretraining run: its encoder/ checkpoint.
    save_encoder(encoder, vocab, str(tmp_path / "pretrain" / "encoder"))
    check_png(plot_attention(str(tmp_path / "pretrain"), "a", str(tmp_path / "p.png"))["output"])


@pytest.mark.parametrize("layer,head,words", [
    (2, 0, ["--layer=2", "2 layers", "0..1"]),
    (-1, 0, ["--layer=-1", "0..1"]),
    (0, 3, ["--head=3", "3 heads", "0..2", "-1"]),
    (0, -2, ["--head=-2", "0..2"])])
def test_program_rejects_layer_or_head_out_of_range(run, tmp_path, layer, head, words):
    from apps.attention import plot_attention
    from tfbert.errors import UsageError
    with pytest.raises(UsageError) as error:
        plot_attention(run, "the cat", str(tmp_path / "x.png"), layer=layer, head=head)
    for word in words:
        assert word in str(error.value)
    assert not (tmp_path / "x.png").exists()


@pytest.mark.slow
def test_program_end_to_end(run, tmp_path):
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    output = tmp_path / "attention.png"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(
        [sys.executable, "-m", "apps.attention", f"--model={run}", "--text=the cat sat",
         "--layer=1", "--head=-1", f"--output={output}"],
        cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"wrote {output}" in done.stdout
    check_png(output)
    bad = subprocess.run(
        [sys.executable, "-m", "apps.attention", f"--model={run}", "--text=the cat",
         "--head=7", f"--output={tmp_path / 'bad.png'}"],
        cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1
    assert "--head=7" in bad.stderr and "0..2" in bad.stderr
