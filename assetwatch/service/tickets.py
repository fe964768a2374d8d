"""Service tickets from predictions and anomaly events: one open ticket per (asset, failure mode).

:func:`update_tickets` reads the newest failure predictions and recent anomaly events and, per
(asset, failure mode):

* **risk** = ``1 - (1 - p) * (1 - w * s)``: ``p`` the predicted probability of failure within
  ``horizon_days``, ``s`` the peak score of a recent anomaly event attributed to the failure
  mode (by the sensors it involves, ``failure_mode_sensor``), ``w`` the anomaly weight;
* a component's predicted probability goes to **one** failure mode, the diagnosis: the mode of
  the component's open ticket, else the mode its anomaly events point to, else the likeliest
  mode (most confirmed failures in the fleet's labels, then the master data's ``share``), so a
  component with several failure modes gets one ticket, not one per mode;
* an open ticket is **updated** (risk, due date, priority, evidence, model version) instead of a
  duplicate being opened (the database enforces one non-closed ticket per key);
* a ticket **opens** when risk reaches ``open_threshold``; it is closed automatically (code
  ``cancelled``) only after risk stayed below ``close_threshold`` for ``quiet_days`` while still
  unplanned, and a key closed that way reopens within ``reopen_cooldown_days`` only at
  ``reopen_threshold``; one a technician closed ``no_fault_found`` (found nothing on site)
  reopens within the cool-down only at ``reopen_threshold`` and when the risk has risen by
  ``reopen_margin`` above the risk the technician inspected (new evidence, not the same
  evidence again): hysteresis, dwell time and cool-down keep a flapping or a steady signal
  from opening and closing tickets (and sending technicians) repeatedly;
* **priority** (1 most urgent) from risk, asset criticality, the site's SLA and the due date;
* at most ``daily_cap_per_site`` tickets are opened automatically per site and day (highest
  priority first); the rest go to ``ticket_overflow`` so a bad model cannot flood planners.

Every ticket carries the kit of parts for a first-time fix (the component's BOM plus the
parts of the diagnosed failure mode, kits exploded). Lifecycle transitions and closing are in
:mod:`assetwatch.service.ticket_lifecycle`.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from assetwatch.service.bom import repair_kit
from assetwatch.service.demand import resolve_as_of
from assetwatch.service.reservations import release, reserve_kit
from assetwatch.service.risk import load_risk

__all__ = ["Signal", "TicketPolicy", "TicketSummary", "priority_for", "update_tickets"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TicketPolicy:
    """Thresholds of automatic ticketing (see the module docstring)."""

    horizon_days: float = 30.0
    open_threshold: float = 0.5
    close_threshold: float = 0.2
    quiet_days: float = 7.0
    reopen_cooldown_days: float = 14.0
    reopen_threshold: float = 0.8
    reopen_margin: float = 0.1
    anomaly_weight: float = 0.5
    anomaly_lookback_hours: float = 24.0
    daily_cap_per_site: int = 25
    min_risk_change: float = 0.05


@dataclass
class TicketSummary:
    """What one run did."""

    opened: int = 0
    updated: int = 0
    closed: int = 0
    overflow: int = 0

    def __str__(self) -> str:
        return (f"{self.opened} opened, {self.updated} updated, {self.closed} closed, "
                f"{self.overflow} held back by the daily cap")


@dataclass
class Signal:
    """Everything known now about one (asset, failure mode)."""

    asset_id: int
    failure_mode: str
    component_type: str
    site_id: str
    model_id: str
    criticality: int
    sla_hours: int
    p_failure: float = 0.0
    rul_low_days: float | None = None
    rul_days: float | None = None
    predicted_at: datetime | None = None
    model_version_id: int | None = None
    anomalies: list[dict[str, Any]] = field(default_factory=list)
    anomaly_score: float = 0.0

    def risk(self, policy: TicketPolicy) -> float:
        return 1.0 - (1.0 - self.p_failure) * (1.0 - policy.anomaly_weight * self.anomaly_score)

    def due_at(self, as_of: datetime, policy: TicketPolicy) -> datetime:
        """The remaining life's lower bound, else the horizon shortened by the risk."""
        if self.predicted_at is not None and self.rul_low_days is not None:
            due = self.predicted_at + timedelta(days=max(self.rul_low_days, 0.0))
        elif self.predicted_at is not None and self.rul_days is not None:
            due = self.predicted_at + timedelta(days=0.5 * max(self.rul_days, 0.0))
        else:
            due = as_of + timedelta(days=policy.horizon_days * (1.0 - self.risk(policy)))
        return max(due, as_of + timedelta(hours=4))


def priority_for(risk: float, criticality: int, sla_hours: int, days_to_due: float) -> int:
    """1 (most urgent) .. 4 from risk, criticality (1 = most critical), SLA and due date."""
    weight = {1: 1.0, 2: 0.8, 3: 0.6}.get(criticality, 0.8)
    sla = 1.0 if sla_hours <= 24 else 0.85 if sla_hours <= 72 else 0.7
    score = risk * weight * sla + (0.15 if days_to_due <= 7 else 0.0)
    return 1 if score >= 0.7 else 2 if score >= 0.5 else 3 if score >= 0.3 else 4


def update_tickets(conn: psycopg.Connection, *, as_of: datetime | None = None,
                   policy: TicketPolicy | None = None) -> TicketSummary:
    """Open, update and auto-close tickets from the signals at ``as_of`` (one transaction)."""
    policy = policy or TicketPolicy()
    as_of = resolve_as_of(conn, as_of)
    summary = TicketSummary()
    with conn.transaction():
        signals = _signals(conn, as_of, policy)
        open_tickets = {(r[1], r[2]): r for r in conn.execute(
            "SELECT ticket_id, asset_id, failure_mode, status, risk, priority, due_at,"
            " evidence, opened_by FROM service_ticket WHERE status <> 'closed' FOR UPDATE")}
        candidates: list[tuple[Signal, float, int, datetime]] = []
        for key, signal in signals.items():
            risk = signal.risk(policy)
            due = signal.due_at(as_of, policy)
            priority = priority_for(risk, signal.criticality, signal.sla_hours,
                                    (due - as_of).total_seconds() / 86400.0)
            ticket = open_tickets.get(key)
            if ticket is not None:
                outcome = _update(conn, ticket, signal, risk, priority, due, as_of, policy)
                summary.updated += outcome == "updated"
                summary.closed += outcome == "closed"
            elif risk >= policy.open_threshold and _may_open(conn, key, risk, as_of, policy):
                candidates.append((signal, risk, priority, due))
        _open(conn, candidates, as_of, policy, summary)
    log.info("tickets at %s: %s", as_of.isoformat(), summary)
    return summary


def _signals(conn: psycopg.Connection, as_of: datetime,
             policy: TicketPolicy) -> dict[tuple[int, str], Signal]:
    modes = _ranked_modes(conn)
    assets = {r[0]: r[1:] for r in conn.execute(
        "SELECT a.asset_id, a.site_id, a.model_id, a.criticality, s.sla_hours"
        " FROM asset a JOIN site s USING (site_id)")}
    signals: dict[tuple[int, str], Signal] = {}

    def signal(asset_id: int, mode: str, component_type: str) -> Signal:
        key = (asset_id, mode)
        if key not in signals:
            site_id, model_id, criticality, sla = assets[asset_id]
            signals[key] = Signal(asset_id, mode, component_type, site_id, model_id,
                                  criticality, sla)
        return signals[key]

    risk = load_risk(conn, as_of)
    p = risk.window(0.0, policy.horizon_days) if len(risk) else np.zeros(0)
    predicted = {(int(risk.asset_id[i]), str(risk.component_type[i])): float(p[i])
                 for i in range(len(risk))}
    _attach_anomalies(conn, as_of, policy, modes, signal, predicted)
    open_modes = {(r[0], r[1]): r[2] for r in conn.execute(
        "SELECT t.asset_id, f.component_type, t.failure_mode FROM service_ticket t"
        " JOIN failure_mode f USING (failure_mode) WHERE t.status <> 'closed'"
        " AND t.kind = 'equipment' ORDER BY t.opened_at DESC")}
    for i in range(len(risk)):
        asset_id, component_type = int(risk.asset_id[i]), str(risk.component_type[i])
        mode = _diagnosis(asset_id, component_type, modes, open_modes, signals)
        if mode is None:
            continue
        s = signal(asset_id, mode, component_type)
        s.p_failure = float(p[i])
        s.predicted_at = risk.predicted_at[i]
        s.model_version_id = int(risk.model_version_id[i])
        rul = risk.rul_days[i]
        if not np.isnan(rul):
            low = risk.rul_low_days[i]
            s.rul_days = float(rul)
            s.rul_low_days = None if np.isnan(low) else float(low)
    return signals


def _ranked_modes(conn: psycopg.Connection) -> dict[str, list[str]]:
    """Each component type's failure modes, the likeliest first: by confirmed failures in the
    fleet's labels, then by the master data's share of the component's failures."""
    modes: dict[str, list[str]] = defaultdict(list)
    for mode, component_type in conn.execute(
            "SELECT f.failure_mode, f.component_type FROM failure_mode f"
            " LEFT JOIN (SELECT failure_mode, count(*) AS n FROM failure_label WHERE failed"
            "            GROUP BY failure_mode) l USING (failure_mode)"
            " ORDER BY f.component_type, coalesce(l.n, 0) DESC, f.share DESC NULLS LAST,"
            " f.failure_mode"):
        modes[component_type].append(mode)
    return modes


def _diagnosis(asset_id: int, component_type: str, modes: dict[str, list[str]],
               open_modes: dict[tuple[int, str], str],
               signals: dict[tuple[int, str], Signal]) -> str | None:
    """The one failure mode a component's predicted risk is ticketed under: the mode of its
    open ticket (kept, so a diagnosis does not flip between runs), else the mode the asset's
    anomaly events point to by their sensors, else the likeliest mode."""
    candidates = modes.get(component_type, [])
    if (asset_id, component_type) in open_modes:
        return open_modes[(asset_id, component_type)]
    scored = [(signals[(asset_id, m)].anomaly_score, -rank, m)
              for rank, m in enumerate(candidates) if (asset_id, m) in signals]
    if scored:
        return max(scored)[2]
    return candidates[0] if candidates else None


def _attach_anomalies(conn: psycopg.Connection, as_of: datetime, policy: TicketPolicy,
                      modes: dict[str, list[str]], signal: Any,
                      predicted: dict[tuple[int, str], float]) -> None:
    """Attribute each recent anomaly event to one failure mode: the one whose sensors it
    involves most, ties broken by the component's predicted probability, then by how much of
    the mode's sensors it covers, then the likeliest mode (an event without sensor names goes
    to the likeliest mode of the component most at risk)."""
    sensors_of: dict[str, set[str]] = defaultdict(set)
    for mode, sensor in conn.execute("SELECT failure_mode, sensor FROM failure_mode_sensor"):
        sensors_of[mode].add(sensor)
    components_of: dict[str, set[str]] = defaultdict(set)
    for model_id, component_type in conn.execute(
            "SELECT DISTINCT model_id, component_type FROM bom_item"):
        components_of[model_id].add(component_type)
    events = conn.execute(
        "SELECT e.anomaly_event_id, e.asset_id, a.model_id, e.detector, e.started_at,"
        " e.ended_at, coalesce(e.peak_score, 0), e.sensors FROM anomaly_event e"
        " JOIN asset a USING (asset_id) WHERE e.kind = 'anomaly' AND e.started_at <= %s"
        " AND (e.ended_at IS NULL OR e.ended_at >= %s) ORDER BY e.started_at",
        (as_of, as_of - timedelta(hours=policy.anomaly_lookback_hours))).fetchall()
    for event_id, asset_id, model_id, detector, started, ended, peak, sensors in events:
        candidates = [(mode, ct) for ct in sorted(components_of.get(model_id, ()))
                      for mode in modes.get(ct, [])]
        fits = [(_fit(mode, ct, set(sensors), sensors_of, predicted.get((asset_id, ct), 0.0),
                      modes[ct]), mode, ct) for mode, ct in candidates]
        chosen = [max(fits)[1:]] if fits else []
        for mode, ct in chosen:
            s = signal(asset_id, mode, ct)
            s.anomaly_score = max(s.anomaly_score, float(peak))
            s.anomalies.append({
                "anomaly_event_id": event_id, "detector": detector,
                "started_at": started.isoformat(),
                "ended_at": ended.isoformat() if ended else None,
                "peak_score": round(float(peak), 4), "sensors": list(sensors)})


def _fit(mode: str, component_type: str, involved: set[str], sensors_of: dict[str, set[str]],
         p_failure: float, ranked: list[str]) -> tuple[int, float, float, int]:
    """How well an anomaly event's sensors fit a failure mode: sensors shared, then the
    component's predicted probability, the share of the mode's sensors they are, the mode's
    rank among its component's."""
    shared = len(sensors_of[mode] & involved)
    return (shared, p_failure, shared / max(len(sensors_of[mode]), 1), -ranked.index(mode))


def _evidence(signal: Signal, risk: float, as_of: datetime,
              previous: dict[str, Any] | None) -> dict[str, Any]:
    starts = [datetime.fromisoformat(a["started_at"]) for a in signal.anomalies]
    if signal.predicted_at is not None:
        starts.append(signal.predicted_at - timedelta(days=1))
    window_from = min(starts, default=as_of - timedelta(days=1)) - timedelta(hours=1)
    seen = {a["anomaly_event_id"]: a for a in (previous or {}).get("anomalies", [])}
    for a in signal.anomalies:
        seen[a["anomaly_event_id"]] = a
    evidence: dict[str, Any] = dict(previous or {})
    old_window = evidence.get("window", {}).get("from")
    if old_window:
        window_from = min(window_from, datetime.fromisoformat(old_window))
    evidence.update({
        "window": {"from": window_from.isoformat(), "to": as_of.isoformat()},
        "risk": round(risk, 4),
        "anomalies": sorted(seen.values(), key=lambda a: a["started_at"])[-20:],
        "model_version_id": signal.model_version_id,
    })
    if signal.predicted_at is not None:
        evidence["prediction"] = {
            "predicted_at": signal.predicted_at.isoformat(),
            "failure_probability": round(signal.p_failure, 4),
            "component_type": signal.component_type,
            "rul_days": None if signal.rul_days is None else round(signal.rul_days, 1),
            "rul_low_days": None if signal.rul_low_days is None else round(
                signal.rul_low_days, 1)}
    return evidence


def _history(conn: psycopg.Connection, ticket_id: int, at: datetime, change: str,
             detail: dict[str, Any]) -> None:
    conn.execute("INSERT INTO ticket_history (ticket_id, at, change, detail)"
                 " VALUES (%s, %s, %s, %s)", (ticket_id, at, change, Jsonb(detail)))


def _update(conn: psycopg.Connection, ticket: tuple[Any, ...], signal: Signal, risk: float,
            priority: int, due: datetime, as_of: datetime, policy: TicketPolicy) -> str:
    ticket_id, _, _, status, old_risk, old_priority, _, evidence, opened_by = ticket
    evidence = evidence if isinstance(evidence, dict) else json.loads(evidence or "{}")
    quiet_since = evidence.get("below_close_since")
    quiet_since = (quiet_since or as_of.isoformat()) if risk < policy.close_threshold else None
    if (quiet_since and status == "open" and opened_by == "auto" and as_of
            - datetime.fromisoformat(quiet_since) >= timedelta(days=policy.quiet_days)):
        conn.execute("UPDATE service_ticket SET status = 'closed', closed_at = %s, updated_at"
                     " = %s, resolution_code = 'cancelled', risk = %s WHERE ticket_id = %s",
                     (as_of, as_of, risk, ticket_id))
        _history(conn, ticket_id, as_of, "closed", {"resolution_code": "cancelled",
                                                    "reason": "risk receded", "risk": risk})
        release(conn, ticket_id, at=as_of)
        return "closed"
    known = {a["anomaly_event_id"] for a in evidence.get("anomalies", [])}
    new_anomaly = any(a["anomaly_event_id"] not in known for a in signal.anomalies)
    if (abs(risk - float(old_risk)) < policy.min_risk_change and priority == old_priority
            and not new_anomaly and quiet_since == evidence.get("below_close_since")):
        return "unchanged"
    new_evidence = _evidence(signal, risk, as_of, evidence)
    new_evidence["below_close_since"] = quiet_since
    conn.execute(
        "UPDATE service_ticket SET risk = %s, priority = %s, due_at = %s, evidence = %s,"
        " model_version_id = coalesce(%s, model_version_id), updated_at = %s"
        " WHERE ticket_id = %s",
        (risk, priority, due, Jsonb(new_evidence), signal.model_version_id, as_of, ticket_id))
    _history(conn, ticket_id, as_of, "updated", {"risk": round(risk, 4), "priority": priority,
                                                 "new_anomaly": new_anomaly})
    reserve_kit(conn, ticket_id, at=as_of)
    return "updated"


def _may_open(conn: psycopg.Connection, key: tuple[int, str], risk: float, as_of: datetime,
              policy: TicketPolicy) -> bool:
    row = conn.execute(
        "SELECT resolution_code, risk FROM service_ticket WHERE asset_id = %s"
        " AND failure_mode = %s AND resolution_code IN ('cancelled', 'no_fault_found')"
        " AND closed_at > %s ORDER BY closed_at DESC LIMIT 1",
        (*key, as_of - timedelta(days=policy.reopen_cooldown_days))).fetchone()
    if row is None:
        return True
    code, inspected = row
    if code == "no_fault_found" and inspected is not None and \
            risk < float(inspected) + policy.reopen_margin:
        return False
    return risk >= policy.reopen_threshold


def _open(conn: psycopg.Connection, candidates: list[tuple[Signal, float, int, datetime]],
          as_of: datetime, policy: TicketPolicy, summary: TicketSummary) -> None:
    day_start = as_of.replace(hour=0, minute=0, second=0, microsecond=0)
    opened_today: dict[str, int] = dict(conn.execute(
        "SELECT a.site_id, count(*) FROM service_ticket t JOIN asset a USING (asset_id)"
        " WHERE t.opened_by = 'auto' AND t.opened_at >= %s AND t.opened_at < %s"
        " GROUP BY a.site_id", (day_start, day_start + timedelta(days=1))).fetchall())
    kits: dict[tuple[str, str, str], list[dict[str, object]]] = {}
    candidates.sort(key=lambda c: (c[2], -c[1], c[0].asset_id, c[0].failure_mode))
    for signal, risk, priority, due in candidates:
        if opened_today.get(signal.site_id, 0) >= policy.daily_cap_per_site:
            conn.execute(
                "INSERT INTO ticket_overflow (at, site_id, asset_id, failure_mode, risk,"
                " priority, reason) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (as_of, signal.site_id, signal.asset_id, signal.failure_mode, risk, priority,
                 f"daily cap of {policy.daily_cap_per_site} automatic tickets for "
                 f"{signal.site_id} reached"))
            summary.overflow += 1
            continue
        kit_key = (signal.model_id, signal.component_type, signal.failure_mode)
        if kit_key not in kits:
            kits[kit_key] = repair_kit(conn, *kit_key)
        row = conn.execute(
            "INSERT INTO service_ticket (asset_id, failure_mode, priority, risk, due_at,"
            " opened_at, updated_at, kit, evidence, model_version_id) VALUES (%s, %s, %s, %s,"
            " %s, %s, %s, %s, %s, %s) RETURNING ticket_id",
            (signal.asset_id, signal.failure_mode, priority, risk, due, as_of, as_of,
             Jsonb(kits[kit_key]), Jsonb(_evidence(signal, risk, as_of, None)),
             signal.model_version_id)).fetchone()
        assert row is not None
        _history(conn, row[0], as_of, "opened", {"risk": round(risk, 4), "priority": priority})
        reserve_kit(conn, int(row[0]), at=as_of)
        opened_today[signal.site_id] = opened_today.get(signal.site_id, 0) + 1
        summary.opened += 1
