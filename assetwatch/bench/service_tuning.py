"""Choosing the ticket policy on a tuning world: the ticket logic replayed over one run.

The thresholds of :class:`~assetwatch.service.tickets.TicketPolicy` decide how many tickets
the pipeline's signals become; the signals themselves (the failure models' predictions and
the detectors' anomaly events) do not depend on them. So one ``pipeline`` run of ``bench
service`` on a tuning world (``--keep-database``) is enough: :func:`replay_policy` runs the
benchmark's day loop again (:class:`~assetwatch.bench.service_run.ServiceRun`: the world's
failures and repairs, ``update_tickets`` with the candidate policy, demand, policy, the
product's stock) with :class:`ReplaySignals` in place of the pipeline, which copy into the
replay's database, day by day, what the kept run's pipeline had written by that day:

* the predictions made at ``t`` (``failure_prediction``; each model version they came from
  becomes a ``bench-replay`` version with its parameters, which the risk reads (the
  remaining-life cap), without its artifact);
* the anomaly events started before ``t``, each with its end only once it has ended by ``t``.

What a replay cannot reproduce: an event's ``peak_score`` is its final one (an event still
open at ``t`` may have peaked later), and the failure models' labels of the kept run came
from its own tickets' closings (a ticket closed as a confirmed failure is a label; the
trainings of a replayed policy would have seen slightly other labels). Both are small next
to the policy's effect; :func:`replay_policy` with the run's own policy shows how close a
replay comes to the run (``bench service --tune-tickets`` prints it first).

:func:`choose_policy` replays every candidate of a grid and chooses, among those with at
most ``max_tickets_per_failure`` tickets per failure, the one that tickets the most failures
with a precursor >= 24 h ahead (ties: fewer tickets per failure, then the grid's order); with
none under the cap, the one with the fewest tickets per failure. Never run on the reported
world (seed 7): the chosen values are shipped, and the reported figures must not have chosen
them.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from assetwatch.bench.service_run import RunOptions, ServiceBenchResult, ServiceRun
from assetwatch.core.settings import Settings
from assetwatch.service.tickets import TicketPolicy

__all__ = ["REPORTED_SEED", "TUNING_GRID", "PolicyScore", "ReplayRun", "ReplaySignals",
           "choose_policy", "kept_pipeline", "policy_grid", "replay_policy"]

log = logging.getLogger(__name__)

#: the seed of the reported (default) world: never a tuning world
REPORTED_SEED = 7

#: the candidates :func:`choose_policy` tries by default: each field's values, every
#: combination (the other fields keep the product's defaults)
TUNING_GRID: dict[str, tuple[float, ...]] = {
    "anomaly_weight": (0.5, 0.3, 0.15),
    "open_threshold": (0.5, 0.65, 0.8),
}

_PREDICTION_COLUMNS = ("predicted_at, asset_id, component_type, horizon_days,"
                       " failure_probability, rul_days, rul_low_days, rul_high_days")


@dataclass(frozen=True)
class PolicyScore:
    """The ticket figures of one replayed policy."""

    policy: TicketPolicy
    failures: int
    precursor_ticketed: float | None    # share of failures with a precursor, >= 24 h ahead
    tickets_per_failure: float | None
    false_ticket_share: float | None
    stock_value_vs_naive: float | None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["policy"] = asdict(self.policy)
        return out


class ReplaySignals:
    """The kept run's pipeline signals, copied into the replay's database up to each day."""

    def __init__(self, conn: psycopg.Connection, source: psycopg.Connection,
                 ids: dict[str, int]) -> None:
        self.source = source
        source_ids = dict(source.execute("SELECT asset_tag, asset_id FROM asset").fetchall())
        missing = sorted(set(ids) - set(source_ids))
        if missing:
            raise ValueError(f"the kept run's database has no asset {missing[0]!r}: not the"
                             " same world")
        self.asset_map = {source_ids[tag]: asset_id for tag, asset_id in ids.items()}
        self._versions: dict[int, int] = {}  # source model version -> replay version
        self._open: dict[int, int] = {}     # source event id -> replay event id, still open
        self._copied_until: datetime | None = None

    def advance(self, conn: psycopg.Connection, t: datetime) -> None:
        """The predictions made at ``t`` and the anomaly events as they stood at ``t``."""
        conn.execute("DELETE FROM failure_prediction WHERE predicted_at < %s", (t,))
        rows = self.source.execute(
            f"SELECT {_PREDICTION_COLUMNS}, model_version_id FROM failure_prediction"
            " WHERE predicted_at = %s", (t,)).fetchall()
        versions = {int(r[-1]) for r in rows} - set(self._versions)
        for source_id in sorted(versions):
            self._versions[source_id] = self._copy_version(conn, source_id)
        with conn.cursor() as cur, cur.copy(f"COPY failure_prediction ({_PREDICTION_COLUMNS},"
                                            " model_version_id) FROM STDIN") as copy:
            for r in rows:
                copy.write_row((r[0], self.asset_map[r[1]], *r[2:-1],
                                self._versions[int(r[-1])]))
        self._copy_events(conn, t)

    def _copy_version(self, conn: psycopg.Connection, source_id: int) -> int:
        """A ``bench-replay`` model version with the parameters of the kept run's version
        ``source_id`` (the risk reads them, for example the remaining-life cap); no
        artifact."""
        row = self.source.execute("SELECT component_type, params FROM model_version"
                                  " WHERE model_version_id = %s", (source_id,)).fetchone()
        component_type, params = row if row is not None else (None, {})
        out = conn.execute(
            "INSERT INTO model_version (model_name, component_type, version, is_current,"
            " params) VALUES ('bench-replay', %s, %s, false, %s) RETURNING model_version_id",
            (component_type, source_id, Jsonb({**params, "replay_of": source_id}))).fetchone()
        assert out is not None
        return int(out[0])

    def _copy_events(self, conn: psycopg.Connection, t: datetime) -> None:
        since = self._copied_until
        new = self.source.execute(
            "SELECT anomaly_event_id, asset_id, detector, kind, started_at, ended_at,"
            " peak_score, sensors FROM anomaly_event WHERE started_at < %s"
            " AND (%s::timestamptz IS NULL OR started_at >= %s) ORDER BY started_at",
            (t, since, since)).fetchall()
        for event_id, asset_id, detector, kind, started, ended, peak, sensors in new:
            row = conn.execute(
                "INSERT INTO anomaly_event (asset_id, detector, kind, started_at, ended_at,"
                " peak_score, sensors) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                " RETURNING anomaly_event_id",
                (self.asset_map[asset_id], detector, kind, started,
                 ended if ended is not None and ended <= t else None, peak, sensors)
            ).fetchone()
            assert row is not None
            if ended is None or ended > t:
                self._open[int(event_id)] = int(row[0])
        if self._open:
            ended_now = self.source.execute(
                "SELECT anomaly_event_id, ended_at FROM anomaly_event"
                " WHERE anomaly_event_id = ANY(%s) AND ended_at <= %s",
                (sorted(self._open), t)).fetchall()
            for event_id, ended in ended_now:
                conn.execute("UPDATE anomaly_event SET ended_at = %s WHERE anomaly_event_id"
                             " = %s", (ended, self._open.pop(int(event_id))))
        self._copied_until = t


class ReplayRun(ServiceRun):
    """The ``pipeline`` row's day loop with :class:`ReplaySignals` of the kept run in
    ``source`` (its database's settings) in place of the pipeline."""

    def __init__(self, settings: Settings, options: RunOptions, *, start: datetime,
                 source: Settings) -> None:
        super().__init__(settings, "pipeline", options, start=start)
        self.source = source
        self._source_conn: psycopg.Connection | None = None

    def _signals(self, conn: psycopg.Connection) -> ReplaySignals:   # type: ignore[override]
        self._source_conn = psycopg.connect(self.source.db_url, autocommit=True)
        return ReplaySignals(conn, self._source_conn, self.ids)

    def execute(self) -> ServiceBenchResult:
        try:
            return super().execute()
        finally:
            if self._source_conn is not None:
                self._source_conn.close()


def policy_grid(grid: dict[str, Sequence[float]] | None = None,
                base: TicketPolicy | None = None) -> list[TicketPolicy]:
    """Every combination of ``grid``'s values (default :data:`TUNING_GRID`) over ``base``;
    combinations whose close threshold is not below the open threshold are left out."""
    grid = grid or TUNING_GRID
    base = base or TicketPolicy()
    names = list(grid)
    out = []
    for values in itertools.product(*(grid[n] for n in names)):
        policy = replace(base, **dict(zip(names, values, strict=True)))
        if policy.close_threshold < policy.open_threshold:
            out.append(policy)
    return out


def replay_policy(settings: Settings, source: Settings, options: RunOptions,
                  policy: TicketPolicy, *, start: datetime) -> PolicyScore:
    """Replay ``policy`` over the kept run in ``source`` (same ``options``, same world) in a
    fresh scratch database beside ``settings``; its ticket figures."""
    from assetwatch.bench.service import season_days
    from assetwatch.bench.service_figures import figures
    from assetwatch.core.scratch import drop_database, fresh_database

    if options.seed == REPORTED_SEED:
        raise ValueError(f"seed {REPORTED_SEED} is the reported world; tune on another seed")
    scratch = fresh_database(settings, f"bench_service_replay_s{options.seed}")
    try:
        run = ReplayRun(scratch, replace(options, ticket_policy=policy,
                                         dispatch_every_days=0), start=start, source=source)
        result = run.execute()
    finally:
        drop_database(settings, scratch)
    out = figures(result, season_days=season_days(options))
    return PolicyScore(policy, out["failures"], out["ticketed_24h_precursor"],
                       out["tickets_per_failure"], out["false_ticket_share"],
                       out["stock_value_vs_naive"])


def choose_policy(scores: Iterable[PolicyScore], *, max_tickets_per_failure: float = 1.3
                  ) -> PolicyScore:
    """The rule of the module docstring over replayed ``scores`` (in the grid's order)."""
    scores = list(scores)
    if not scores:
        raise ValueError("no replayed policy to choose from")
    within = [s for s in scores if s.tickets_per_failure is not None
              and s.tickets_per_failure <= max_tickets_per_failure]
    if within:
        return max(within, key=lambda s: (s.precursor_ticketed or 0.0,
                                          -(s.tickets_per_failure or 0.0),
                                          -scores.index(s)))
    return min(scores, key=lambda s: (float("inf") if s.tickets_per_failure is None
                                      else s.tickets_per_failure, scores.index(s)))


def tune_tickets(settings: Settings, options: RunOptions, *, start: datetime,
                 grid: dict[str, Sequence[float]] | None = None, reuse: bool = False,
                 max_tickets_per_failure: float = 1.3) -> dict[str, Any]:
    """``bench service --tune-tickets``: the ``pipeline`` row on the tuning world
    ``options`` (kept in its database; with ``reuse`` an earlier run's kept database is
    used as it is), then every candidate of ``grid`` (over the product's
    :class:`TicketPolicy` defaults) replayed over it; the scores of the run's own policy
    (``options.ticket_policy``) replayed, of every candidate, and the chosen one."""
    if options.seed == REPORTED_SEED:
        raise ValueError(f"seed {REPORTED_SEED} is the reported world; tune the ticket policy"
                         " on another seed (for example --seed 1)")
    source, run = kept_pipeline(settings, options, reuse=reuse)
    scores = []
    for policy in policy_grid(grid, TicketPolicy()):
        score = replay_policy(settings, source, options, policy, start=start)
        log.info("replayed %s: %s", _changed(policy, TicketPolicy()), score)
        scores.append(score)
    baseline = next((s for s in scores if s.policy == options.ticket_policy), None) or \
        replay_policy(settings, source, options, options.ticket_policy, start=start)
    chosen = choose_policy(scores, max_tickets_per_failure=max_tickets_per_failure)
    return {"run": run, "replayed_run_policy": baseline.as_dict(),
            "candidates": [s.as_dict() for s in scores], "chosen": chosen.as_dict(),
            "max_tickets_per_failure": max_tickets_per_failure}


def kept_pipeline(settings: Settings, options: RunOptions, *, reuse: bool
                  ) -> tuple[Settings, dict[str, Any] | None]:
    """The settings of the ``pipeline`` row's kept database on the world ``options``, after
    running the row there (``reuse``: an earlier run's, as it is), and the run's figures
    (None when reused)."""
    from assetwatch.bench.service import run_service_bench, season_days
    from assetwatch.bench.service_figures import figures

    world = f"{options.sites}x{options.assets_per_site}_{options.days}d_s{options.seed}"
    source = settings.model_copy(update={"db_url": _scratch_url(
        settings, f"bench_service_pipeline_{world}")})
    if reuse:
        return source, None
    result = run_service_bench(settings, "pipeline", options, keep_database=True)
    row = figures(result, season_days=season_days(options))
    run = {k: row[k] for k in ("failures", "ticketed_24h_precursor", "tickets_per_failure",
                               "false_ticket_share", "stock_value_vs_naive", "fill_rate",
                               "naive_fill_rate", "first_time_fix")}
    run["seconds"] = result.seconds
    return source, run


def _scratch_url(settings: Settings, suffix: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(settings.db_url)
    name = f"{parts.path.lstrip('/') or 'assetwatch'}_{suffix}"
    return urlunsplit(parts._replace(path=f"/{name}"))


def _changed(policy: TicketPolicy, base: TicketPolicy) -> dict[str, Any]:
    """The fields where ``policy`` differs from ``base``."""
    return {k: v for k, v in asdict(policy).items() if asdict(base)[k] != v}
