"""Failure prediction: features from TimescaleDB, scikit-learn models, the model registry.

Modules, one idea each:

- :mod:`.features` -- windowed features per (asset, component, snapshot time), computed in SQL.
- :mod:`.validation` -- labels, the time-aware split and the validation metrics.
- :mod:`.estimators` -- the learned model and the Weibull prior model (same ``predict``).
- :mod:`.lives` -- datasheet lives from master data (the priors).
- :mod:`.model_registry` -- model versions in the ``model_version`` table and the promotion rule.
- :mod:`.training` -- ``train_models``: build the training set, fit, validate, register.
- :mod:`.scoring` -- ``score_assets``: current models -> ``failure_prediction`` rows.
- :mod:`.evaluation` -- precision, recall and warning lead time against recorded failures.

Import the submodules directly; this package imports nothing heavy.
"""
