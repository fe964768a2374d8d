"""Models: streaming anomaly detectors (river) and failure predictors (scikit-learn)."""
