"""One folder per task: features (text -> inputs, labels), run (train / evaluate / predict),
metrics, postprocess and the serving signature the exporter asks for."""
