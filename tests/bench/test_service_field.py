"""Field service inside ``bench service``: the daily plans' visits are executed through the
product's code and the SLA figure reads the product's clocks, so a crew that cannot go out
must lower it.

Two ``oracle`` rows on a small world (no models: seconds), once per module: the bench's crew,
and the same crew absent for the whole window."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
import pytest

from assetwatch.bench.service_figures import figures
from assetwatch.bench.service_run import RunOptions, ServiceBenchResult, ServiceRun
from assetwatch.core.settings import Settings

START = datetime(2025, 1, 1, tzinfo=UTC)
WORLD = RunOptions(sites=1, assets_per_site=12, days=45, history_days=60, telemetry_days=0,
                   period_days=15, seed=7, dispatch_every_days=1)


class _AbsentCrew(ServiceRun):
    """The bench's crew, every technician absent from the first to the last evaluated day."""

    def _register(self, conn: psycopg.Connection) -> None:
        super()._register(conn)
        conn.execute("INSERT INTO technician_absence (technician_id, first_day, last_day,"
                     " reason) SELECT technician_id, %s, %s, 'test' FROM technician",
                     (self.eval_start.date(), self.end.date()))


@pytest.fixture(scope="module")
def runs(make_database: Callable[[], Settings]
         ) -> dict[str, tuple[Settings, ServiceBenchResult]]:
    out = {}
    for name, run in (("crew", ServiceRun), ("absent", _AbsentCrew)):
        settings = make_database()
        out[name] = settings, run(settings, "oracle", WORLD, start=START).execute()
    return out


def test_visits_are_executed_through_the_product(
        runs: dict[str, tuple[Settings, ServiceBenchResult]]) -> None:
    settings, result = runs["crew"]
    assert result.sla is not None and result.sla.visits > 0
    with psycopg.connect(settings.db_url) as conn:
        visited = conn.execute(
            "SELECT count(*) FROM service_ticket t JOIN visit_work w USING (ticket_id)"
            " JOIN visit v USING (visit_id) WHERE v.status IN ('started', 'done')"
            " AND t.responded_at = v.started_at AND v.technician_id IS NOT NULL").fetchone()
        history = conn.execute("SELECT count(*) FROM ticket_history"
                               " WHERE change = 'in_progress'").fetchone()
        plans = conn.execute("SELECT count(*) FROM dispatch_plan").fetchone()
    assert visited[0] > 0 and history[0] > 0      # the visit's start was the response
    assert plans[0] == WORLD.days                  # one stored plan a day
    row = figures(result, season_days=15)
    assert row["sla_response"] is not None and row["sla_response"] > 0.5
    assert row["dispatch_travel_share"] is not None and row["baseline_travel_share"] is not None


def test_a_crew_that_cannot_go_out_breaches_the_sla(
        runs: dict[str, tuple[Settings, ServiceBenchResult]]) -> None:
    _, crew = runs["crew"]
    settings, absent = runs["absent"]
    assert absent.sla is not None and absent.sla.visits == 0
    on_time = figures(crew, season_days=15)["sla_response"]
    without = figures(absent, season_days=15)["sla_response"]
    assert without is not None and on_time is not None
    assert without < on_time - 0.3
    assert absent.sla.breach_events > (crew.sla.breach_events if crew.sla else 0)
    with psycopg.connect(settings.db_url) as conn:
        recorded = conn.execute("SELECT count(*) FROM sla_event WHERE state = 'breached'"
                                ).fetchone()
    assert recorded[0] >= absent.sla.breach_events


def test_preventive_work_is_dispatched_and_done_in_the_world(
        runs: dict[str, tuple[Settings, ServiceBenchResult]]) -> None:
    """In the window the product's maintenance plans open the work orders, dispatch puts
    them into visits, and only a visit does the task (in the database and in the world)."""
    done: dict[str, int] = {}
    for name, (settings, result) in runs.items():
        with psycopg.connect(settings.db_url) as conn:
            row = conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE e.source = 'visit')"
                " FROM pm_work_order w JOIN visit_work vw USING (work_order_id)"
                " JOIN visit v USING (visit_id) LEFT JOIN asset_event e"
                " ON e.event_id = 'pm-' || w.work_order_id"
                " WHERE w.status = 'closed' AND v.status = 'done'").fetchone()
            waiting = conn.execute("SELECT count(*) FROM pm_work_order"
                                   " WHERE status <> 'closed'").fetchone()
        assert row is not None and row[0] == row[1]     # each done one has its event
        assert result.preventive_done == row[0]         # and happened in the world
        done[name] = row[0]
        if name == "absent":
            assert waiting is not None and waiting[0] > 0
    assert done["crew"] > 0 and done["absent"] == 0


def test_one_technician_is_on_call_each_weekend(
        runs: dict[str, tuple[Settings, ServiceBenchResult]]) -> None:
    """The bench's crew works Monday to Friday, and each weekend one technician in turn."""
    from datetime import timedelta

    from assetwatch.service.field.crew import load_crew

    settings, _ = runs["crew"]
    with psycopg.connect(settings.db_url) as conn:
        crew = load_crew(conn)
    saturday = datetime(2025, 3, 1, tzinfo=UTC)         # inside the world's window
    on_call = []
    for week in range(len(crew)):
        weekend = saturday + timedelta(days=7 * week)
        working = [t.technician_id for t in crew if t.windows(weekend, weekend
                                                               + timedelta(days=2))]
        assert len(working) == 1
        on_call.append(working[0])
        monday = weekend + timedelta(days=2)
        assert all(t.windows(monday, monday + timedelta(days=1)) for t in crew)
    assert sorted(on_call) == sorted(t.technician_id for t in crew)   # each in turn
