"""Greedy dispatchers: the fallback when OR-Tools is absent, and the baseline to beat.

Both take jobs in deadline order and put each at the end of one technician's day, at the
first moment that technician can be there (after the kit, inside a working window, home by
its end). They differ in whom they pick:

* :class:`BaselineDispatcher` ("due-date order, nearest free technician"): the technician
  nearest to the site among those who can start by the deadline, else whoever starts first;
* :class:`GreedySolver`: whoever can start first, ties to the least driving.
"""

from __future__ import annotations

from dataclasses import dataclass

from assetwatch.service.field.geo import Place
from assetwatch.service.field.solver import Assignment, DispatchProblem, DispatchSolver, Tour

__all__ = ["BaselineDispatcher", "GreedySolver", "append_late"]


@dataclass
class _Where:
    tour: int           # index into the technician's tours
    place: Place
    free: int           # minute the technician is free at ``place``


@dataclass(frozen=True)
class _Option:
    technician: int
    tour: int
    start: int
    travel: int


class _Greedy(DispatchSolver):
    nearest: bool

    def solve(self, problem: DispatchProblem) -> list[Assignment]:
        tours: dict[int, list[Tour]] = {k: [] for k in range(len(problem.crew))}
        for tour in problem.tours:
            tours[tour.technician].append(tour)
        where = {k: _Where(0, problem.crew[k].home, own[0].opens if own else 0)
                 for k, own in tours.items()}
        order = sorted(range(len(problem.jobs)), key=lambda j: (
            problem.deadline(j) is None, problem.deadline(j) or 0, j))
        plan = []
        for j in order:
            options = [o for k in problem.capable[j]
                       if (o := self._earliest(problem, j, k, tours[k], where[k]))]
            if not options:
                continue
            best = self._pick(problem, j, options, where)
            plan.append(Assignment(j, best.technician, best.start, best.travel))
            where[best.technician] = _Where(best.tour, problem.place(j),
                                            best.start + problem.jobs[j].minutes)
        return plan

    @staticmethod
    def _earliest(problem: DispatchProblem, j: int, k: int, tours: list[Tour],
                  now: _Where) -> _Option | None:
        site, home = problem.place(j), problem.crew[k].home
        back = problem.travel(site, home)
        for index in range(now.tour, len(tours)):
            tour = tours[index]
            place, free = (now.place, now.free) if index == now.tour else (home, tour.opens)
            travel = problem.travel(place, site)
            start = max(free + travel, problem.release(j))
            if start + problem.jobs[j].minutes + back <= tour.closes:
                return _Option(k, index, start, travel)
        return None

    def _pick(self, problem: DispatchProblem, j: int, options: list[_Option],
              where: dict[int, _Where]) -> _Option:
        deadline = problem.deadline(j)
        if self.nearest:
            in_time = [o for o in options if deadline is None or o.start <= deadline]
            if in_time:
                return min(in_time, key=lambda o: (o.travel, o.start))
        return min(options, key=lambda o: (o.start, o.travel))


class BaselineDispatcher(_Greedy):
    """Due-date order, nearest free technician (the reference a plan is measured against)."""

    name = "baseline"
    nearest = True


class GreedySolver(_Greedy):
    """Due-date order, the technician who can start first (the fallback without OR-Tools)."""

    name = "greedy"
    nearest = False


def append_late(problem: DispatchProblem, plan: list[Assignment]) -> list[Assignment]:
    """``plan`` plus the jobs due inside the horizon that it left out, in deadline order,
    each appended at the end of the tour where it can start first (late work is better than
    none)."""
    planned = {a.job for a in plan}
    ends: dict[Tour, tuple[Place, int]] = {}
    by_technician: dict[int, list[Tour]] = {}
    for tour in problem.tours:
        by_technician.setdefault(tour.technician, []).append(tour)
        ends[tour] = (problem.crew[tour.technician].home, tour.opens)
    for a in sorted(plan, key=lambda a: a.start):
        for tour in by_technician[a.technician]:
            if tour.opens <= a.start < tour.closes:
                ends[tour] = (problem.place(a.job), a.start + problem.jobs[a.job].minutes)
    out = list(plan)
    end = problem.minute(problem.end)
    left = sorted((j for j in range(len(problem.jobs)) if j not in planned
                   and (problem.deadline(j) or end) < end),
                  key=lambda j: (problem.deadline(j) is None, problem.deadline(j) or 0, j))
    for j in left:
        best: tuple[int, int, Tour] | None = None
        for k in problem.capable[j]:
            for tour in by_technician.get(k, []):
                place, free = ends[tour]
                travel = problem.travel(place, problem.place(j))
                start = max(free + travel, problem.release(j))
                fits = (start + problem.jobs[j].minutes
                        + problem.travel(problem.place(j), problem.crew[k].home) <= tour.closes)
                if fits and (best is None or start < best[0]):
                    best = (start, travel, tour)
        if best is not None:
            start, travel, tour = best
            out.append(Assignment(j, tour.technician, start, travel))
            ends[tour] = (problem.place(j), start + problem.jobs[j].minutes)
    return out
