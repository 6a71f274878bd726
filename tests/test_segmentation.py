"""Whole-word masking for any corpus: the corpus' own words, jieba's, or ## pieces."""

import pytest

from tests.helpers import write_vocab
from tfbert.data.segmentation import cut_words, resolve
from tfbert.data.text_corpus import load_pretraining_documents
from tfbert.tasks.pretraining.features import count_words, tokenize_documents
from tfbert.tokenization import BertTokenizer

RAW = ["我爱北京天安门。", "天安门上太阳升。"]
SEGMENTED = ["我 爱 北京 天安门 。", "天安门 上 太阳 升 。"]


@pytest.mark.parametrize("lines, mode, expected", [
    (RAW, "auto", ("jieba", True, True)),
    (SEGMENTED, "auto", ("segmented", True, True)),
    (["The cat sat on the mat.", "Dogs bark."], "auto", ("pieces", False, True)),
    (RAW, "none", ("none", False, False)),
    (RAW, "segmented", ("segmented", True, True)),
])
def test_resolve_picks_the_corpus_words_jieba_or_pieces(lines, mode, expected):
    assert tuple(resolve(mode, lines)) == expected


def test_resolve_rejects_unknown_mode_naming_the_flag():
    with pytest.raises(ValueError, match=r"--whole_word_masking=wordpiece: choose one of"):
        resolve("wordpiece", RAW)


def test_jieba_cuts_chinese_words():
    assert cut_words("我爱北京天安门", "jieba") == ["我", "爱", "北京", "天安门"]
    assert cut_words("北京 天安门", "segmented") == ["北京", "天安门"]


def _corpus(tmp_path, lines):
    path = tmp_path / "corpus.txt"
    path.write_text("\n\n".join("\n".join(lines) for _ in range(3)) + "\n", encoding="utf-8")
    return str(path)


def test_unsegmented_chinese_corpus_is_masked_by_jieba_words(tmp_path):
    documents, segmentation = load_pretraining_documents(_corpus(tmp_path, RAW))
    assert segmentation.mode == "jieba" and len(documents) == 3
    assert documents[0][0] == ["我", "爱", "北京", "天安门", "。"]
    chars = sorted(set("".join(RAW)))
    tokenizer = BertTokenizer(write_vocab(tmp_path, ["[PAD]", "[UNK]", "[CLS]", "[SEP]",
                                                     "[MASK]"] + chars))
    tokenized = tokenize_documents(documents, tokenizer, segmented=segmentation.segmented)
    ids, starts = tokenized[0][0]
    # 北京 and 天安门 are one word each: their second and third characters start nothing.
    assert starts == [1, 1, 1, 0, 1, 0, 0, 1]
    # Per document: 5 + 4 words (天安门 / 上 / 太阳升 / 。), four of several pieces.
    assert count_words(tokenized) == (27, 12)


def test_none_masks_pieces_alone_and_segmented_keeps_spaces(tmp_path):
    _, none = load_pretraining_documents(_corpus(tmp_path, RAW), "none")
    assert not none.whole_word
    documents, segmented = load_pretraining_documents(_corpus(tmp_path, SEGMENTED))
    assert segmented.mode == "segmented"
    assert documents[0][1] == ["天安门", "上", "太阳", "升", "。"]
