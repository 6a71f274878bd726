"""The linear baselines a BERT must beat on the shipped splits (DESIGN.md).

* sentiment: TF-IDF over character 1-3 grams + logistic regression;
* NER: logistic regression per character over a ±2 character window, entity F1 as
  `seqeval` counts it.

scikit-learn is a benchmark requirement (requirements-bench.txt), not the project's.
"""

from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from tfbert.tasks.ner.metrics import entity_scores

WINDOW = 2


def sentiment_baseline(train, eval_):
    """Accuracy of TF-IDF (char 1-3 grams) + logistic regression; `(text, label)` lists."""
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3))
    x_train = vectorizer.fit_transform([text for text, _ in train])
    classifier = LogisticRegression(max_iter=1000, C=10.0)
    classifier.fit(x_train, [label for _, label in train])
    predictions = classifier.predict(vectorizer.transform([text for text, _ in eval_]))
    correct = sum(int(p == label) for p, (_, label) in zip(predictions, eval_))
    return {"eval_accuracy": correct / len(eval_)}


def _window_features(chars):
    """One feature dict per character: the characters at offsets -2 ... +2."""
    padded = ["<s>"] * WINDOW + list(chars) + ["</s>"] * WINDOW
    return [{f"c{offset}={padded[i + WINDOW + offset]}": 1
             for offset in range(-WINDOW, WINDOW + 1)}
            for i in range(len(chars))]


def ner_baseline(train, eval_):
    """Entity P/R/F1 of a ±2-character-window logistic-regression tagger; `(chars, tags)`."""
    vectorizer = DictVectorizer()
    x_train = vectorizer.fit_transform(f for chars, _ in train for f in _window_features(chars))
    classifier = LogisticRegression(max_iter=300, C=4.0)
    classifier.fit(x_train, [tag for _, tags in train for tag in tags])
    predicted = [list(classifier.predict(vectorizer.transform(_window_features(chars))))
                 for chars, _ in eval_]
    scores = entity_scores([tags for _, tags in eval_], predicted)
    return {"eval_f1": scores["f1"], "eval_precision": scores["precision"],
            "eval_recall": scores["recall"]}
