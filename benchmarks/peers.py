"""The peer implementations benchmarks compare against, built at the same size.

keras-hub is a project requirement; the Hugging Face builders import `transformers` (and with
it PyTorch) only when called: those live in `requirements-bench.txt`.
"""

import keras_hub


def keras_hub_backbone(config):
    """keras-hub's `BertBackbone` with the sizes of a `tfbert.BertConfig`."""
    return keras_hub.models.BertBackbone(
        vocabulary_size=config.vocab_size, num_layers=config.num_hidden_layers,
        num_heads=config.num_attention_heads, hidden_dim=config.hidden_size,
        intermediate_dim=config.intermediate_size, dropout=config.hidden_dropout_prob,
        max_sequence_length=config.max_position_embeddings,
        num_segments=config.type_vocab_size)


def keras_hub_text_classifier(config, vocab_file, sequence_length, num_classes=2):
    """keras-hub's `BertTextClassifier` on raw strings: `BertTokenizer` on `vocab_file`
    (lower-cased, as the project's learned vocabularies are), `BertTextClassifierPreprocessor`
    padding to `sequence_length`, a `BertBackbone` of `config`'s size; compiled with the
    task's defaults."""
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocab_file, lowercase=True)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer, sequence_length=sequence_length)
    return keras_hub.models.BertTextClassifier(
        keras_hub_backbone(config), num_classes=num_classes, preprocessor=preprocessor)


def hf_classifier(config, labels):
    """`transformers.BertForSequenceClassification` of `config`'s size, freshly initialised,
    with `labels` (list of str) as its label names."""
    import transformers
    hf_config = transformers.BertConfig(
        vocab_size=config.vocab_size, hidden_size=config.hidden_size,
        num_hidden_layers=config.num_hidden_layers,
        num_attention_heads=config.num_attention_heads,
        intermediate_size=config.intermediate_size, hidden_act=config.hidden_act,
        hidden_dropout_prob=config.hidden_dropout_prob,
        attention_probs_dropout_prob=config.attention_probs_dropout_prob,
        max_position_embeddings=config.max_position_embeddings,
        type_vocab_size=config.type_vocab_size, layer_norm_eps=config.layer_norm_eps,
        num_labels=len(labels), id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)})
    return transformers.BertForSequenceClassification(hf_config)


def hf_tokenizer(vocab_file, max_length):
    """Hugging Face's Rust `BertTokenizerFast` on the same vocabulary, cut at `max_length`."""
    import transformers
    return transformers.BertTokenizerFast(vocab_file=vocab_file, do_lower_case=True,
                                          model_max_length=max_length)
