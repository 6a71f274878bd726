"""Metrics: entity extraction and scores as seqeval 1.2.2 counts them (expected values below
were produced by seqeval, scikit-learn and scipy), macro-F1, Pearson and Spearman."""

import math

import pytest

from tfbert.tasks.classification import metrics as class_metrics
from tfbert.tasks.ner import metrics as ner_metrics

# (tags, entities as seqeval's get_entities gives them, end made exclusive)
SEQEVAL_CASES = [
    (["I-PER", "I-PER", "O"], [("PER", 0, 2)]),  # I- without B- starts an entity
    (["O", "I-LOC", "I-LOC"], [("LOC", 1, 3)]),  # I- after O, entity at the end
    (["B-PER", "I-LOC", "I-LOC", "O"], [("PER", 0, 1), ("LOC", 1, 3)]),  # type change
    (["B-PER", "B-PER", "I-PER"], [("PER", 0, 1), ("PER", 1, 3)]),  # B- after B- splits
    (["B-ORG", "I-ORG", "I-ORG"], [("ORG", 0, 3)]),
    (["O", "O", "B-LOC"], [("LOC", 2, 3)]),  # single-token entity at the end
    (
        ["B-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"],
        [("PER", 0, 2), ("LOC", 3, 4), ("LOC", 4, 5), ("ORG", 5, 6)],
    ),
    (
        ["I-ORG", "B-ORG", "I-PER", "I-PER", "O", "I-ORG"],
        [("ORG", 0, 1), ("ORG", 1, 2), ("PER", 2, 4), ("ORG", 5, 6)],
    ),
    ([], []),
    (["O", "O"], []),
    # IOBES, which seqeval's default mode also reads.
    (["S-A", "B-A", "E-A", "E-A", "I-B"], [("A", 0, 1), ("A", 1, 3), ("A", 3, 4), ("B", 4, 5)]),
]


@pytest.mark.parametrize("tags,expected", SEQEVAL_CASES)
def test_get_entities_matches_seqeval(tags, expected):
    assert ner_metrics.get_entities(tags) == expected


def test_get_entities_rejects_malformed_tags():
    with pytest.raises(ValueError, match=r"tag 'PER' at position 1"):
        ner_metrics.get_entities(["O", "PER"])
    with pytest.raises(ValueError, match=r"tag 'B-' at position 0"):
        ner_metrics.get_entities(["B-"])


def test_entity_scores_match_seqeval():
    true = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "I-ORG", "I-ORG"], ["I-LOC", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["O", "B-ORG", "I-ORG", "O"], ["B-LOC", "O"]]
    scores = ner_metrics.entity_scores(true, pred)
    # seqeval: precision 0.5, recall 0.5, f1 0.5
    assert (scores["precision"], scores["recall"], scores["f1"]) == (0.5, 0.5, 0.5)
    assert scores["per_type"]["PER"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    assert scores["per_type"]["ORG"]["support"] == 1
    assert scores["per_type"]["ORG"]["precision"] == 0.0
    assert scores["per_type"]["LOC"]["recall"] == 0.5


def test_entity_scores_do_not_join_entities_across_sentences():
    # "I-PER" opening sentence 2 is a new entity, not the continuation of sentence 1's.
    scores = ner_metrics.entity_scores([["B-PER"], ["I-PER"]], [["B-PER"], ["I-PER"]])
    assert scores["f1"] == 1.0


def test_entity_scores_zero_division_is_zero():
    scores = ner_metrics.entity_scores([["O", "O"]], [["O", "O"]])
    assert (scores["precision"], scores["recall"], scores["f1"]) == (0.0, 0.0, 0.0)
    assert scores["per_type"] == {}


def test_entity_scores_errors():
    with pytest.raises(ValueError, match=r"`true_tags` has 2 sentences but `pred_tags` has 1"):
        ner_metrics.entity_scores([["O"], ["O"]], [["O"]])
    with pytest.raises(ValueError, match=r"sentence 1: 1 true tags but 2 predicted tags"):
        ner_metrics.entity_scores([["O"], ["O"]], [["O"], ["O", "O"]])
    with pytest.raises(ValueError, match=r"tag 'X'"):
        ner_metrics.entity_scores([["X"]], [["O"]])


def test_macro_f1_matches_sklearn():
    assert class_metrics.macro_f1([0, 0, 1, 2], [0, 1, 1, 2]) == pytest.approx(0.7777777777777777)
    # A class only predicted ("c") counts with F1 0, as in sklearn.
    assert class_metrics.macro_f1(["a", "a", "b"], ["a", "c", "b"]) == pytest.approx(0.5555555555555555)
    assert class_metrics.macro_f1([], []) == 0.0


def test_macro_f1_errors():
    with pytest.raises(ValueError, match=r"must be 1-D and the same length"):
        class_metrics.macro_f1([0, 1], [0])


def test_pearson_and_spearman_match_scipy():
    x, y = [1, 2, 2, 3, 5, 8], [2, 1, 4, 4, 9, 7]
    assert class_metrics.pearson(x, y) == pytest.approx(0.7812170937796872)
    assert class_metrics.spearman(x, y) == pytest.approx(0.8088235294117647)  # with ties
    assert class_metrics.spearman([1, 2, 3], [10, 20, 1000]) == pytest.approx(1.0)
    assert class_metrics.pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


def test_correlation_of_constant_input_is_nan():
    assert math.isnan(class_metrics.pearson([1, 1, 1], [1, 2, 3]))
    assert math.isnan(class_metrics.spearman([1, 2, 3], [4, 4, 4]))


def test_correlation_errors():
    with pytest.raises(ValueError, match=r"at least 2 long"):
        class_metrics.pearson([1], [1])
    with pytest.raises(ValueError, match=r"the same length"):
        class_metrics.spearman([1, 2, 3], [1, 2])
