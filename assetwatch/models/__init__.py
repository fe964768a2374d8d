"""Models: streaming anomaly detectors (river) and failure predictors (scikit-learn).

- :mod:`.detectors` -- the detector algorithms behind one contract;
- :mod:`.monitoring` -- running them over the stream (worker, scores, alarm events);
- :mod:`.prediction` -- failure predictors: features, estimators, the model registry,
  training and scoring.
"""
