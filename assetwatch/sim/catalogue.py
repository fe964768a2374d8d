"""The catalogue of simulated asset models (``catalogue.json``), read with the standard library.

Each asset model lists its sensors (unit, normal value at nominal load, noise, how the value
follows the load, its value at standstill, its start-up transient), its components (the part
that replaces them, the *datasheet* Weibull life ``weibull_beta``/``weibull_eta_days``, a
controller error code) with their failure modes (share of the component's failures, the
parts a repair of that mode needs, the wear's effect on each sensor at end of life as a
fraction of the normal value, the planned tasks that renew it) and planned maintenance tasks.

The catalogue is the one source of the simulated equipment: the sample master data
(``assetwatch/service/sample``) names the same parts, failure modes and datasheet lives.
The simulator's *true* lives differ from the datasheet (:func:`~assetwatch.sim.world.
true_life`).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["failure_modes", "load_catalogue", "model_spec"]


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


def failure_modes(model_id: str, component_type: str) -> dict[str, dict[str, Any]]:
    """``failure_mode -> {share, parts, effects, restored_by?}`` of one component of a model."""
    return model_spec(model_id)["components"][component_type]["failure_modes"]
