"""Attention probabilities of a `BertEncoder`, for interpretability (opt-in).

`encoder_attention(encoder, inputs)` runs the encoder's own layers (shared weights, nothing
copied) and returns the last hidden states plus every layer's attention probabilities. The
encoder itself, its outputs, config and weights are unchanged.
"""

from keras import ops


def encoder_attention(encoder, inputs):
    """Runs `encoder` on `inputs` and returns its attention probabilities with its output.

    The encoder's own layers run again with `return_attention_scores=True` (same weights,
    inference mode). A functional model cannot share them for this: Keras fixes a layer's
    output structure at its first call, which returns no scores.

    Args:
        encoder: `tfbert.models.BertEncoder` (a task model's `.encoder` works too).
        inputs: dict of `token_ids`, `segment_ids`, `padding_mask`, int32 [batch, seq].

    Returns:
        dict: `sequence_output` float [batch, seq, hidden] (equal to the encoder's) and
        `attention_probs` float32 [batch, layers, heads, seq, seq]: for each layer and head, the
        softmax over keys of each query (rows sum to 1 over the non-padding keys; padding keys
        get 0), before attention dropout.

    Example:
    >>> encoder = BertEncoder(vocab_size=99, hidden_size=12, num_layers=2, num_heads=3,
    ...                       intermediate_size=37)
    >>> ids = keras.ops.ones((3, 7), "int32")
    >>> encoder_attention(encoder, {"token_ids": ids, "segment_ids": ids * 0,
    ...                             "padding_mask": ids})["attention_probs"].shape
    (3, 2, 3, 7, 7)
    """
    x = encoder.embeddings(inputs["token_ids"], inputs["segment_ids"], training=False)
    attention_mask = ops.expand_dims(ops.cast(inputs["padding_mask"], "bool"), 1)  # [b, 1, s]
    probabilities = []
    for layer in encoder.transformer_layers:
        x, layer_probabilities = layer(x, attention_mask, training=False,
                                       return_attention_scores=True)
        probabilities.append(ops.cast(layer_probabilities, "float32"))  # [b, heads, s, s]
    return {"sequence_output": x, "attention_probs": ops.stack(probabilities, axis=1)}
