"""Plain-text pretraining corpora in the original BERT format.

One sentence per line, an empty line between documents (google-research/bert
`create_pretraining_data.py --input_file`).
"""

from tfbert.data.files import read_lines
from tfbert.data.peoples_daily import load_corpus_documents
from tfbert.errors import UsageError


def read_text_corpus(path):
    """Returns documents of sentences, each sentence a one-item list `[text]`.

    The single "word" per sentence is split by the tokenizer; whole-word masking then
    groups pieces by `##` continuations (see `tokenize_documents(segmented=False)`).

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


def load_pretraining_documents(input_file=None):
    """`(documents, segmented)`: a text corpus, or the shipped People's Daily by default.

    `segmented` tells whether the words are real words (People's Daily is segmented, so
    whole-word masking masks whole Chinese words) or whole sentences to be split.
    """
    if input_file:
        return read_text_corpus(input_file), False
    return load_corpus_documents(), True
