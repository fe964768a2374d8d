"""The routing solver over the whole horizon, and which work shares a visit: work at one site
due on different days shares a trip when its deadlines allow, and work that is ready is not
held back for parts still on the way."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from assetwatch.service.field.crew import Technician
from assetwatch.service.field.jobs import site_jobs
from assetwatch.service.field.routing import RoutingSolver
from assetwatch.service.field.solver import DispatchProblem, plan_metrics, plan_violations
from assetwatch.service.field.work import WorkItem

MONDAY = datetime(2026, 3, 2, 0, tzinfo=UTC)
HOME = (48.0, 11.0)
FAR_SITE = (48.55, 11.0)            # 61 km north: about 80 minutes' drive each way
CREW = (Technician("T1", "Ana", HOME, "UTC", frozenset({("CP-200", "*")}),
                   tuple((d, time(8), time(16, 30)) for d in range(1, 6)), ()),)


def _item(ticket: int, *, release_h: float, deadline_h: float) -> WorkItem:
    return WorkItem("s1", ticket, "CP-200", ("bearing_wear",), 60,
                    MONDAY + timedelta(hours=deadline_h), None,
                    MONDAY + timedelta(hours=release_h), (("BRG", 1),), ticket_ids=(ticket,))


def _problem(items: list[WorkItem]) -> DispatchProblem:
    return DispatchProblem(MONDAY, MONDAY + timedelta(days=5),
                           tuple(site_jobs(items, CREW, window_hours=0.0)), CREW,
                           {"s1": FAR_SITE})


def test_ready_work_is_not_merged_with_work_waiting_for_parts() -> None:
    ready = _item(1, release_h=0, deadline_h=40)
    waiting = _item(2, release_h=30, deadline_h=60)
    also_ready = _item(3, release_h=0, deadline_h=50)
    jobs = site_jobs([ready, waiting, also_ready], CREW, window_hours=48)
    assert sorted(tuple(i.ticket_ids[0] for i in job.items) for job in jobs) == [(1, 3), (2,)]


def test_the_whole_horizon_lets_two_days_work_share_one_trip() -> None:
    # ready now, due Wednesday 00:00; its neighbour's kit comes Tuesday 06:00, due Thursday
    problem = _problem([_item(1, release_h=0, deadline_h=48),
                        _item(2, release_h=30, deadline_h=72)])
    whole = RoutingSolver(time_limit_s=1.0).solve(problem)
    by_day = RoutingSolver(time_limit_s=1.0, whole_horizon_size=0).solve(problem)
    for plan in (whole, by_day):
        assert plan_violations(problem, plan) == []
        assert plan_metrics(problem, plan).sla_met == 2
    assert {a.start // 1440 for a in whole} == {1}          # both on Tuesday, one trip
    assert {a.start // 1440 for a in by_day} == {0, 1}      # a day at a time: two trips
    assert (plan_metrics(problem, whole).travel_minutes
            < 0.6 * plan_metrics(problem, by_day).travel_minutes)
