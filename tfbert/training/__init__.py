"""Training: options, the fit loop with resume, evaluation during training, reports,
optimization, distribution strategies and the run directory."""
