"""Export: SavedModel (TF Serving layout), TF-Serving-compatible server and client, TFLite."""
