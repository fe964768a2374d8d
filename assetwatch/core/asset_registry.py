"""The asset registry: sites, asset models, assets and their sensors.

Registering is idempotent (``ON CONFLICT``), so a fleet definition can be loaded again.

Sensors belong to the asset model: an :class:`AssetSpec`'s sensors are declared for its model
(``model_sensor``, with their units) and registered for the asset. Ingest refuses readings
for sensors the model does not declare, unless the model is registered with
``allow_new_sensors`` (a fourth item of its tuple).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

import psycopg

from assetwatch.core.db import connect
from assetwatch.core.settings import Settings

__all__ = ["AssetSpec", "register_fleet", "registered_devices"]


@dataclass(frozen=True)
class AssetSpec:
    """One asset to register: where it is, what model it is and which sensors it has."""

    asset_tag: str
    site_id: str
    model_id: str
    sensors: Sequence[tuple[str, str | None]] = field(default_factory=tuple)  # (name, unit)
    serial_no: str | None = None
    commissioned_on: date | None = None
    criticality: int = 2


ModelRow = tuple[str, str, str | None] | tuple[str, str, str | None, bool]


def register_fleet(
    conn: psycopg.Connection,
    sites: Iterable[tuple[str, str, str | None, int]],
    models: Iterable[ModelRow],
    assets: Iterable[AssetSpec],
) -> dict[str, int]:
    """Insert sites ``(site_id, name, customer, sla_hours)``, models ``(model_id, kind,
    description[, allow_new_sensors])`` and assets with their sensors; return
    ``asset_tag -> asset_id``.

    An existing site, model or asset is kept as it is, except that a model given with
    ``allow_new_sensors`` gets that setting.
    """
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO site (site_id, name, customer, sla_hours) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (site_id) DO NOTHING",
            list(sites),
        )
        model_rows = []
        for model in models:
            allow_new = model[3] if len(model) > 3 else None  # type: ignore[misc]
            model_rows.append((*model[:3], allow_new, allow_new, allow_new))
        cur.executemany(
            "INSERT INTO asset_model (model_id, kind, description, allow_new_sensors)"
            " VALUES (%s, %s, %s, coalesce(%s::boolean, false))"
            " ON CONFLICT (model_id) DO UPDATE SET allow_new_sensors = %s::boolean"
            " WHERE %s::boolean IS NOT NULL",
            model_rows,
        )
        ids: dict[str, int] = {}
        for spec in assets:
            cur.execute(
                "INSERT INTO asset (asset_tag, site_id, model_id, serial_no, commissioned_on,"
                " criticality) VALUES (%s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (asset_tag) DO UPDATE SET asset_tag = EXCLUDED.asset_tag"
                " RETURNING asset_id",
                (spec.asset_tag, spec.site_id, spec.model_id, spec.serial_no,
                 spec.commissioned_on, spec.criticality),
            )
            row = cur.fetchone()
            assert row is not None
            ids[spec.asset_tag] = row[0]
            model_sensors = [(spec.model_id, name, unit) for name, unit in spec.sensors]
            cur.executemany(
                "INSERT INTO model_sensor (model_id, sensor, unit) VALUES (%s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                model_sensors,
            )
            cur.executemany(
                "INSERT INTO sensor (asset_id, name, unit) VALUES (%s, %s, %s)"
                " ON CONFLICT (asset_id, name) DO NOTHING",
                [(row[0], name, unit) for name, unit in spec.sensors],
            )
    return ids


def registered_devices(settings: Settings) -> list[tuple[str, str]]:
    """``(site_id, asset_tag)`` of every registered asset, for the broker's ACL."""
    with connect(settings) as conn:
        return [(r[0], r[1]) for r in conn.execute("SELECT site_id, asset_tag FROM asset")]
