"""From per-position tag predictions to word tags and character-offset entities."""

import numpy as np

from tfbert.tasks.ner.metrics import get_entities


def window_tags(features, class_ids, sentences, label_names):
    """Tag lists per sentence from per-position class ids [windows, seq]; unseen words `O`."""
    result = [["O"] * len(words) for words in sentences]
    rows, positions = np.nonzero(features.word >= 0)
    for row, pos in zip(rows, positions):
        result[features.sentence[row]][features.word[row, pos]] = label_names[
            int(class_ids[row, pos])]
    return result


def tagged_entities(text, spans, tags):
    """Entities of one text as dicts `{type, text, start, end}` (character offsets)."""
    entities = []
    for type_, first, last in get_entities(tags):
        start, end = spans[first][0], spans[last - 1][1]
        entities.append({"type": type_, "text": text[start:end], "start": start, "end": end})
    return entities
