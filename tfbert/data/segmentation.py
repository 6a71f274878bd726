"""Word boundaries for whole-word masking: the corpus' own, jieba's, or word pieces'.

Chinese BERT-wwm masks whole Chinese words, found by a segmenter; the original BERT masks
a word piece together with its `##` continuations. Modes (`--whole_word_masking`):

* `segmented` — words are the corpus' own: whitespace-separated on a text line;
* `jieba` — Chinese lines are cut into words by jieba (its Rust port `rjieba`: same words
  as `jieba.lcut`, many times faster);
* `none` — every piece is masked on its own;
* `auto` — `segmented` when Chinese lines already carry spaces between words, `jieba` for
  unsegmented Chinese, else the original BERT's piece + `##` grouping.
"""

import re
import typing

import rjieba

WHOLE_WORD_MODES = ("auto", "segmented", "jieba", "none")

_CJK = re.compile(r"[\u4e00-\u9fff]")
_CJK_GAP = re.compile(r"[\u4e00-\u9fff]\s+[\u4e00-\u9fff]")


class Segmentation(typing.NamedTuple):
    """How a corpus is split for masking.

    `mode`: the resolved mode (`segmented`, `jieba`, `pieces` or `none`); `segmented`:
    the sentences hold real words (all pieces of a word are masked together); `whole_word`:
    whole-word masking is on.
    """

    mode: str
    segmented: bool
    whole_word: bool


def is_chinese(lines, threshold=0.3):
    """Whether Chinese characters make up at least `threshold` of the non-space text."""
    text = "".join("".join(line.split()) for line in lines)
    return bool(text) and len(_CJK.findall(text)) >= threshold * len(text)


def resolve(mode, lines):
    """The `Segmentation` a `WHOLE_WORD_MODES` mode means for these text lines."""
    if mode not in WHOLE_WORD_MODES:
        raise ValueError(f"--whole_word_masking={mode}: choose one of {WHOLE_WORD_MODES}.")
    if mode == "auto":
        if not is_chinese(lines):
            return Segmentation("pieces", segmented=False, whole_word=True)
        gaps = sum(1 for line in lines if _CJK_GAP.search(line))
        mode = "segmented" if gaps >= len(lines) / 2 else "jieba"
    if mode == "none":
        return Segmentation("none", segmented=False, whole_word=False)
    return Segmentation(mode, segmented=True, whole_word=True)


def cut_words(line, mode):
    """A text line's words under a resolved mode (`pieces`/`none`: the line itself)."""
    if mode == "segmented":
        return line.split()
    if mode == "jieba":
        return [word for word in rjieba.cut(line) if word.strip()]
    return [line]
