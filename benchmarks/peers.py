"""The peer implementations benchmarks compare against, built at the same size."""

import keras_hub


def keras_hub_backbone(config):
    """keras-hub's `BertBackbone` with the sizes of a `tfbert.BertConfig`."""
    return keras_hub.models.BertBackbone(
        vocabulary_size=config.vocab_size, num_layers=config.num_hidden_layers,
        num_heads=config.num_attention_heads, hidden_dim=config.hidden_size,
        intermediate_dim=config.intermediate_size, dropout=config.hidden_dropout_prob,
        max_sequence_length=config.max_position_embeddings,
        num_segments=config.type_vocab_size)
