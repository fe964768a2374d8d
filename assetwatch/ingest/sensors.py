"""Which sensors an asset may report, and the sensor ids its readings are stored under.

Sensors belong to the asset model: ``model_sensor`` declares each model's sensors (with their
units), and an asset's ``sensor`` rows are created from those declarations when the asset is
registered or, for a sensor declared later, when its first reading arrives. A reading for a
sensor its asset's model does not declare is refused (the writer dead-letters the whole
message, naming the sensors), unless the model has ``allow_new_sensors``: then the sensor is
registered on first sight, without a unit.

:class:`SensorCatalog` caches both the models' declarations and the assets' sensor ids for
one writer. A name the cache does not know makes it read the model again, so a sensor
declared while ingest runs is accepted from then on without a restart (and dead letters
replayed after declaring it are ingested).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

__all__ = ["SensorCatalog", "undeclared_reason"]

#: Sensors named in a dead-letter reason, at most.
_NAMED = 5


@dataclass(slots=True)
class _Model:
    declared: frozenset[str]
    allow_new: bool


def undeclared_reason(model_id: str, names: Sequence[str]) -> str:
    """The dead-letter reason of a batch with sensors its model does not declare."""
    shown = ", ".join(repr(n) for n in names[:_NAMED])
    more = f" and {len(names) - _NAMED} more" if len(names) > _NAMED else ""
    return (f"undeclared sensor(s) of asset model {model_id!r}: {shown}{more} (declare them "
            "in the model's sensors, or allow new sensors on the model)")


class SensorCatalog:
    """Sensor policy and sensor ids, cached; every method runs in the caller's transaction."""

    def __init__(self) -> None:
        self._models: dict[str, _Model] = {}
        self._ids: dict[int, dict[str, int]] = {}  # asset_id -> name -> sensor_id

    def undeclared(self, cur: psycopg.Cursor, asset_id: int, model_id: str,
                   names: Sequence[str]) -> list[str]:
        """The names among ``names`` that ``model_id`` neither declares nor allows."""
        known = self._ids.get(asset_id, {})
        missing = [n for n in names if n not in known]
        if not missing:
            return []
        model = self._models.get(model_id)
        if model is None or not (model.allow_new or model.declared.issuperset(missing)):
            model = self._load_model(cur, model_id)  # it may have changed since we read it
        if model.allow_new:
            return []
        return [n for n in missing if n not in model.declared]

    def ids(self, cur: psycopg.Cursor, wanted: Sequence[tuple[int, Sequence[str]]],
            registered: dict[int, dict[str, int]]) -> dict[int, dict[str, int]]:
        """``asset_id -> {name -> sensor_id}`` covering every ``(asset_id, names)`` wanted.

        Sensors not registered yet for their asset are registered (unit from the model).
        Their ids are put in ``registered``, to be passed to :meth:`remember` once the
        transaction has committed (a rolled-back registration must not stay cached).
        """
        missing: set[tuple[int, str]] = set()
        for asset_id, names in wanted:
            known = self._ids.get(asset_id, {})
            missing.update((asset_id, n) for n in names if n not in known)
        ids = {asset_id: self._ids.get(asset_id, {}) for asset_id, _ in wanted}
        if not missing:
            return ids
        ids = {asset_id: dict(names) for asset_id, names in ids.items()}
        asset_col, name_col = zip(*sorted(missing), strict=True)
        args = (list(asset_col), list(name_col))
        cur.execute(
            "INSERT INTO sensor (asset_id, name, unit)"
            " SELECT v.asset_id, v.name, ms.unit"
            " FROM unnest(%s::int4[], %s::text[]) AS v(asset_id, name)"
            " JOIN asset a ON a.asset_id = v.asset_id"
            " LEFT JOIN model_sensor ms ON ms.model_id = a.model_id AND ms.sensor = v.name"
            " ORDER BY v.asset_id, v.name"
            " ON CONFLICT (asset_id, name) DO NOTHING", args)
        for asset_id, name, sensor_id in cur.execute(
            "SELECT s.asset_id, s.name, s.sensor_id FROM sensor s"
            " JOIN unnest(%s::int4[], %s::text[]) AS v(asset_id, name)"
            " ON s.asset_id = v.asset_id AND s.name = v.name", args
        ):
            ids[asset_id][name] = sensor_id
            registered.setdefault(asset_id, {})[name] = sensor_id
        return ids

    def remember(self, registered: dict[int, dict[str, int]]) -> None:
        """Cache sensor ids whose registration has committed."""
        for asset_id, names in registered.items():
            self._ids.setdefault(asset_id, {}).update(names)

    def _load_model(self, cur: psycopg.Cursor, model_id: str) -> _Model:
        row = cur.execute("SELECT allow_new_sensors FROM asset_model WHERE model_id = %s",
                          (model_id,)).fetchone()
        declared = frozenset(r[0] for r in cur.execute(
            "SELECT sensor FROM model_sensor WHERE model_id = %s", (model_id,)))
        model = _Model(declared, bool(row and row[0]))
        self._models[model_id] = model
        return model
