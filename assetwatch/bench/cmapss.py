"""NASA C-MAPSS turbofan engines as a fleet of assets.

Each engine is an asset of the asset model ``CMAPSS-<subset>`` with one component,
``engine``; each cycle is one day of its life (one reading per sensor at the start of the
day), so remaining cycles are remaining days. The three operating settings are the model's
operating signals (``os1``-``os3``, see :mod:`assetwatch.models.prediction.regimes`), the 21
sensors ``s1``-``s21`` its other sensors. A training engine ran to failure: its ``failure``
event is at the end of its last cycle. A test engine was cut before failure; it carries no
event, and its true remaining cycles stay in ``RUL_<subset>.txt`` until
:func:`read_true_rul` is called.

Files are space-separated: unit, cycle, 3 operating settings, 21 sensors; cycles of a unit
consecutive from 1. :func:`read_engines` checks every line and raises :class:`CmapssError`
naming the file and line of the first thing that is not so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from assetwatch.core.rollup import refresh_rollup_range
from assetwatch.models.prediction.errors import PredictionError

__all__ = ["COMPONENT", "SENSORS", "SIGNALS", "CmapssError", "Engine", "load_engines",
           "read_engines", "read_true_rul"]

SIGNALS = ("os1", "os2", "os3")
SENSORS = tuple(f"s{i}" for i in range(1, 22))
COMPONENT = "engine"
_FIELDS = 2 + len(SIGNALS) + len(SENSORS)
_DAY = timedelta(days=1)


class CmapssError(PredictionError):
    """A C-MAPSS file is missing or not in the data set's format."""


@dataclass(frozen=True)
class Engine:
    """One engine's cycles: ``readings[i]`` are the 24 values of cycle ``i + 1``."""

    unit: int
    readings: tuple[tuple[float, ...], ...]

    @property
    def cycles(self) -> int:
        return len(self.readings)


def read_engines(path: Path) -> list[Engine]:
    """The engines of one ``train_``/``test_`` file, checked line by line."""
    if not path.is_file():
        raise CmapssError(f"C-MAPSS file not found: {path}")
    engines: dict[int, list[tuple[float, ...]]] = {}
    with path.open() as handle:
        for line_no, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != _FIELDS:
                raise CmapssError(f"{path} line {line_no}: {len(fields)} values, expected "
                                  f"{_FIELDS} (unit, cycle, 3 settings, 21 sensors)")
            try:
                unit, cycle = int(fields[0]), int(fields[1])
                values = tuple(float(v) for v in fields[2:])
            except ValueError:
                raise CmapssError(f"{path} line {line_no}: not a number in "
                                  f"{line.strip()[:60]!r}") from None
            if not all(math.isfinite(v) for v in values):
                raise CmapssError(f"{path} line {line_no}: a value is not finite")
            cycles = engines.setdefault(unit, [])
            if cycle != len(cycles) + 1:
                raise CmapssError(f"{path} line {line_no}: unit {unit} cycle {cycle} follows "
                                  f"cycle {len(cycles)} (cycles must run 1, 2, 3, ...)")
            cycles.append(values)
    if not engines:
        raise CmapssError(f"{path}: no engine in the file")
    return [Engine(unit, tuple(rows)) for unit, rows in sorted(engines.items())]


def read_true_rul(path: Path, engines: int) -> list[float]:
    """The true remaining cycles of the test engines, one per line, in unit order."""
    if not path.is_file():
        raise CmapssError(f"C-MAPSS file not found: {path}")
    values = []
    with path.open() as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                values.append(float(line.split()[0]))
            except ValueError:
                raise CmapssError(f"{path} line {line_no}: {line.strip()[:40]!r} is not a "
                                  "number of cycles") from None
    if len(values) != engines:
        raise CmapssError(f"{path}: {len(values)} remaining lives for {engines} test engines")
    return values


def load_engines(conn: psycopg.Connection, engines: list[Engine], *, subset: str, site: str,
                 start: datetime | None = None, end: datetime | None = None,
                 failed: bool, regimes: int | None = None) -> dict[int, int]:
    """Register ``engines`` as assets of ``CMAPSS-<subset>`` at ``site`` and write their
    readings (one day per cycle) and, with ``failed``, a failure at the end of each life.
    Engines start together at ``start``, or end together at ``end`` (test engines, scored at
    ``end``). ``regimes`` sets the model's operating regimes. Returns unit -> asset_id."""
    from assetwatch.core.asset_registry import AssetSpec, register_fleet

    if (start is None) == (end is None):
        raise ValueError("give start or end")
    model_id = f"CMAPSS-{subset}"
    starts: dict[int, datetime] = {
        e.unit: start if start is not None else end - e.cycles * _DAY  # type: ignore[operator,misc]
        for e in engines}
    ids = register_fleet(
        conn, [(site, f"C-MAPSS {subset} {site.lower()}", "NASA", 48)],
        [(model_id, "turbofan", None)],
        [AssetSpec(f"{site}-{e.unit:03d}", site, model_id,
                   [(name, "") for name in (*SIGNALS, *SENSORS)],
                   commissioned_on=_day(starts[e.unit])) for e in engines])
    asset_of = {e.unit: ids[f"{site}-{e.unit:03d}"] for e in engines}
    conn.execute("INSERT INTO component_type (component_type) VALUES (%s) ON CONFLICT DO NOTHING",
                 (COMPONENT,))
    if regimes is not None:
        conn.execute("INSERT INTO asset_model_regime (model_id, signals, regimes)"
                     " VALUES (%s, %s, %s) ON CONFLICT (model_id) DO UPDATE"
                     " SET signals = EXCLUDED.signals, regimes = EXCLUDED.regimes",
                     (model_id, list(SIGNALS), regimes))
    sensor_of = {(a, n): s for s, a, n in conn.execute(
        "SELECT sensor_id, asset_id, name FROM sensor WHERE asset_id = ANY(%s)",
        (list(asset_of.values()),))}
    names = (*SIGNALS, *SENSORS)
    with conn.cursor() as cur, cur.copy(
            "COPY telemetry (time, asset_id, sensor_id, value) FROM STDIN (FORMAT BINARY)") as cp:
        cp.set_types(["timestamptz", "integer", "integer", "double precision"])
        for e in engines:
            asset_id = asset_of[e.unit]
            for i, values in enumerate(e.readings):
                at = starts[e.unit] + i * _DAY
                for name, value in zip(names, values, strict=True):
                    cp.write_row((at, asset_id, sensor_of[asset_id, name], value))
    rows: list[tuple[Any, ...]] = [(asset_of[e.unit], COMPONENT, f"{site}-{e.unit:03d}-E",
                                    starts[e.unit]) for e in engines]
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO installed_component (asset_id, component_type, serial_no,"
                        " valid_from) VALUES (%s, %s, %s, %s)", rows)
        if failed:
            cur.executemany(
                "INSERT INTO asset_event (event_id, asset_id, time, kind, component_type,"
                " source) VALUES (%s, %s, %s, 'failure', %s, 'import')",
                [(f"cmapss-{subset}-{site}-{e.unit}", asset_of[e.unit],
                  starts[e.unit] + e.cycles * _DAY, COMPONENT) for e in engines])
    first = min(starts.values())
    last = max(starts[e.unit] + e.cycles * _DAY for e in engines)
    # loaded without the ingest ledger: the hourly rollup learns of the readings here
    refresh_rollup_range(conn, first, last)
    # a bulk load: the planner learns of the new rows now, not at autovacuum's next pass (the
    # score flow's regime join on stale statistics ran for minutes instead of a second)
    conn.execute("ANALYZE telemetry_hourly")
    return asset_of


def _day(at: datetime) -> date:
    return at.date()
