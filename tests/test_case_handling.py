"""Case handling: `do_lower_case` read from the checkpoint, overridden, recorded, exported.

Fast tests cover each source of evidence and the warning; the slow one fine-tunes from a tiny
cased Hugging Face checkpoint written here, exports it (SavedModel and TFLite) and shows that
"Hello" and "hello" tokenize differently all the way, while an uncased run maps them alike.
"""

import json
import logging
import os

import numpy as np
import pytest
import tensorflow as tf

from tfbert.tokenization import BertTokenizer, read_vocab_info
from tfbert.tokenization.case import (
    case_evidence,
    content_case,
    detect_lower_case,
    directory_case,
    resolve_lower_case,
)
from tfbert.tokenization.vocab import copy_vocab
from tfbert.training import run_dir
from tfbert.training.options import TrainingOptions

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# A cased vocabulary: capitalised pieces beside their lower-case forms.
CASED = SPECIAL + ["Hello", "hello", "World", "world", "The", "the", "film", "Film", "was",
                   "good", "Good", "bad", "Bad", "great", "!", ".", ",", "##s", "##ing"]
UNCASED = SPECIAL + ["hello", "world", "the", "film", "was", "good", "bad", "great", "!", ".",
                     ",", "##s", "##ing"]


def write_vocab(directory, tokens, tokenizer_config=None):
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "vocab.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(tokens) + "\n")
    if tokenizer_config is not None:
        with open(os.path.join(directory, "tokenizer_config.json"), "w") as f:
            json.dump(tokenizer_config, f)
    return path


def ids(tokenizer, texts):
    return tokenizer.tokenize(tf.constant(texts)).to_list()


def test_content_tells_cased_from_uncased():
    assert content_case(CASED)[0] is False
    assert content_case(UNCASED)[0] is True
    assert content_case(SPECIAL + ["今", "天", "##天", "1", "!"])[0] is None  # no letters
    # A stray capital among many lower-case pieces is no verdict either way.
    assert content_case(SPECIAL + ["Zz"] + [f"w{i}x" for i in range(200)])[0] is None
    value, evidence = content_case(CASED)
    assert "capitalised piece(s)" in evidence


@pytest.mark.parametrize("name,expected", [
    ("uncased_L-12_H-768_A-12", True), ("cased_L-12_H-768_A-12", False),
    ("multi_cased_L-12_H-768_A-12", False), ("wwm_uncased_L-24_H-1024_A-16", True),
    ("chinese_L-12_H-768_A-12", True), ("multilingual_L-12_H-768_A-12", True),
    ("test_cased_things0", None), ("bert", None)])
def test_original_folder_names(tmp_path, name, expected):
    directory = tmp_path / name
    directory.mkdir()
    assert directory_case(str(directory))[0] is expected
    assert directory_case(str(directory) + "/")[0] is expected


def test_tokenizer_config_wins_over_the_folder_name(tmp_path):
    directory = tmp_path / "uncased_L-2_H-12_A-3"
    write_vocab(directory, CASED, {"do_lower_case": False})
    value, evidence = directory_case(str(directory))
    assert value is False and "tokenizer_config.json has do_lower_case=false" in evidence


def test_tokenizer_defaults_to_what_the_checkpoint_says(tmp_path):
    cased = BertTokenizer(write_vocab(tmp_path / "hf", CASED, {"do_lower_case": False}))
    assert cased.lower_case is False
    hello, lower = ids(cased, ["Hello", "hello"])
    assert hello != lower and hello == [CASED.index("Hello")]
    # The vocabulary's content alone says cased too.
    assert BertTokenizer(write_vocab(tmp_path / "plain", CASED)).lower_case is False
    uncased = BertTokenizer(write_vocab(tmp_path / "uncased", UNCASED))
    assert uncased.lower_case is True
    assert ids(uncased, ["Hello", "hello"]) == [[UNCASED.index("hello")]] * 2
    # The project's record and an explicit argument come first.
    from tfbert.tokenization import write_vocab_info
    recorded = write_vocab(tmp_path / "recorded", CASED)
    write_vocab_info(recorded, lower_case=True, normalizer="exact")
    assert BertTokenizer(recorded).lower_case is True
    assert BertTokenizer(recorded, lower_case=False).lower_case is False


def test_copy_without_record_keeps_the_checkpoint_case(tmp_path):
    """Converting or saving a cased checkpoint must not record it as uncased."""
    source = write_vocab(tmp_path / "cased_L-2_H-12_A-3", CASED)
    copied = copy_vocab(source, str(tmp_path / "out"))
    assert read_vocab_info(copied)["lower_case"] is False
    assert read_vocab_info(copy_vocab(source, str(tmp_path / "over"), lower_case=True))[
        "lower_case"] is True


def test_mismatch_warns_once_naming_checkpoint_and_setting(tmp_path, caplog):
    checkpoint = tmp_path / "cased_L-2_H-12_A-3"
    vocab = write_vocab(checkpoint, CASED)
    with caplog.at_level(logging.WARNING):
        assert resolve_lower_case(vocab, str(checkpoint)) is False
    assert not caplog.records  # the evidence agrees: nothing to say
    with caplog.at_level(logging.WARNING):
        assert resolve_lower_case(vocab, str(checkpoint), do_lower_case=True) is True
    [record] = caplog.records
    message = record.getMessage()
    assert "\n" not in message and str(checkpoint) in message
    assert "lower_case=True (--do_lower_case=True)" in message
    assert "folder name cased_L-2_H-12_A-3" in message and "capitalised" in message
    assert "--do_lower_case" in message


def test_evidence_that_disagrees_is_reported_without_a_flag(tmp_path, caplog):
    """tokenizer_config.json says uncased over a vocabulary full of capitals."""
    checkpoint = tmp_path / "hf"
    vocab = write_vocab(checkpoint, CASED, {"do_lower_case": True})
    assert [value for value, _ in case_evidence(vocab, str(checkpoint))] == [True, False]
    with caplog.at_level(logging.WARNING):
        assert resolve_lower_case(vocab, str(checkpoint)) is True
    [record] = caplog.records
    assert "capitalised" in record.getMessage()


def test_run_vocab_records_the_case_and_resume_keeps_it(tmp_path):
    from tfbert.training.options import run_vocab_file
    checkpoint = tmp_path / "ckpt"
    vocab = write_vocab(checkpoint, CASED, {"do_lower_case": False})
    options = TrainingOptions(model_dir=str(tmp_path / "run"), vocab_file=vocab)
    copied = run_vocab_file(options)
    assert copied == os.path.join(options.model_dir, "vocab.txt")
    assert read_vocab_info(copied)["lower_case"] is False
    options.do_lower_case = True
    assert read_vocab_info(run_vocab_file(options))["lower_case"] is True
    # A started run refuses another --do_lower_case.
    run_dir.record_run(options.model_dir, run_dir.run_settings(options, "classification", vocab))
    (tmp_path / "run" / "model.keras").write_text("")
    options.do_lower_case = False
    with pytest.raises(ValueError, match="--do_lower_case: run has True, got False"):
        run_dir.check_resume(options.model_dir,
                             run_dir.run_settings(options, "classification", vocab))


def test_real_uncased_checkpoint_is_uncased():
    from tests.test_checkpoints import minilm_dir
    directory = minilm_dir()
    vocab = os.path.join(directory, "vocab.txt")
    assert [value for value, _ in case_evidence(vocab, directory)] == [True, True]
    assert detect_lower_case(vocab, directory) is True


# --- End to end: a cased checkpoint through fine-tuning, the run, SavedModel and TFLite ------

TRAIN = [("Hello world", 1), ("hello world", 0), ("The film was Good", 1),
         ("the film was bad", 0), ("Good film", 1), ("bad film", 0), ("Hello", 1), ("hello", 0)]
PROBES = ["Hello world", "hello world"]


def write_cased_checkpoint(directory):
    """A tiny Hugging Face checkpoint whose tokenizer_config.json says cased."""
    from tests.test_checkpoints import hf_state, write_hf
    from tfbert import BertConfig
    from tfbert.models import bert_encoder
    config = BertConfig(vocab_size=len(CASED), hidden_size=12, num_hidden_layers=2,
                        num_attention_heads=3, intermediate_size=37,
                        max_position_embeddings=32, initializer_range=0.5)
    write_hf(directory, hf_state(bert_encoder(config)), config)
    write_vocab(directory, CASED, {"do_lower_case": False})
    return directory


def fine_tune(checkpoint, model_dir, do_lower_case=None):
    from tfbert.tasks.classification.run import train_classifier
    options = TrainingOptions(model_dir=model_dir, init_checkpoint=checkpoint,
                              do_lower_case=do_lower_case, max_seq_length=16, batch_size=4,
                              train_steps=2, steps_per_loop=2, keep_best=False, bucket_width=0)
    train_classifier(options, [(text, None, label) for text, label in TRAIN], None,
                     ["neg", "pos"])
    return model_dir


@pytest.mark.slow
def test_cased_checkpoint_end_to_end(tmp_path, caplog):
    from export import saved_model, tflite
    checkpoint = write_cased_checkpoint(str(tmp_path / "hf_cased"))
    with caplog.at_level(logging.WARNING):
        cased_run = fine_tune(checkpoint, str(tmp_path / "cased_run"))
    assert "Case mismatch" not in caplog.text
    with caplog.at_level(logging.WARNING):
        uncased_run = fine_tune(checkpoint, str(tmp_path / "uncased_run"), do_lower_case=True)
    assert caplog.text.count("Case mismatch") == 1

    # Saved with the run, and the run's tokenizer follows it.
    assert read_vocab_info(os.path.join(cased_run, "vocab.txt"))["lower_case"] is False
    assert read_vocab_info(os.path.join(uncased_run, "vocab.txt"))["lower_case"] is True
    hello, lower = ids(BertTokenizer(os.path.join(cased_run, "vocab.txt")), PROBES)
    assert hello != lower
    hello, lower = ids(BertTokenizer(os.path.join(uncased_run, "vocab.txt")), PROBES)
    assert hello == lower

    for run, cased in ((cased_run, True), (uncased_run, False)):
        version_dir = saved_model.export_saved_model(run, str(tmp_path / "models"),
                                                     os.path.basename(run))
        with open(os.path.join(version_dir, "assets.extra", "vocab_info.json")) as f:
            assert json.load(f)["lower_case"] is not cased
        served = tf.saved_model.load(version_dir).signatures["serving_default"](
            text=tf.constant(PROBES))["probabilities"].numpy()
        on_device = tflite.TFLiteModel(tflite.convert_tflite(
            run, str(tmp_path / f"{os.path.basename(run)}.tflite"))).predict(
                PROBES)["probabilities"]
        np.testing.assert_allclose(on_device, served, atol=1e-3)
        for probabilities in (served, on_device):
            gap = np.abs(probabilities[0] - probabilities[1]).max()
            if cased:  # "Hello" and "hello" are other pieces: other outputs
                assert gap > 1e-4, probabilities
            else:  # lower-cased first: the same pieces, the same outputs
                assert gap < 1e-6, probabilities
