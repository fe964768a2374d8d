"""Reading and validating master data: parts, kits, lead times, BOM, stock, failure modes,
asset models and the sensors they declare.

Master data comes as a directory of CSV files (one per section, named ``<section>.csv``) or as
one YAML file whose top-level keys are the sections, each a list of mappings. Sections and
their columns (``*`` marks a required column):

==================  ==================================================================
``asset_models``    model_id*, kind*, description, allow_new_sensors (true: ingest accepts
                    readings of sensors the model does not declare; default false)
``model_sensors``   model_id*, sensor*, unit, description (the sensors a model declares;
                    ingest dead-letters readings of any other sensor)
``component_types`` component_type*, description
``failure_modes``   failure_mode*, component_type*, description, sensors (``;``-separated),
                    repair_minutes (time on site of a repair; default 120), share (the
                    mode's expected share of the component's failures, in (0, 1]: the
                    likeliest mode is ticketed when nothing points to another)
``failure_mode_parts`` model_id*, failure_mode*, part_no*, qty* (the parts a repair of the
                    failure mode on the model needs: a ticket's kit is its component's
                    bill of materials plus these)
``parts``           part_no*, description*, unit_cost*, warranty_months, is_kit,
                    lead_time_days (default lead time for every site), supplier,
                    expedite_lead_time_days, repairable, repair_turnaround_days and
                    repair_cost (both required for a repairable part)
``kits``            kit_part_no*, part_no*, qty*
``lead_times``      part_no*, site_id* (``*`` = every site), lead_time_days*
``bom``             model_id*, component_type*, part_no*, qty*
``component_life``  model_id*, component_type*, weibull_beta*, weibull_eta_days* (the
                    datasheet life of a model's component: the failure models' prior and
                    the renewal term of parts demand)
``maintenance_plan`` model_id*, task*, part_no*, qty*, and at least one of interval_days,
                    interval_run_hours, interval_starts (whichever comes first);
                    duration_minutes (default 60)
``sites``           site_id*, name*, customer, sla_hours, latitude, longitude,
                    response_hours, restore_hours (the contract's SLA clocks)
``stock``           part_no*, site_id* (``*`` = every site), on_hand*, on_order
==================  ==================================================================

The technicians' sections (``technicians``, ``technician_shifts``, ``technician_absences``)
are described in :mod:`assetwatch.service.field.crew_masterdata`.

:func:`read_masterdata` parses and checks one source against what the database already holds
(:class:`KnownMasterData`) and returns every problem with its file, row and reason: unknown
part numbers, negative or missing quantities, cycles in kits, stocked parts without a lead
time, duplicates. Loading (:mod:`assetwatch.service.masterdata_load`) happens only when there
is no problem, in one transaction.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from assetwatch.core.wire import MAX_NAME_CHARS
from assetwatch.service.errors import MasterDataError, Problem
from assetwatch.service.field.crew_masterdata import (
    CONVERTERS,
    CREW_KEYS,
    CREW_SECTIONS,
    check_crew,
)

__all__ = ["SECTIONS", "KnownMasterData", "MasterData", "Row", "read_masterdata"]

ALL_SITES = "*"

#: section -> (required columns, optional columns)
SECTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "asset_models": (("model_id", "kind"), ("description", "allow_new_sensors")),
    "model_sensors": (("model_id", "sensor"), ("unit", "description")),
    "component_types": (("component_type",), ("description",)),
    "failure_modes": (("failure_mode", "component_type"),
                      ("description", "sensors", "repair_minutes", "share")),
    "failure_mode_parts": (("model_id", "failure_mode", "part_no", "qty"), ()),
    "parts": (("part_no", "description", "unit_cost"),
              ("warranty_months", "is_kit", "lead_time_days", "supplier",
               "expedite_lead_time_days", "repairable", "repair_turnaround_days",
               "repair_cost")),
    "kits": (("kit_part_no", "part_no", "qty"), ()),
    "lead_times": (("part_no", "site_id", "lead_time_days"), ()),
    "bom": (("model_id", "component_type", "part_no", "qty"), ()),
    "component_life": (("model_id", "component_type", "weibull_beta", "weibull_eta_days"), ()),
    "maintenance_plan": (("model_id", "task", "part_no", "qty"),
                         ("interval_days", "interval_run_hours", "interval_starts",
                          "duration_minutes")),
    "sites": (("site_id", "name"), ("customer", "sla_hours", "latitude", "longitude",
                                    "response_hours", "restore_hours")),
    "stock": (("part_no", "site_id", "on_hand"), ("on_order",)),
    **CREW_SECTIONS,
}


@dataclass
class Row:
    """One parsed row and where it came from."""

    file: str
    row: int | str
    values: dict[str, Any]


@dataclass
class KnownMasterData:
    """What the database already holds, so a file may refer to it."""

    parts: dict[str, bool] = field(default_factory=dict)          # part_no -> is_kit
    kit_items: dict[str, dict[str, int]] = field(default_factory=dict)
    component_types: set[str] = field(default_factory=set)
    asset_models: set[str] = field(default_factory=set)
    sites: set[str] = field(default_factory=set)
    failure_modes: set[str] = field(default_factory=set)
    technicians: set[str] = field(default_factory=set)
    default_lead_times: set[str] = field(default_factory=set)     # part_no with a default
    site_lead_times: set[tuple[str, str]] = field(default_factory=set)


@dataclass
class MasterData:
    """Validated master data, section name -> rows."""

    sections: dict[str, list[Row]]
    source: str
    skipped: list[Row] = field(default_factory=list)

    def rows(self, section: str) -> list[Row]:
        return self.sections.get(section, [])


def read_masterdata(path: Path | str, known: KnownMasterData | None = None, *,
                    skip_unknown_sites: bool = False) -> MasterData:
    """Parse and validate ``path`` (a directory of CSV files or one YAML file).

    Raises :class:`MasterDataError` listing every problem (file, row, reason). With
    ``skip_unknown_sites`` the site-specific lead-time and stock rows of sites that are neither
    registered nor listed are left out (``MasterData.skipped``) instead of rejected: the sample
    data names more sites than a small simulated fleet has.
    """
    known = known or KnownMasterData()
    path = Path(path)
    problems: list[Problem] = []
    raw = _read_source(path, problems)
    sections: dict[str, list[Row]] = {}
    for section, rows in raw.items():
        sections[section] = _typed_rows(section, rows, problems)
    data = MasterData(sections, str(path))
    if skip_unknown_sites:
        _drop_unknown_sites(data, known)
    _check_references(data, known, problems)
    _check_repairables(data, problems)
    if problems:
        raise MasterDataError(problems)
    return data


def _check_repairables(data: MasterData, problems: list[Problem]) -> None:
    for row in data.rows("parts"):
        v = row.values
        if v.get("repairable") and (v.get("repair_turnaround_days") is None
                                    or v.get("repair_cost") is None):
            problems.append(Problem(row.file, row.row, f"repairable part {v['part_no']} needs"
                                    " repair_turnaround_days and repair_cost"))


# -- reading ---------------------------------------------------------------------------------

def _read_source(path: Path, problems: list[Problem]) -> dict[str, list[Row]]:
    if path.is_dir():
        yaml_files = sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml"))
        out: dict[str, list[Row]] = {}
        for file in sorted(path.glob("*.csv")):
            if file.stem not in SECTIONS:
                problems.append(Problem(file.name, "-", f"unknown section {file.stem!r}; "
                                        f"expected one of {', '.join(SECTIONS)}"))
                continue
            out[file.stem] = _read_csv(file, problems)
        for file in yaml_files:
            for section, rows in _read_yaml(file, problems).items():
                out.setdefault(section, []).extend(rows)
        if not out and not problems:
            problems.append(Problem(path.name, "-", "no master-data files (*.csv, *.yaml)"))
        return out
    if not path.exists():
        raise MasterDataError([Problem(str(path), "-", "no such file or directory")])
    if path.suffix.lower() in (".yaml", ".yml"):
        return _read_yaml(path, problems)
    if path.suffix.lower() == ".csv" and path.stem in SECTIONS:
        return {path.stem: _read_csv(path, problems)}
    raise MasterDataError([Problem(path.name, "-", "expected a directory, a .yaml file or "
                                   "<section>.csv")])


def _read_csv(file: Path, problems: list[Problem]) -> list[Row]:
    try:
        with file.open(newline="", encoding="utf-8") as handle:
            lines = [line for line in handle if not line.lstrip().startswith("#")]
    except (OSError, UnicodeDecodeError) as e:
        problems.append(Problem(file.name, "-", f"cannot read: {e}"))
        return []
    reader = csv.DictReader(lines)
    rows = []
    for number, record in enumerate(reader, start=2):
        if None in record:
            problems.append(Problem(file.name, number, "more values than columns"))
            continue
        values = {k.strip(): (v.strip() if isinstance(v, str) else v)
                  for k, v in record.items() if k is not None}
        rows.append(Row(file.name, number, values))
    return rows


def _read_yaml(file: Path, problems: list[Problem]) -> dict[str, list[Row]]:
    try:
        doc = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        problems.append(Problem(file.name, "-", f"cannot read: {e}".splitlines()[0]))
        return {}
    if not isinstance(doc, dict):
        problems.append(Problem(file.name, "-", "top level must be a mapping of sections"))
        return {}
    out: dict[str, list[Row]] = {}
    for section, items in doc.items():
        if section not in SECTIONS:
            problems.append(Problem(file.name, section, f"unknown section {section!r}"))
            continue
        if not isinstance(items, list):
            problems.append(Problem(file.name, section, "must be a list of mappings"))
            continue
        rows = out.setdefault(section, [])
        for i, item in enumerate(items, start=1):
            where = f"{section}[{i}]"
            if not isinstance(item, dict):
                problems.append(Problem(file.name, where, "must be a mapping"))
                continue
            values = {str(k): (None if v is None else str(v).strip() if not isinstance(v, list)
                               else ";".join(map(str, v))) for k, v in item.items()}
            rows.append(Row(file.name, where, values))
    return out


# -- typing each row -------------------------------------------------------------------------

_INT_POSITIVE = {"qty", "interval_days", "sla_hours", "repair_minutes", "interval_run_hours",
                 "interval_starts", "duration_minutes"}
_INT_NON_NEGATIVE = {"warranty_months", "on_hand", "on_order"}
_DECIMAL_NON_NEGATIVE = {"unit_cost", "lead_time_days", "expedite_lead_time_days",
                         "repair_turnaround_days", "repair_cost"}
_FLOAT_POSITIVE = {"weibull_beta", "weibull_eta_days"}


def _typed_rows(section: str, rows: list[Row], problems: list[Problem]) -> list[Row]:
    required, optional = SECTIONS[section]
    good = []
    for row in rows:
        ok = True
        unknown = set(row.values) - set(required) - set(optional)
        if unknown:
            problems.append(Problem(row.file, row.row, f"unknown column(s) {sorted(unknown)}"))
            ok = False
        typed: dict[str, Any] = {}
        for column in (*required, *optional):
            text = row.values.get(column)
            if text in (None, ""):
                if column in required:
                    reason = ("missing lead time" if column == "lead_time_days"
                              else f"{column}: missing value")
                    problems.append(Problem(row.file, row.row, reason))
                    ok = False
                typed[column] = None
                continue
            try:
                typed[column] = _convert(column, str(text))
            except ValueError as e:
                problems.append(Problem(row.file, row.row, f"{column}: {e}"))
                ok = False
        if ok:
            good.append(Row(row.file, row.row, typed))
    return good


def _convert(column: str, text: str) -> Any:
    if column in CONVERTERS:
        return CONVERTERS[column](text)
    if column in _INT_POSITIVE or column in _INT_NON_NEGATIVE:
        try:
            number = int(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a whole number") from None
        if column in _INT_POSITIVE and number <= 0:
            raise ValueError(f"{'negative' if number < 0 else 'zero'} quantity {number}; "
                             "must be > 0")
        if number < 0:
            raise ValueError(f"negative quantity {number}; must be >= 0")
        return number
    if column in _DECIMAL_NON_NEGATIVE:
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"{text!r} is not a number") from None
        if not amount.is_finite() or amount < 0:
            raise ValueError(f"negative or invalid value {text}; must be >= 0")
        return amount
    if column in _FLOAT_POSITIVE:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
        if not value > 0 or value == float("inf"):
            raise ValueError(f"{text} must be a positive number")
        return value
    if column == "share":
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
        if not 0 < value <= 1:
            raise ValueError(f"{text} must be a share in (0, 1]")
        return value
    if column in ("is_kit", "allow_new_sensors", "repairable"):
        lowered = text.lower()
        if lowered not in ("true", "false", "yes", "no", "1", "0"):
            raise ValueError(f"{text!r} is not true/false")
        return lowered in ("true", "yes", "1")
    if column == "sensors":
        return [s.strip() for s in text.split(";") if s.strip()]
    if column == "sensor" and (len(text) > MAX_NAME_CHARS or not text.isprintable()):
        raise ValueError(f"{text[:80]!r} is not a sensor name (printable, at most "
                         f"{MAX_NAME_CHARS} characters)")
    return text


def _drop_unknown_sites(data: MasterData, known: KnownMasterData) -> None:
    sites = known.sites | {r.values["site_id"] for r in data.rows("sites")}
    for section in ("lead_times", "stock"):
        keep: list[Row] = []
        for row in data.rows(section):
            site = row.values["site_id"]
            (keep if site == ALL_SITES or site in sites else data.skipped).append(row)
        if section in data.sections:
            data.sections[section] = keep


# -- cross-references ------------------------------------------------------------------------

def _duplicates(data: MasterData, section: str, key: tuple[str, ...],
                problems: list[Problem]) -> None:
    seen: dict[tuple[Any, ...], Row] = {}
    for row in data.rows(section):
        k = tuple(row.values[c] for c in key)
        if k in seen:
            first = seen[k]
            problems.append(Problem(row.file, row.row, f"duplicate {'/'.join(map(str, k))} "
                                    f"(first at row {first.row})"))
        else:
            seen[k] = row


_KEYS: dict[str, tuple[str, ...]] = {
    "asset_models": ("model_id",), "model_sensors": ("model_id", "sensor"),
    "component_types": ("component_type",),
    "failure_modes": ("failure_mode",), "parts": ("part_no",),
    "failure_mode_parts": ("model_id", "failure_mode", "part_no"),
    "kits": ("kit_part_no", "part_no"), "lead_times": ("part_no", "site_id"),
    "bom": ("model_id", "component_type", "part_no"),
    "component_life": ("model_id", "component_type"),
    "maintenance_plan": ("model_id", "task", "part_no"),
    "sites": ("site_id",), "stock": ("part_no", "site_id"),
    **CREW_KEYS,
}


def _check_references(data: MasterData, known: KnownMasterData,
                      problems: list[Problem]) -> None:
    for section, key in _KEYS.items():
        _duplicates(data, section, key, problems)

    parts = dict(known.parts)
    parts.update({r.values["part_no"]: bool(r.values["is_kit"]) for r in data.rows("parts")})
    component_types = known.component_types | {
        r.values["component_type"] for r in data.rows("component_types")}
    models = known.asset_models | {r.values["model_id"] for r in data.rows("asset_models")}
    sites = known.sites | {r.values["site_id"] for r in data.rows("sites")}

    def need_part(row: Row, column: str = "part_no") -> None:
        if row.values[column] not in parts:
            problems.append(Problem(row.file, row.row,
                                    f"unknown part number {row.values[column]!r}"))

    def need(row: Row, column: str, names: set[str], what: str) -> None:
        if row.values[column] not in names:
            problems.append(Problem(row.file, row.row, f"unknown {what} {row.values[column]!r}"))

    for row in data.rows("failure_modes"):
        need(row, "component_type", component_types, "component type")
    failure_modes = known.failure_modes | {r.values["failure_mode"]
                                           for r in data.rows("failure_modes")}
    for row in data.rows("failure_mode_parts"):
        need(row, "model_id", models, "asset model")
        need(row, "failure_mode", failure_modes, "failure mode")
        need_part(row)
    for row in data.rows("kits"):
        need_part(row, "kit_part_no")
        need_part(row)
        if parts.get(row.values["kit_part_no"]) is False:
            problems.append(Problem(row.file, row.row,
                                    f"{row.values['kit_part_no']!r} is not a kit (is_kit false)"))
    for row in data.rows("model_sensors"):
        need(row, "model_id", models, "asset model")
    for row in data.rows("bom"):
        need(row, "model_id", models, "asset model")
        need(row, "component_type", component_types, "component type")
        need_part(row)
    for row in data.rows("component_life"):
        need(row, "model_id", models, "asset model")
        need(row, "component_type", component_types, "component type")
    for row in data.rows("maintenance_plan"):
        need(row, "model_id", models, "asset model")
        need_part(row)
        if all(row.values[c] is None for c in ("interval_days", "interval_run_hours",
                                                "interval_starts")):
            problems.append(Problem(row.file, row.row, "no interval: give interval_days,"
                                    " interval_run_hours or interval_starts"))
    check_crew(data.sections, models=models, technicians=known.technicians,
               failure_modes=failure_modes, problems=problems)
    for section in ("lead_times", "stock"):
        for row in data.rows(section):
            need_part(row)
            if row.values["site_id"] != ALL_SITES:
                need(row, "site_id", sites, "site")
            if parts.get(row.values["part_no"]) and section == "stock":
                problems.append(Problem(row.file, row.row, f"{row.values['part_no']!r} is a kit;"
                                        " stock its parts instead"))
    _check_kits(data, known, parts, problems)
    _check_lead_times(data, known, parts, sites, problems)


def _check_kits(data: MasterData, known: KnownMasterData, parts: dict[str, bool],
                problems: list[Problem]) -> None:
    items: dict[str, dict[str, int]] = {k: dict(v) for k, v in known.kit_items.items()}
    rows_of: dict[str, Row] = {}
    replaced = {r.values["kit_part_no"] for r in data.rows("kits")}
    for kit in replaced:
        items[kit] = {}
    for row in data.rows("kits"):
        items[row.values["kit_part_no"]][row.values["part_no"]] = row.values["qty"]
        rows_of.setdefault(row.values["kit_part_no"], row)
    for row in data.rows("parts"):
        if row.values["is_kit"] and not items.get(row.values["part_no"]):
            problems.append(Problem(row.file, row.row,
                                    f"kit {row.values['part_no']!r} has no items"))
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(kit: str, trail: list[str]) -> None:
        state[kit] = 1
        for child in items.get(kit, {}):
            if state.get(child) == 1:
                cycle = [*trail[trail.index(child):], child] if child in trail else [kit, child]
                row = rows_of.get(kit)
                problems.append(Problem(row.file if row else data.source,
                                        row.row if row else "-",
                                        f"cycle in kits: {' -> '.join(cycle)}"))
            elif child in items and state.get(child) is None:
                visit(child, [*trail, child])
        state[kit] = 2

    for kit in sorted(items):
        if state.get(kit) is None:
            visit(kit, [kit])


def _check_lead_times(data: MasterData, known: KnownMasterData, parts: dict[str, bool],
                      sites: set[str], problems: list[Problem]) -> None:
    defaults = set(known.default_lead_times)
    defaults |= {r.values["part_no"] for r in data.rows("parts")
                 if r.values["lead_time_days"] is not None}
    defaults |= {r.values["part_no"] for r in data.rows("lead_times")
                 if r.values["site_id"] == ALL_SITES}
    by_site = set(known.site_lead_times) | {
        (r.values["part_no"], r.values["site_id"]) for r in data.rows("lead_times")}
    for row in data.rows("parts"):
        part_no = row.values["part_no"]
        if row.values["is_kit"] or part_no in defaults:
            continue
        missing = sorted(s for s in sites if (part_no, s) not in by_site)
        if missing or not sites:
            where = f" for site(s) {', '.join(missing[:5])}" if missing else ""
            problems.append(Problem(row.file, row.row, f"missing lead time for {part_no!r}"
                                    f"{where}: give lead_time_days or a lead_times row"))
