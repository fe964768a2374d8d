"""The field-service sections of master data: technicians, their shifts and absences.

==========================  ============================================================
``technicians``             technician_id*, name*, home_base*, home_latitude*,
                            home_longitude*, skills* (``;``-separated; ``MODEL`` for every
                            failure mode of an asset model, ``MODEL:failure_mode`` for one),
                            timezone (of the shifts; default UTC)
``technician_shifts``       technician_id*, weekday* (mon..sun or 1..7), starts*, ends*
                            (``HH:MM``, local time, ends after starts)
``technician_absences``     technician_id*, first_day*, last_day* (ISO dates), reason
==========================  ============================================================

Sites gain ``latitude``, ``longitude`` (both or neither), ``response_hours`` and
``restore_hours`` (the contract's clocks) in the ``sites`` section.

Rejected (with file and row): a technician without skills, a skill naming an unknown asset
model or failure mode, a shift or absence of an unknown technician, two shifts of one
technician that overlap on a weekday, two absences that overlap, a site with only one
coordinate. The loader replaces a technician's skills, and the shifts and absences of every
technician the shifts or absences file mentions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date, time
from itertools import pairwise
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg

from assetwatch.service.errors import Problem

__all__ = ["CONVERTERS", "CREW_KEYS", "CREW_SECTIONS", "WEEKDAYS", "check_crew", "write_crew"]

#: section -> (required columns, optional columns)
CREW_SECTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "technicians": (("technician_id", "name", "home_base", "home_latitude", "home_longitude"),
                    ("skills", "timezone")),
    "technician_shifts": (("technician_id", "weekday", "starts", "ends"), ()),
    "technician_absences": (("technician_id", "first_day", "last_day"), ("reason",)),
}
CREW_KEYS: dict[str, tuple[str, ...]] = {
    "technicians": ("technician_id",),
    "technician_shifts": ("technician_id", "weekday", "starts"),
    "technician_absences": ("technician_id", "first_day"),
}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ANY_FAILURE_MODE = "*"


class _Row(Protocol):
    file: str
    row: int | str
    values: dict[str, Any]


def _degrees(limit: float) -> Callable[[str], float]:
    def convert(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
        if not -limit <= value <= limit:
            raise ValueError(f"{value} is outside -{limit:g}..{limit:g} degrees")
        return value
    return convert


def _hours(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number of hours") from None
    if not 0 < value < float("inf"):
        raise ValueError(f"{text} must be a positive number of hours")
    return value


def _weekday(text: str) -> int:
    lowered = text.strip().lower()[:3]
    if lowered in WEEKDAYS:
        return WEEKDAYS.index(lowered) + 1
    if lowered.isdigit() and 1 <= int(lowered) <= 7:
        return int(lowered)
    raise ValueError(f"{text!r} is not a weekday (mon..sun or 1..7)")


def _clock(text: str) -> time:
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a time of day (HH:MM)") from None


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _timezone(text: str) -> str:
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {text!r}") from None
    return text


def _skills(text: str) -> list[tuple[str, str]]:
    skills = []
    for item in (s.strip() for s in text.split(";")):
        if item:
            model, _, mode = item.partition(":")
            skills.append((model.strip(), mode.strip() or ANY_FAILURE_MODE))
    return skills


#: column -> converter of its text (raises ValueError with the reason)
CONVERTERS: dict[str, Callable[[str], Any]] = {
    "latitude": _degrees(90), "longitude": _degrees(180),
    "home_latitude": _degrees(90), "home_longitude": _degrees(180),
    "response_hours": _hours, "restore_hours": _hours,
    "weekday": _weekday, "starts": _clock, "ends": _clock,
    "first_day": _day, "last_day": _day, "timezone": _timezone, "skills": _skills,
}


def check_crew(sections: dict[str, list[_Row]], *, models: set[str], failure_modes: set[str],
               technicians: set[str], problems: list[Problem]) -> None:
    """Append every problem of the crew sections and site coordinates to ``problems``.

    ``models``, ``failure_modes`` and ``technicians`` are what the database and the file know.
    """
    for row in sections.get("sites", []):
        if (row.values.get("latitude") is None) != (row.values.get("longitude") is None):
            problems.append(Problem(row.file, row.row, f"site {row.values['site_id']!r} needs "
                                    "both latitude and longitude"))
    for row in sections.get("technicians", []):
        who = row.values["technician_id"]
        if not row.values.get("skills"):
            problems.append(Problem(row.file, row.row, f"technician {who!r} has no skills"))
        for model, mode in row.values.get("skills") or []:
            if model not in models:
                problems.append(Problem(row.file, row.row,
                                        f"technician {who!r}: unknown asset model {model!r}"))
            if mode != ANY_FAILURE_MODE and mode not in failure_modes:
                problems.append(Problem(row.file, row.row,
                                        f"technician {who!r}: unknown failure mode {mode!r}"))
    known = technicians | {r.values["technician_id"] for r in sections.get("technicians", [])}
    for section in ("technician_shifts", "technician_absences"):
        for row in sections.get(section, []):
            if row.values["technician_id"] not in known:
                problems.append(Problem(row.file, row.row, "unknown technician "
                                        f"{row.values['technician_id']!r}"))
    _check_shifts(sections.get("technician_shifts", []), problems)
    _check_absences(sections.get("technician_absences", []), problems)


def _check_shifts(rows: list[_Row], problems: list[Problem]) -> None:
    by_day: dict[tuple[str, int], list[_Row]] = defaultdict(list)
    for row in rows:
        if row.values["ends"] <= row.values["starts"]:
            problems.append(Problem(row.file, row.row, f"shift ends at {row.values['ends']} "
                                    f"before it starts at {row.values['starts']}"))
            continue
        by_day[(row.values["technician_id"], row.values["weekday"])].append(row)
    for (who, weekday), shifts in by_day.items():
        _overlaps(sorted(shifts, key=lambda r: r.values["starts"]), "starts", "ends",
                  f"technician {who!r}: shift overlaps another on {WEEKDAYS[weekday - 1]}",
                  strict=True, problems=problems)


def _check_absences(rows: list[_Row], problems: list[Problem]) -> None:
    by_technician: dict[str, list[_Row]] = defaultdict(list)
    for row in rows:
        if row.values["last_day"] < row.values["first_day"]:
            problems.append(Problem(row.file, row.row, "absence ends before it begins"))
            continue
        by_technician[row.values["technician_id"]].append(row)
    for who, absences in by_technician.items():
        _overlaps(sorted(absences, key=lambda r: r.values["first_day"]), "first_day",
                  "last_day", f"technician {who!r}: absence overlaps another", strict=False,
                  problems=problems)


def _overlaps(rows: list[_Row], start: str, end: str, reason: str, *, strict: bool,
              problems: list[Problem]) -> None:
    for before, after in pairwise(rows):
        clash = (after.values[start] < before.values[end] if strict
                 else after.values[start] <= before.values[end])
        if clash:
            problems.append(Problem(after.file, after.row, f"{reason} (row {before.row})"))


def write_crew(cur: psycopg.Cursor, sections: dict[str, Iterable[_Row]],
               count: dict[str, int]) -> None:
    """Upsert technicians and replace their skills, shifts and absences (see module)."""
    technicians = [r.values for r in sections.get("technicians", [])]
    cur.executemany(
        "INSERT INTO technician (technician_id, name, home_base, home_latitude, home_longitude,"
        " timezone) VALUES (%(technician_id)s, %(name)s, %(home_base)s, %(home_latitude)s,"
        " %(home_longitude)s, coalesce(%(timezone)s, 'UTC')) ON CONFLICT (technician_id)"
        " DO UPDATE SET name = EXCLUDED.name, home_base = EXCLUDED.home_base,"
        " home_latitude = EXCLUDED.home_latitude, home_longitude = EXCLUDED.home_longitude,"
        " timezone = EXCLUDED.timezone", technicians)
    cur.executemany("DELETE FROM technician_skill WHERE technician_id = %s",
                    [(t["technician_id"],) for t in technicians])
    cur.executemany("INSERT INTO technician_skill (technician_id, model_id, failure_mode)"
                    " VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                    [(t["technician_id"], model, mode) for t in technicians
                     for model, mode in t["skills"] or []])
    count["technicians"] = len(technicians)
    for section, table, columns in (
            ("technician_shifts", "technician_shift", ("weekday", "starts", "ends")),
            ("technician_absences", "technician_absence", ("first_day", "last_day", "reason"))):
        rows = [r.values for r in sections.get(section, [])]
        cur.executemany(psycopg.sql.SQL("DELETE FROM {} WHERE technician_id = %s").format(
            psycopg.sql.Identifier(table)), [(w,) for w in {r["technician_id"] for r in rows}])
        cur.executemany(psycopg.sql.SQL("INSERT INTO {} (technician_id, {}) VALUES ({})").format(
            psycopg.sql.Identifier(table),
            psycopg.sql.SQL(", ").join(map(psycopg.sql.Identifier, columns)),
            psycopg.sql.SQL(", ").join(psycopg.sql.Placeholder() * (len(columns) + 1))),
            [(r["technician_id"], *(r[c] for c in columns)) for r in rows])
        count[section] = len(rows)
