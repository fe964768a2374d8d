"""Technicians as the planner sees them: where they start, what they can fix, when they work.

A skill is (asset model, failure mode) with ``*`` for every failure mode of the model.
Working windows come from the weekly shifts in the technician's time zone, minus the days of
absence, clipped to the planning horizon, in UTC.

>>> from datetime import time
>>> t = Technician("T1", "Ana", (48.1, 11.6), "UTC", frozenset({("CP-200", "*")}),
...                ((1, time(8), time(16)),), ())
>>> t.can_do("CP-200", "bearing_wear"), t.can_do("SC-75", None)
(True, False)
>>> [(a.isoformat(), b.isoformat()) for a, b in t.windows(
...     datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC))]
[('2026-03-02T08:00:00+00:00', '2026-03-02T16:00:00+00:00')]
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg

from assetwatch.service.errors import DispatchError
from assetwatch.service.field.geo import Place

__all__ = ["Technician", "load_crew"]

#: (ISO weekday, starts, ends) in the technician's local time
Shift = tuple[int, time, time]


@dataclass(frozen=True)
class Technician:
    """One technician: home base, skills, weekly shifts and absences (first, last day)."""

    technician_id: str
    name: str
    home: Place
    timezone: str
    skills: frozenset[tuple[str, str]]
    shifts: tuple[Shift, ...]
    absences: tuple[tuple[date, date], ...]

    def can_do(self, model_id: str, failure_mode: str | None) -> bool:
        """Whether the technician may work on this model (and failure mode; ``None``:
        preventive work, any skill on the model)."""
        if failure_mode is None:
            return any(model == model_id for model, _ in self.skills)
        return (model_id, "*") in self.skills or (model_id, failure_mode) in self.skills

    def windows(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """Working windows in ``[start, end)``, in UTC, in time order."""
        zone = ZoneInfo(self.timezone)
        out = []
        day = start.astimezone(zone).date() - timedelta(days=1)
        while day <= end.astimezone(zone).date():
            if not any(first <= day <= last for first, last in self.absences):
                for weekday, starts, ends in self.shifts:
                    if weekday == day.isoweekday():
                        a = datetime.combine(day, starts, zone).astimezone(UTC)
                        b = datetime.combine(day, ends, zone).astimezone(UTC)
                        a, b = max(a, start), min(b, end)
                        if a < b:
                            out.append((a, b))
            day += timedelta(days=1)
        return sorted(out)


def load_crew(conn: psycopg.Connection, only: list[str] | None = None) -> list[Technician]:
    """Every technician (or those named in ``only``; an unknown name is a
    :class:`DispatchError`)."""
    rows = conn.execute("SELECT technician_id, name, home_latitude, home_longitude, timezone"
                        " FROM v_technician ORDER BY technician_id").fetchall()
    known = {r[0] for r in rows}
    unknown = sorted(set(only or ()) - known)
    if unknown:
        raise DispatchError(f"unknown technician {', '.join(map(repr, unknown))}; known: "
                            f"{', '.join(sorted(known)) or 'none (load technicians.csv)'}")
    skills: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for who, model, mode in conn.execute(
            "SELECT technician_id, model_id, failure_mode FROM v_technician_skill"):
        skills[who].add((model, mode))
    shifts: dict[str, list[Shift]] = defaultdict(list)
    for who, weekday, starts, ends in conn.execute(
            "SELECT technician_id, weekday, starts, ends FROM v_technician_shift"
            " ORDER BY weekday, starts"):
        shifts[who].append((weekday, starts, ends))
    absences: dict[str, list[tuple[date, date]]] = defaultdict(list)
    for who, first, last in conn.execute(
            "SELECT technician_id, first_day, last_day FROM v_technician_absence"):
        absences[who].append((first, last))
    return [Technician(who, name, (lat, lon), zone, frozenset(skills[who]),
                       tuple(shifts[who]), tuple(absences[who]))
            for who, name, lat, lon, zone in rows if not only or who in only]
