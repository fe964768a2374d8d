"""The catalogue of simulated asset models (``catalogue.json``), read with the standard library.

Each asset model lists its sensors (unit, normal value, noise), its components (failure mode,
part number, Weibull life ``weibull_beta``/``weibull_eta_days``, the fraction of life at which
wear starts to show, and the wear's effect on each sensor at end of life as a fraction of the
normal value) and, optionally, planned maintenance tasks and controller error codes.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["load_catalogue", "model_spec"]


@cache
def load_catalogue() -> dict[str, Any]:
    """The parsed catalogue (cached; treat it as read-only)."""
    text = resources.files("assetwatch.sim").joinpath("catalogue.json").read_text()
    return json.loads(text)


def model_spec(model_id: str) -> dict[str, Any]:
    """One asset model of the catalogue; ``KeyError`` names unknown models."""
    models = load_catalogue()["asset_models"]
    if model_id not in models:
        raise KeyError(f"unknown asset model {model_id!r}; known: {', '.join(sorted(models))}")
    return models[model_id]
