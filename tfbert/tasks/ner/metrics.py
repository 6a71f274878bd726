"""Entity-level NER scores in Python.

Entity scores count exactly as `seqeval` does in its default mode (conlleval rules): an
`I-X` after `O` or after another type starts an entity, and a type change ends one. They
are checked against `seqeval` 1.2.2 in tests; seqeval itself is not a dependency.
"""

from tfbert.data.tags import split_tag
from tfbert.tasks.scores import precision_recall_f1


def get_entities(tags):
    """Returns the entities of one tag sequence as `(type, start, end)`, `end` exclusive.

    Tags are `O` or `PREFIX-TYPE` with PREFIX in B, I (and E, S for IOBES input, which
    seqeval's default mode also reads). Rules (conlleval, as seqeval's `get_entities`): an
    entity starts at `B-`/`S-`, at `I-`/`E-` after `O` or after an entity's end, and at
    any tag whose type differs from the previous tag's; it ends before `O`, `B-`, `S-`, a
    type change, or after `E-`/`S-`.

    Args:
        tags: sequence of str.

    Raises:
        ValueError: on a tag that is neither `O` nor `PREFIX-TYPE`.

    Example:
    >>> get_entities(["B-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"])
    [('PER', 0, 2), ('LOC', 3, 4), ('LOC', 4, 5), ('ORG', 5, 6)]
    """
    entities = []
    prev_prefix, prev_type, begin = "O", "", 0
    for i, tag in enumerate(list(tags) + ["O"]):
        parts = split_tag(tag)
        if parts is None:
            raise ValueError(
                f"tag {tag!r} at position {i} is not `O` or `B-TYPE`/`I-TYPE` (or `E-`/`S-`)"
            )
        prefix, type_ = parts
        ends = (
            prev_prefix in "ES"
            or (prev_prefix in "BI" and prefix in "BSO")
            or (prev_prefix != "O" and prev_type != type_)
        )
        if ends:
            entities.append((prev_type, begin, i))
        starts = (
            prefix in "BS"
            or (prev_prefix in "ESO" and prefix in "EI")
            or (prefix != "O" and prev_type != type_)
        )
        if starts:
            begin = i
        prev_prefix, prev_type = prefix, type_
    return entities


def entity_scores(true_tags, pred_tags):
    """Entity-level precision, recall and F1 over sentences, as `seqeval` counts them.

    An entity is correct when its type, start and end all match (micro average over
    all entities, seqeval's default `f1_score`; 0.0 where a ratio is 0/0).

    Args:
        true_tags: list of tag sequences (one per sentence).
        pred_tags: list of tag sequences, each as long as its `true_tags` counterpart.

    Returns:
        dict with float `precision`, `recall`, `f1`, and `per_type`: `{type: {"precision",
        "recall", "f1", "support"}}` (support: number of true entities of that type).

    Raises:
        ValueError: if the numbers of sentences or the lengths of a sentence differ, or on
            a malformed tag.

    Example:
    >>> entity_scores([["B-PER", "I-PER", "O"]], [["B-PER", "O", "O"]])["f1"]
    0.0
    """
    if len(true_tags) != len(pred_tags):
        raise ValueError(
            f"`true_tags` has {len(true_tags)} sentences but `pred_tags` has {len(pred_tags)}"
        )
    true_set, pred_set = set(), set()
    for n, (true, pred) in enumerate(zip(true_tags, pred_tags)):
        if len(true) != len(pred):
            raise ValueError(
                f"sentence {n}: {len(true)} true tags but {len(pred)} predicted tags"
            )
        true_set.update((n,) + entity for entity in get_entities(true))
        pred_set.update((n,) + entity for entity in get_entities(pred))
    correct = true_set & pred_set
    precision, recall, f1 = precision_recall_f1(len(correct), len(pred_set), len(true_set))
    per_type = {}
    for type_ in sorted({e[1] for e in true_set | pred_set}):
        correct_n, predicted_n, true_n = (sum(1 for e in entities if e[1] == type_)
                                          for entities in (correct, pred_set, true_set))
        p, r, f = precision_recall_f1(correct_n, predicted_n, true_n)
        per_type[type_] = {"precision": p, "recall": r, "f1": f, "support": true_n}
    return {"precision": precision, "recall": recall, "f1": f1, "per_type": per_type}
