"""The local TF-Serving-API stand-in, used by `python -m export.server` (reference §1).

`core` (versions, Servable, ModelManager, ServingError), `codec` (TensorProto <-> numpy),
`requests` (Predict, Classify, GetModelMetadata), `batching`, `rest` and `grpc` (the
services): each module imports only modules listed before it, and none imports the programs
or the exporter.
"""
