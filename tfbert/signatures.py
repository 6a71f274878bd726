"""The serving signatures of a fine-tuning run (or, for sentence embeddings, of a checkpoint):
each task's own, in `tfbert/tasks/<task>/serving.py`. Used by `export.saved_model`,
`export.tflite` and `tfbert.Predictor` (which serves a run directory with the same functions)."""

from tfbert.tasks.classification.serving import ClassificationSignatures
from tfbert.tasks.embedding.checkpoint import load_sentence_embedder
from tfbert.tasks.embedding.serving import EmbeddingSignatures
from tfbert.tasks.ner.serving import NerSignatures
from tfbert.tasks.squad.serving import SquadSignatures
from tfbert.tokenization import BertTokenizer
from tfbert.training.run_dir import load_run

TASK_SIGNATURES = {"classification": ClassificationSignatures,
                   "regression": ClassificationSignatures,
                   "ner": NerSignatures,
                   "squad": SquadSignatures,
                   "embedding": EmbeddingSignatures}


def task_signatures(model, tokenizer, info, on_device=False):
    """The `TaskSignatures` of a run's model; `info` is its `task.json` dict."""
    if info["task"] not in TASK_SIGNATURES:
        raise ValueError(f"task.json: task {info['task']!r} has no serving signature "
                         "(export classification, regression, ner or squad runs).")
    return TASK_SIGNATURES[info["task"]](model, tokenizer, info, on_device=on_device)


def load_serving_functions(model_dir, normalizer=None, on_device=False):
    """The `TaskSignatures` of a fine-tuning run; `normalizer` overrides the recorded one."""
    model, vocab_file, info = load_run(model_dir)
    return task_signatures(model, BertTokenizer(vocab_file, normalizer=normalizer), info,
                           on_device=on_device)


def load_embedding_functions(checkpoint, max_seq_length=None, normalizer=None, on_device=False):
    """The embedding `TaskSignatures` of a pretrained checkpoint (no fine-tuning run needed);
    `max_seq_length` overrides the checkpoint's `sentence_bert_config.json`."""
    model, tokenizer, info = load_sentence_embedder(checkpoint, max_seq_length, normalizer)
    return task_signatures(model, tokenizer, info, on_device=on_device)
