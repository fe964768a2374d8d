"""The dispatch-solver contract: jobs and a crew in, one visit per planned job out.

A :class:`DispatchProblem` counts time in whole minutes from its ``start``. Each working
window of a technician is a tour that leaves home at or after the window opens and is back
home when it closes (a technician with a split shift drives home in between). A solver
returns :class:`Assignment` s; every implementation keeps the contract that
:func:`plan_violations` checks (each job at most once; only by a technician with every skill
it needs; starting no earlier than its kit can be there; one job at a time; inside a working
window with the travel from the previous place and back home). Deadlines are soft: a solver
should meet as many as it can, then drive as little as it can.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import ClassVar

from assetwatch.service.field.crew import Technician
from assetwatch.service.field.geo import Place, travel_minutes
from assetwatch.service.field.jobs import Job

__all__ = ["Assignment", "DispatchProblem", "DispatchSolver", "PlanMetrics", "Tour",
           "plan_metrics", "plan_violations"]


@dataclass(frozen=True)
class Tour:
    """One working window of one technician, in minutes from the problem's start."""

    technician: int
    opens: int
    closes: int


@dataclass(frozen=True)
class DispatchProblem:
    """Jobs, crew, site places and travel speed over ``[start, end)``."""

    start: datetime
    end: datetime
    jobs: tuple[Job, ...]
    crew: tuple[Technician, ...]
    sites: dict[str, Place]
    speed_kmh: float = 60.0
    road_factor: float = 1.3
    _cache: dict[tuple[Place, Place], int] = field(default_factory=dict, compare=False,
                                                   repr=False)

    def minute(self, moment: datetime) -> int:
        """Whole minutes from the start (negative before it)."""
        return int((moment - self.start).total_seconds() // 60)

    def at(self, minute: float) -> datetime:
        return self.start + timedelta(minutes=minute)

    def travel(self, a: Place, b: Place) -> int:
        key = (a, b)
        if key not in self._cache:
            self._cache[key] = travel_minutes(a, b, speed_kmh=self.speed_kmh,
                                              road_factor=self.road_factor)
        return self._cache[key]

    def place(self, job: int) -> Place:
        return self.sites[self.jobs[job].site_id]

    @cached_property
    def tours(self) -> tuple[Tour, ...]:
        """Every working window of every technician, by technician then time."""
        return tuple(Tour(k, self.minute(a), self.minute(b))
                     for k, tech in enumerate(self.crew)
                     for a, b in tech.windows(self.start, self.end))

    @cached_property
    def capable(self) -> tuple[tuple[int, ...], ...]:
        """For each job, the technicians (indexes) with every skill it needs."""
        return tuple(tuple(k for k, t in enumerate(self.crew) if job.doable_by(t))
                     for job in self.jobs)

    def release(self, job: int) -> int:
        return max(0, self.minute(self.jobs[job].release))

    def deadline(self, job: int) -> int | None:
        deadline = self.jobs[job].deadline
        return None if deadline is None else self.minute(deadline)


@dataclass(frozen=True)
class Assignment:
    """Job ``job`` done by technician ``technician`` (indexes into the problem), starting at
    minute ``start`` on site after ``travel`` minutes of driving from the previous place."""

    job: int
    technician: int
    start: int
    travel: int


class DispatchSolver(ABC):
    """Turns a :class:`DispatchProblem` into assignments that keep the module's contract."""

    name: ClassVar[str]

    @abstractmethod
    def solve(self, problem: DispatchProblem) -> list[Assignment]:
        """The planned jobs; jobs left out are not planned in this horizon."""


def _routes(problem: DispatchProblem, plan: list[Assignment]
            ) -> dict[int, list[tuple[Tour, list[Assignment]]]]:
    """Each technician's assignments grouped into the tours that contain their start."""
    out: dict[int, list[tuple[Tour, list[Assignment]]]] = defaultdict(list)
    tours = defaultdict(list)
    for tour in problem.tours:
        tours[tour.technician].append(tour)
    for k, own in tours.items():
        mine = sorted((a for a in plan if a.technician == k), key=lambda a: a.start)
        for tour in own:
            out[k].append((tour, [a for a in mine if tour.opens <= a.start < tour.closes]))
    return out


def plan_violations(problem: DispatchProblem, plan: list[Assignment]) -> list[str]:
    """Every way ``plan`` breaks the contract (empty: it keeps it)."""
    wrong = []
    seen = set()
    for a in plan:
        if a.job in seen:
            wrong.append(f"job {a.job} planned twice")
        seen.add(a.job)
        if a.technician not in problem.capable[a.job]:
            wrong.append(f"job {a.job}: technician {a.technician} lacks a skill")
        if a.start < problem.release(a.job):
            wrong.append(f"job {a.job} starts before its kit can be there")
    inside = 0
    for k, tours in _routes(problem, plan).items():
        home = problem.crew[k].home
        for tour, route in tours:
            inside += len(route)
            place, free = home, tour.opens
            for a in route:
                need = problem.travel(place, problem.place(a.job))
                if a.start < free + need:
                    wrong.append(f"job {a.job}: technician {k} cannot be there at {a.start}")
                place, free = problem.place(a.job), a.start + problem.jobs[a.job].minutes
            if free + problem.travel(place, home) > tour.closes:
                wrong.append(f"technician {k} is not home by the end of the window at "
                             f"{tour.closes}")
    if inside != len(plan):
        wrong.append(f"{len(plan) - inside} job(s) start outside every working window")
    return wrong


@dataclass(frozen=True)
class PlanMetrics:
    """What a plan achieves: SLA attainment, travel share, utilisation; ``overdue`` work
    items were already past their deadline when the plan was made."""

    work_items: int
    planned_items: int
    sla_items: int
    sla_met: int
    travel_minutes: float
    work_minutes: float
    available_minutes: float
    overdue: int = 0

    @property
    def sla_attainment(self) -> float:
        return self.sla_met / self.sla_items if self.sla_items else 1.0

    @property
    def travel_share(self) -> float:
        busy = self.travel_minutes + self.work_minutes
        return self.travel_minutes / busy if busy else 0.0

    @property
    def utilisation(self) -> float:
        busy = self.travel_minutes + self.work_minutes
        return busy / self.available_minutes if self.available_minutes else 0.0


def plan_metrics(problem: DispatchProblem, plan: list[Assignment]) -> PlanMetrics:
    """Measure a plan. An SLA item is a work item with a deadline inside the horizon
    ``[start, end)``; it is met when its job starts by that deadline (unplanned: missed).
    Work already past its deadline at the start is ``overdue``: no plan can meet it, so it
    is counted apart, not as an SLA item. Travel counts the drives home at the end of each
    tour."""
    starts = {a.job: a.start for a in plan}
    horizon = problem.minute(problem.end)
    sla_items = sla_met = overdue = 0
    for j, job in enumerate(problem.jobs):
        for item in job.items:
            if item.deadline is None:
                continue
            deadline = problem.minute(item.deadline)
            if deadline < 0:
                overdue += 1
            elif deadline < horizon:
                sla_items += 1
                sla_met += j in starts and starts[j] <= deadline
    travel = 0.0
    for k, tours in _routes(problem, plan).items():
        for _, route in tours:
            if route:
                last = problem.place(route[-1].job)
                travel += sum(a.travel for a in route) + problem.travel(last,
                                                                        problem.crew[k].home)
    return PlanMetrics(
        work_items=sum(len(j.items) for j in problem.jobs),
        planned_items=sum(len(problem.jobs[a.job].items) for a in plan),
        sla_items=sla_items, sla_met=sla_met, travel_minutes=travel,
        work_minutes=float(sum(problem.jobs[a.job].minutes for a in plan)),
        available_minutes=float(sum(t.closes - t.opens for t in problem.tours)),
        overdue=overdue)
