"""Response visits and overdue work: a ticket is not left waiting for parts past its
response deadline, and a plan is not blamed for deadlines that passed before it was made."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from assetwatch.service.field.crew import Technician
from assetwatch.service.field.greedy import GreedySolver
from assetwatch.service.field.jobs import site_jobs
from assetwatch.service.field.solver import DispatchProblem, plan_metrics
from assetwatch.service.field.work import WorkItem, response_visits

MONDAY = datetime(2026, 3, 2, 0, tzinfo=UTC)
#: Monday to Friday, 08:00-16:30 UTC
CREW = (Technician("T1", "Ana", (48.0, 11.0), "UTC", frozenset({("CP-200", "*")}),
                   tuple((d, time(8), time(16, 30)) for d in range(1, 6)), ()),)
WINDOWS = [(MONDAY + timedelta(days=d, hours=8), MONDAY + timedelta(days=d, hours=16.5))
           for d in range(5)]


def _item(*, release_h: float, deadline_h: float, awaiting: bool = True,
          site: str = "s1") -> WorkItem:
    return WorkItem(site, 1, "CP-200", ("bearing_wear",), 120,
                    MONDAY + timedelta(hours=deadline_h), MONDAY + timedelta(hours=deadline_h),
                    MONDAY + timedelta(hours=release_h), (("BRG", 1),), ticket_ids=(1,),
                    awaiting_response=awaiting)


def test_a_kit_too_late_for_the_response_makes_a_response_visit() -> None:
    late = _item(release_h=60, deadline_h=48)           # kit Wednesday noon, due Wednesday 0:00
    (visit,) = response_visits([late], WINDOWS, MONDAY)
    assert visit.response_only and visit.kit == () and visit.release == MONDAY


def test_a_kit_in_time_for_a_working_window_waits_for_its_kit() -> None:
    in_time = _item(release_h=30, deadline_h=48)        # kit Tuesday 06:00, due Wednesday
    assert response_visits([in_time], WINDOWS, MONDAY) == [in_time]


def test_a_kit_arriving_after_the_last_window_before_the_deadline_does_not_wait() -> None:
    # kit Tuesday 16:00, due Wednesday 00:00: no window fits 2 h of work in between
    weekend_like = _item(release_h=40, deadline_h=48)
    (visit,) = response_visits([weekend_like], WINDOWS, MONDAY)
    assert visit.response_only


def test_responded_tickets_and_kits_at_hand_are_left_as_they_are() -> None:
    responded = _item(release_h=60, deadline_h=48, awaiting=False)
    at_hand = _item(release_h=0, deadline_h=4)          # nothing fits, but the kit is here
    assert response_visits([responded, at_hand], WINDOWS, MONDAY) == [responded, at_hand]


def test_response_visits_are_not_merged_with_repairs() -> None:
    response = response_visits([_item(release_h=60, deadline_h=48)], WINDOWS, MONDAY)[0]
    repair = _item(release_h=0, deadline_h=50, awaiting=False)
    jobs = site_jobs([response, repair], CREW, window_hours=48, max_minutes=480)
    assert len(jobs) == 2


def test_overdue_work_is_counted_apart_from_the_due_work() -> None:
    overdue = _item(release_h=0, deadline_h=-24, awaiting=False, site="s1")
    due = _item(release_h=0, deadline_h=20, awaiting=False, site="s2")
    problem = DispatchProblem(MONDAY, MONDAY + timedelta(days=5),
                              tuple(site_jobs([overdue, due], CREW)), CREW,
                              {"s1": (48.01, 11.0), "s2": (48.02, 11.0)})
    metrics = plan_metrics(problem, GreedySolver().solve(problem))
    assert metrics.overdue == 1
    assert (metrics.sla_items, metrics.sla_met) == (1, 1)

