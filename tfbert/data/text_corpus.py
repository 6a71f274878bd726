"""Plain-text pretraining corpora in the original BERT format.

One sentence per line, an empty line between documents (google-research/bert
`create_pretraining_data.py --input_file`).
"""

from tfbert.data.files import read_lines
from tfbert.data.peoples_daily import load_corpus_documents
from tfbert.data.segmentation import Segmentation, cut_words, resolve
from tfbert.errors import UsageError


def read_text_corpus(path):
    """Returns documents of sentences, each sentence a one-item list `[text]`.

    The single "word" per sentence is split into words for whole-word masking by
    `load_pretraining_documents`, or by the tokenizer (pieces grouped by `##`
    continuations, `tokenize_documents(segmented=False)`).

    Raises:
        ValueError: if the file is not UTF-8 (naming file and line) or holds no text.
    """
    documents, current = [], []
    for _, line in read_lines(path):
        line = line.strip()
        if line:
            current.append([line])
        elif current:
            documents.append(current)
            current = []
    if current:
        documents.append(current)
    if not documents:
        raise UsageError(f"{path}: no text (expected one sentence per line, an empty "
                         "line between documents).")
    return documents


def load_pretraining_documents(input_file=None, whole_word_masking="auto"):
    """`(documents, segmentation)`: a text corpus, or the shipped People's Daily by default.

    Args:
        input_file: str or None, a corpus in the original BERT format.
        whole_word_masking: one of `tfbert.data.segmentation.WHOLE_WORD_MODES`. People's
            Daily is segmented: `auto` keeps its own words there (`jieba` re-cuts them).

    Returns:
        documents (lists of sentences of words) and the `Segmentation` used.
    """
    if input_file:
        documents = read_text_corpus(input_file)
    elif whole_word_masking in ("auto", "segmented"):
        return load_corpus_documents(), Segmentation("segmented", True, True)
    else:  # the shipped corpus' sentences as plain text, to be cut another way
        documents = [[["".join(words)] for words in doc] for doc in load_corpus_documents()]
    lines = [sentence[0] for doc in documents for sentence in doc]
    segmentation = resolve(whole_word_masking, lines[:10_000])
    if segmentation.mode in ("segmented", "jieba"):
        documents = [[cut_words(sentence[0], segmentation.mode) for sentence in doc]
                     for doc in documents]
    return documents, segmentation
