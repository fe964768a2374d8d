"""The dispatch-solver contract, run against every solver (as the detector contract is):
skills, calendars, parts, one job at a time, home by the end of the window."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from assetwatch.bench.dispatch_world import generate_workload
from assetwatch.service.field.greedy import BaselineDispatcher, GreedySolver
from assetwatch.service.field.jobs import site_jobs
from assetwatch.service.field.routing import RoutingSolver
from assetwatch.service.field.solver import (
    DispatchProblem,
    DispatchSolver,
    plan_metrics,
    plan_violations,
)
from assetwatch.service.field.work import WorkItem

SOLVERS = [RoutingSolver(time_limit_s=3), GreedySolver(), BaselineDispatcher()]


def _problem(seed: int, *, items: int = 120, technicians: int = 6,
             window_hours: float = 48) -> DispatchProblem:
    world = generate_workload(seed, items=items, technicians=technicians, sites=30)
    work = [WorkItem(i.site_id, 0, i.model_id, (i.failure_mode,), i.minutes, i.deadline,
                     i.deadline if i.sla else None,
                     world.start + timedelta(days=i.parts_days), ()) for i in world.items]
    return DispatchProblem(world.start, world.start + timedelta(days=5),
                           tuple(site_jobs(work, world.crew, window_hours=window_hours,
                                           max_minutes=240)), world.crew, world.sites)


@pytest.mark.parametrize("solver", SOLVERS, ids=lambda s: s.name)
def test_every_solver_keeps_the_contract(solver: DispatchSolver) -> None:
    problem = _problem(3)
    plan = solver.solve(problem)
    assert plan
    assert plan_violations(problem, plan) == []
    # the checker sees each kind of breach
    first = plan[0]
    early = replace(first, start=problem.release(first.job) - 1)
    assert any("before its kit" in v for v in plan_violations(problem, [early]))
    unskilled = [k for k in range(len(problem.crew)) if k not in problem.capable[first.job]]
    if unskilled:
        wrong = replace(first, technician=unskilled[0])
        assert any("lacks a skill" in v for v in plan_violations(problem, [wrong]))
    assert any("twice" in v for v in plan_violations(problem, [first, first]))


def test_routing_drives_less_than_the_baseline_on_time_as_often() -> None:
    problem = _problem(4, window_hours=48)
    one_by_one = _problem(4, window_hours=0)
    routed = plan_metrics(problem, RoutingSolver(time_limit_s=5).solve(problem))
    baseline = plan_metrics(one_by_one, BaselineDispatcher().solve(one_by_one))
    assert routed.sla_attainment >= baseline.sla_attainment - 0.02
    assert routed.travel_share < baseline.travel_share


def test_routing_search_ends_by_its_solution_count_not_the_clock() -> None:
    """The same plan on any machine and at any load: the local search stops after a number of
    solutions, long before a generous time limit (a search stopped by the clock would take
    its whole budget, here 0.02 s per job and day: about 2 s)."""
    import time

    problem = _problem(5, items=30, technicians=2)
    solver = RoutingSolver(time_limit_s=30)
    began = time.perf_counter()
    first = solver.solve(problem)
    seconds = time.perf_counter() - began
    assert first == solver.solve(problem)
    assert len(problem.jobs) * len(problem.tours) <= 1_000       # one model, one budget
    assert seconds < 0.02 * len(problem.jobs) * 5 / 2
