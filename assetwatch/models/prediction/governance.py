"""Model governance: champion and challenger, shadow scoring on live outcomes, audit trail.

A version of a failure model moves through these stages (``v_model_version.stage``):

* **champion** (``is_current``): its predictions are the ones tickets, demand and dashboards
  read; one per (model name, component type).
* **challenger**: it validated better than the champion on the training fold, but does not take
  over yet. From ``shadow_from`` the score flow also scores it, into ``shadow_prediction``;
  :func:`review_challengers` compares the two on the same prediction rows once their horizon
  has passed (the outcome is known: a failure of that component within the horizon, or none),
  with the promotion metric (average precision, averaged over the horizons). It decides only
  after ``shadow_until`` and only with at least ``min_outcomes`` failures among the compared
  rows: it **promotes** the challenger if it scores higher by more than ``min_gain``, else
  **retires** it; a challenger still short of outcomes after ``max_shadow_days`` is retired
  too. Each review is stored in ``model_comparison``.
* **retired**: a challenger that lost, or a former champion (replaced, out of service until a
  rollback brings it back); or a **candidate** that never went into shadow (not better on
  the fold).

Whoever changes the champion (the train flow when there is none, the score flow after a
shadow comparison, a person with ``assetwatch models promote|rollback``) leaves a row in
``model_audit`` with the reason and the version it replaced; :func:`rollback` goes back to that
version.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import psycopg

from assetwatch.core.settings import Settings
from assetwatch.models.prediction.errors import PredictionError
from assetwatch.models.prediction.model_registry import (
    ModelVersion,
    Promotion,
    current_version,
    decide_promotion,
    promote,
    select_versions,
)
from assetwatch.models.prediction.validation import classification_metrics

__all__ = ["Review", "ShadowPolicy", "audit", "challengers", "find_version", "govern_candidate",
           "retire",
           "review_challengers", "rollback", "set_champion", "start_shadow"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShadowPolicy:
    """How long a challenger runs in shadow and what it needs to take over."""

    shadow_days: float = 14.0
    max_shadow_days: float = 90.0
    min_outcomes: int = 3
    min_gain: float = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> ShadowPolicy:
        return cls(shadow_days=settings.model_shadow_days,
                   min_outcomes=settings.model_min_outcomes)


@dataclass(frozen=True)
class Review:
    """One challenger's comparison with its champion, and what was decided."""

    challenger: ModelVersion
    champion_id: int
    predictions: int
    outcomes: int
    challenger_score: float | None
    champion_score: float | None
    decision: str   # wait | promote | retire
    reason: str


def _lock(conn: psycopg.Connection, version: ModelVersion) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                 (f"model_version:{version.model_name}:{version.component_type or ''}",))


def audit(conn: psycopg.Connection, version_id: int, action: str, *, actor: str, reason: str,
          previous_id: int | None = None, at: datetime | None = None) -> None:
    """Append one row to the audit trail."""
    conn.execute("INSERT INTO model_audit (at, model_version_id, action, actor, reason,"
                 " previous_id) VALUES (coalesce(%s, now()), %s, %s, %s, %s, %s)",
                 (at, version_id, action, actor, reason, previous_id))


def find_version(conn: psycopg.Connection, model_name: str, component_type: str | None,
                 version: int) -> ModelVersion:
    """One version by its number; :class:`PredictionError` naming what is missing."""
    found = select_versions(conn, "model_name = %(name)s AND component_type IS NOT DISTINCT"
                            " FROM %(component)s AND version = %(version)s",
                            {"name": model_name, "component": component_type,
                             "version": version})
    if not found:
        raise PredictionError(f"no version {version} of {model_name} for "
                              f"{component_type or 'all components'}")
    return found[0]


def set_champion(conn: psycopg.Connection, version: ModelVersion, *, actor: str, reason: str,
                 action: str = "promoted", at: datetime | None = None) -> None:
    """Make ``version`` the champion (ending its shadow run) and record who and why."""
    with conn.transaction():
        _lock(conn, version)
        previous = current_version(conn, version.model_name, version.component_type)
        if previous is not None and previous.model_version_id == version.model_version_id:
            raise PredictionError(f"version {version.version} of {version.component_type} "
                                  "is already the champion")
        promote(conn, version.model_version_id, at)
        audit(conn, version.model_version_id, action, actor=actor, reason=reason, at=at,
              previous_id=previous.model_version_id if previous else None)


def start_shadow(conn: psycopg.Connection, candidate: ModelVersion, *, at: datetime,
                 policy: ShadowPolicy, actor: str, reason: str) -> None:
    """Put ``candidate`` in shadow from ``at``; a live challenger it supersedes retires."""
    with conn.transaction():
        _lock(conn, candidate)
        for old in challengers(conn, candidate.model_name):
            if old.component_type != candidate.component_type:
                continue
            retire(conn, old, actor=actor, reason=f"superseded by version {candidate.version}",
                   at=at)
        conn.execute("UPDATE model_version SET shadow_from = %s, shadow_until = %s"
                     " WHERE model_version_id = %s",
                     (at, at + timedelta(days=policy.shadow_days), candidate.model_version_id))
        audit(conn, candidate.model_version_id, "shadow_started", actor=actor, reason=reason,
              at=at)


def retire(conn: psycopg.Connection, version: ModelVersion, *, actor: str, reason: str,
           at: datetime | None = None) -> None:
    """End a challenger's shadow run without promoting it."""
    conn.execute("UPDATE model_version SET retired_at = coalesce(%s, now())"
                 " WHERE model_version_id = %s", (at, version.model_version_id))
    audit(conn, version.model_version_id, "retired", actor=actor, reason=reason, at=at)


def challengers(conn: psycopg.Connection, model_name: str) -> list[ModelVersion]:
    """The live challengers of ``model_name``, one per component type at most."""
    return select_versions(conn, "model_name = %(name)s AND shadow_from IS NOT NULL"
                                 " AND retired_at IS NULL AND NOT is_current",
                           {"name": model_name})


def rollback(conn: psycopg.Connection, model_name: str, component_type: str | None, *,
             actor: str, reason: str = "rolled back by hand") -> ModelVersion:
    """Make the champion's predecessor (by the audit trail) champion again; return it."""
    current = current_version(conn, model_name, component_type)
    if current is None:
        raise PredictionError(f"{model_name} has no champion for {component_type}")
    row = conn.execute("SELECT previous_id FROM model_audit WHERE model_version_id = %s"
                       " AND action IN ('promoted', 'rolled_back') AND previous_id IS NOT NULL"
                       " ORDER BY at DESC, audit_id DESC LIMIT 1",
                       (current.model_version_id,)).fetchone()
    if row is None:
        raise PredictionError(f"version {current.version} of {component_type} replaced no "
                              "earlier champion: nothing to roll back to")
    [target] = select_versions(conn, "model_version_id = %(id)s", {"id": row[0]})
    set_champion(conn, target, actor=actor, reason=reason, action="rolled_back")
    return target


_PAIRED_SQL = """
SELECT s.horizon_days, s.failure_probability AS challenger, p.failure_probability AS champion,
       s.asset_id,
       (SELECT min(ev.time) FROM asset_event ev
         WHERE ev.asset_id = s.asset_id AND ev.component_type = s.component_type
           AND ev.kind = 'failure' AND ev.time > s.predicted_at
           AND ev.time <= s.predicted_at + make_interval(days => s.horizon_days)
       ) AS failed_at
FROM shadow_prediction s
JOIN failure_prediction p USING (asset_id, component_type, horizon_days, predicted_at)
WHERE s.model_version_id = %(challenger)s AND p.model_version_id = %(champion)s
  AND s.predicted_at + make_interval(days => s.horizon_days) <= %(as_of)s
"""


def _compare(conn: psycopg.Connection, challenger: ModelVersion, champion: ModelVersion,
             as_of: datetime) -> tuple[int, int, float | None, float | None]:
    rows = pd.DataFrame(conn.execute(_PAIRED_SQL, {
        "challenger": challenger.model_version_id, "champion": champion.model_version_id,
        "as_of": as_of}).fetchall(),
        columns=["horizon", "challenger", "champion", "asset_id", "failed_at"])
    if rows.empty:
        return 0, 0, None, None
    rows["failed"] = rows["failed_at"].notna()
    scores: dict[str, list[float]] = {"challenger": [], "champion": []}
    for _, group in rows.groupby("horizon"):
        labels = group["failed"].to_numpy(dtype=int)
        for who in scores:
            ap = classification_metrics(labels, group[who].to_numpy(dtype=float))[
                "average_precision"]
            if ap is not None:
                scores[who].append(float(ap))
    mean = {who: float(np.mean(s)) if s else None for who, s in scores.items()}
    failures = rows.loc[rows["failed"], ["asset_id", "failed_at"]].drop_duplicates()
    return len(rows), len(failures), mean["challenger"], mean["champion"]


def _decide(challenger: ModelVersion, compared: tuple[int, int, float | None, float | None],
            as_of: datetime, shadow_until: datetime, policy: ShadowPolicy) -> tuple[str, str]:
    _, outcomes, mine, theirs = compared
    if as_of < shadow_until:
        return "wait", f"in shadow until {shadow_until:%Y-%m-%d %H:%M}"
    if outcomes < policy.min_outcomes or mine is None or theirs is None:
        started = shadow_until - timedelta(days=policy.shadow_days)
        if as_of - started >= timedelta(days=policy.max_shadow_days):
            return "retire", (f"{outcomes} outcome(s) after {policy.max_shadow_days:g} days, "
                              f"fewer than {policy.min_outcomes}")
        return "wait", f"{outcomes} outcome(s) so far, {policy.min_outcomes} needed"
    if mine > theirs + policy.min_gain:
        return "promote", f"live score {mine:.4f} > champion's {theirs:.4f} on {outcomes} outcomes"
    return "retire", f"live score {mine:.4f} <= champion's {theirs:.4f} on {outcomes} outcomes"


def govern_candidate(conn: psycopg.Connection, candidate: ModelVersion, *, at: datetime,
                     policy: ShadowPolicy, actor: str = "train flow") -> Promotion:
    """After training: champion at once when there is none (or a prior replaces a prior, or
    shadowing is off); into shadow when it validates better on the fold; else kept aside."""
    current = current_version(conn, candidate.model_name, candidate.component_type)
    decision = decide_promotion(candidate, current, policy.min_gain)
    if not decision.promoted:
        if current is not None and current.model_version_id != candidate.model_version_id:
            audit(conn, current.model_version_id, "kept", actor=actor, at=at,
                  reason=f"version {candidate.version} not better: {decision.reason}")
        return decision
    learned = current is not None and not (candidate.kind == current.kind == "weibull_prior")
    if learned and policy.shadow_days > 0:
        start_shadow(conn, candidate, at=at, policy=policy, actor=actor,
                     reason=f"on the training fold: {decision.reason}")
        return Promotion(False, f"challenger in shadow for {policy.shadow_days:g} days "
                                f"({decision.reason})")
    set_champion(conn, candidate, actor=actor, reason=decision.reason, at=at)
    return decision


def review_challengers(conn: psycopg.Connection, *, model_name: str, as_of: datetime,
                       policy: ShadowPolicy | None = None,
                       actor: str = "score flow") -> list[Review]:
    """Compare every live challenger with its champion on matured outcomes; store the
    comparison; promote or retire where the rule decides (see the module docstring)."""
    policy = policy or ShadowPolicy()
    reviews = []
    for challenger in challengers(conn, model_name):
        champion = current_version(conn, model_name, challenger.component_type)
        shadow_until = conn.execute("SELECT shadow_until FROM model_version WHERE"
                                    " model_version_id = %s",
                                    (challenger.model_version_id,)).fetchone()[0]
        if champion is None:
            set_champion(conn, challenger, actor=actor, reason="no champion", at=as_of)
            continue
        compared = _compare(conn, challenger, champion, as_of)
        decision, reason = _decide(challenger, compared, as_of, shadow_until, policy)
        with conn.transaction():
            conn.execute("INSERT INTO model_comparison (compared_at, challenger_id,"
                         " champion_id, predictions, outcomes, challenger_score,"
                         " champion_score, decision, reason) VALUES (%s, %s, %s, %s, %s, %s,"
                         " %s, %s, %s) ON CONFLICT DO NOTHING",
                         (as_of, challenger.model_version_id, champion.model_version_id,
                          *compared, decision, reason))
            if decision == "promote":
                set_champion(conn, challenger, actor=actor, reason=reason, at=as_of)
            elif decision == "retire":
                retire(conn, challenger, actor=actor, reason=reason, at=as_of)
        log.info("%s v%d vs v%d: %s (%s)", challenger.component_type, challenger.version,
                 champion.version, decision, reason)
        reviews.append(Review(challenger, champion.model_version_id, *compared, decision,
                              reason))
    return reviews
