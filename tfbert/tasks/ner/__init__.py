"""Named-entity recognition (token classification): features, run, metrics, postprocess, serving."""
