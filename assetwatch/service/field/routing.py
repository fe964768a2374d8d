"""Dispatch with OR-Tools' vehicle routing, over the whole horizon or a working day at a time.

Each working window of a technician (a tour) is a vehicle that starts and ends at the
technician's home inside the window. A small problem (at most :data:`WHOLE_HORIZON_SIZE`
jobs x tours) is one model over every tour of the horizon, so work at one site due on
different days can share a trip; a larger one is solved a day at a time, the days in order,
each over the jobs not planned yet (a day keeps each model small enough for the local search
to work in seconds). The model (``ortools.constraint_solver``): a node per job and per home;
a time dimension carries travel plus time on site; a job starts no earlier than its kit can
be there (hard), and only on a tour of a technician with every skill it needs
(``VehicleVar``). A job due inside the block *must* be done in it: for the whole horizon,
due before its end; for a day, due before the next day's first tour opens (plus
``must_margin_minutes``: the first hours of a day are short). Leaving such a job out costs
``must_cost``, and where some technician can still reach it in time it has to start by its
deadline (hard, which also prunes the search), else it pays ``late_cost`` per minute late. A
day's solve leaving out a job due later in the horizon pays ``due_cost``; leaving out one due
after the horizon costs ``idle_cost`` (so it is done now only when it is nearly on the way).
The arc cost is the travel time: among plans equally on time, the one that drives least. The
search starts from the greedy plan of the jobs that must be done
(:class:`~assetwatch.service.field.greedy.GreedySolver`; parallel cheapest insertion if the
model refuses it) and improves it by guided local search until it has found
:data:`SOLUTION_LIMIT` solutions (at least :data:`SOLUTIONS_PER_JOB` per candidate job), so
that a plan is the same on any machine and at any load. The clock stops the search only as a
cap for large problems: 0.02 s per candidate job and day, at least 0.5 s and at most
``time_limit_s`` (a day: at most its share of it). Due jobs still left out are appended late
where a tour has room (:func:`~assetwatch.service.field.greedy.append_late`).

The default costs, time limit and :data:`WHOLE_HORIZON_SIZE` were chosen on ``bench dispatch
--seed 1``, the solution limits on it and on the 120 daily plans of ``bench service --rows
pipeline --seed 1 --days 120`` (each re-solved offline: see the constants). Start times are
laid out along each route as early as the route allows, so a plan keeps the solver contract
exactly (:func:`~assetwatch.service.field.solver.plan_violations`)."""

from __future__ import annotations

from collections import defaultdict

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from assetwatch.service.field.geo import Place
from assetwatch.service.field.greedy import GreedySolver, append_late
from assetwatch.service.field.solver import (
    Assignment,
    DispatchProblem,
    DispatchSolver,
    Tour,
)

__all__ = ["SOLUTIONS_PER_JOB", "SOLUTION_LIMIT", "WHOLE_HORIZON_SIZE", "RoutingSolver"]

#: a problem of at most this many jobs x tours is solved as one model over the whole horizon,
#: a larger one a day at a time. Chosen on ``bench dispatch --seed 1``: with 50 work items and
#: 4 technicians (about 900) the whole horizon kept every due item on time that the day-by-day
#: solve did, at 0.78 instead of 0.88 of the baseline's travel share (4.8 s; it leaves more of
#: the work due after the horizon for later: 40 items planned instead of 47); with 100 items
#: and 6 technicians it lost 2 of 38 due items (30 s), and with 1,000 items and 30
#: technicians it planned 380 items where the day-by-day solve planned 933
WHOLE_HORIZON_SIZE = 1_000

#: the local search stops after this many solutions (the same plan on any machine and at any
#: load), or at the time limit where that comes first. Chosen on seed 1's 120 service plans
#: (3-25 jobs each; travel share of the plans, wall time of the 120 solves): 30 solutions
#: 35.95 % (2.0 s), 50: 35.58 % (3.6 s), 100: 35.28 % (8.0 s), 200 and 300: 35.28 % (16 s,
#: 27 s); the search stopped by the clock (1 s per plan, as before): 35.31 % (66 s); local
#: descent without the guided search: 35.45 % (0.8 s). The due work on time was the same
#: (107 of 379) for all but 30 solutions (108)
SOLUTION_LIMIT = 100

#: ... and at least this many per candidate job, for large problems. Chosen on ``bench
#: dispatch --seed 1`` (1,000 work items, 30 technicians, 5 days, solved a day at a time): 100
#: solutions per day planned 654 items at 41.1 % travel share, 1 per job 904 at 37.2 %, 3 per
#: job 937 at 37.0 % (26 s, the clock stopping some days) against 936 at 37.2 % by the clock
#: alone (26 s); with 50 and 100 items the plans are those of 100 solutions
SOLUTIONS_PER_JOB = 3


class RoutingSolver(DispatchSolver):
    """OR-Tools routing with time windows, skills and optional jobs (see the module)."""

    name = "ortools-routing"

    def __init__(self, time_limit_s: float = 30.0, late_cost: int = 50,
                 must_cost: int = 200_000, due_cost: int = 300, idle_cost: int = 60,
                 must_margin_minutes: int = 240,
                 whole_horizon_size: int = WHOLE_HORIZON_SIZE,
                 solution_limit: int = SOLUTION_LIMIT,
                 solutions_per_job: int = SOLUTIONS_PER_JOB) -> None:
        self.time_limit_s = time_limit_s
        self.solution_limit = solution_limit
        self.solutions_per_job = solutions_per_job
        self.whole_horizon_size = whole_horizon_size
        self.must_margin_minutes = must_margin_minutes
        self.late_cost = late_cost
        self.must_cost = must_cost
        self.due_cost = due_cost
        self.idle_cost = idle_cost

    def solve(self, problem: DispatchProblem) -> list[Assignment]:
        whole = len(problem.jobs) * len(problem.tours) <= self.whole_horizon_size
        plan = self._solve_whole(problem) if whole else self._solve_by_day(problem)
        return append_late(problem, plan)

    def _solve_whole(self, problem: DispatchProblem) -> list[Assignment]:
        """One model over every tour; a job must be done when due before the horizon ends."""
        closes = max((t.closes for t in problem.tours), default=0)
        jobs = [j for j in range(len(problem.jobs)) if problem.release(j) < closes]
        days = len({t.opens // 1440 for t in problem.tours})
        budget = min(self.time_limit_s, max(0.5, 0.02 * len(jobs) * days))
        return self._solve_block(problem, list(problem.tours), jobs,
                                 problem.minute(problem.end), budget)

    def _solve_by_day(self, problem: DispatchProblem) -> list[Assignment]:
        """The days in order, each over the jobs not planned yet; a job must be done on a day
        when due before the next day's first tour opens (plus the margin)."""
        days: dict[int, list[Tour]] = defaultdict(list)
        for tour in problem.tours:
            days[tour.opens // 1440].append(tour)
        plan: list[Assignment] = []
        for n, day in enumerate(sorted(days)):
            tours = days[day]
            following = [t.opens for d in sorted(days)[n + 1:] for t in days[d]]
            planned = {a.job for a in plan}
            jobs = [j for j in range(len(problem.jobs)) if j not in planned
                    and problem.release(j) < max(t.closes for t in tours)]
            budget = min(self.time_limit_s / len(days), max(0.5, 0.02 * len(jobs)))
            must_before = (min(following) + self.must_margin_minutes if following
                           else None)
            plan += self._solve_block(problem, tours, jobs, must_before, budget)
        return plan

    def _solve_block(self, problem: DispatchProblem, tours: list[Tour], jobs: list[int],
                     must_before: int | None, seconds: float) -> list[Assignment]:
        if not jobs or not tours:
            return []
        manager, routing, must = self._model(problem, tours, jobs, must_before)
        parameters = pywrapcp.DefaultRoutingSearchParameters()
        parameters.first_solution_strategy = (
            routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION)
        parameters.local_search_metaheuristic = (
            routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH)
        parameters.time_limit.FromMilliseconds(max(100, int(seconds * 1000)))
        parameters.solution_limit = max(self.solution_limit,
                                          self.solutions_per_job * len(jobs))
        routes = _greedy_routes(problem, tours, jobs, must)
        initial = routing.ReadAssignmentFromRoutes(routes, True)
        solution = (routing.SolveFromAssignmentWithParameters(initial, parameters)
                    if initial is not None else routing.SolveWithParameters(parameters))
        return [] if solution is None else _lay_out(problem, tours, jobs, routing, manager,
                                                     solution)

    def _model(self, problem: DispatchProblem, tours: list[Tour], jobs: list[int],
               must_before: int | None
               ) -> tuple[pywrapcp.RoutingIndexManager, pywrapcp.RoutingModel, set[int]]:
        """The model over ``jobs`` (node n is ``jobs[n]``) and ``tours``, and the jobs that
        must be done in them: due before ``must_before`` (None: every job with a
        deadline)."""
        crew = sorted({t.technician for t in tours})
        places = [problem.place(j) for j in jobs] + [problem.crew[k].home for k in crew]
        travel = _matrix(problem, places)
        service = [problem.jobs[j].minutes for j in jobs] + [0] * len(crew)
        homes = [len(jobs) + crew.index(t.technician) for t in tours]
        manager = pywrapcp.RoutingIndexManager(len(places), len(tours), homes, homes)
        routing = pywrapcp.RoutingModel(manager)
        routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitMatrix(travel))
        busy = routing.RegisterTransitMatrix(
            [[service[i] + row[j] for j in range(len(row))] for i, row in enumerate(travel)])
        horizon = max(t.closes for t in tours)
        routing.AddDimension(busy, horizon, horizon, False, "time")
        time = routing.GetDimensionOrDie("time")
        for v, tour in enumerate(tours):
            time.CumulVar(routing.Start(v)).SetRange(tour.opens, tour.closes)
            time.CumulVar(routing.End(v)).SetRange(tour.opens, tour.closes)
        end, must = problem.minute(problem.end), set()
        for n, j in enumerate(jobs):
            index = manager.NodeToIndex(n)
            release, deadline = problem.release(j), problem.deadline(j)
            required = deadline is not None and (must_before is None
                                                 or deadline < must_before)
            reach = [max(t.opens + problem.travel(problem.crew[t.technician].home,
                                                  problem.place(j)), release)
                     for t in tours if t.technician in problem.capable[j]]
            on_time = (required and deadline is not None
                       and min(reach, default=deadline + 1) <= deadline)
            time.CumulVar(index).SetRange(release, deadline if on_time else horizon)
            if deadline is not None and not on_time:
                time.SetCumulVarSoftUpperBound(index, max(deadline, release), self.late_cost)
            if required:
                must.add(j)
            routing.AddDisjunction([index], self.must_cost if required else self.due_cost
                                   if deadline is not None and deadline < end
                                   else self.idle_cost)
            minutes = problem.jobs[j].minutes
            routing.VehicleVar(index).SetValues([-1, *(
                v for v, t in enumerate(tours) if t.technician in problem.capable[j]
                and t.closes - minutes > release and (not on_time or t.opens <= deadline))])
        return manager, routing, must


def _matrix(problem: DispatchProblem, places: list[Place]) -> list[list[int]]:
    unique = list(dict.fromkeys(places))
    position = {p: i for i, p in enumerate(unique)}
    minutes = [[problem.travel(a, b) for b in unique] for a in unique]
    index = [position[p] for p in places]
    return [[minutes[i][j] for j in index] for i in index]


def _greedy_routes(problem: DispatchProblem, tours: list[Tour], jobs: list[int],
                   must: set[int]) -> list[list[int]]:
    """The greedy plan of the day's jobs that must be done today, kept where on time, as
    routes to start the search from."""
    day = DispatchProblem(problem.start, problem.end, problem.jobs, problem.crew,
                          problem.sites, problem.speed_kmh, problem.road_factor)
    object.__setattr__(day, "tours", tuple(tours))
    node = {j: n for n, j in enumerate(jobs)}
    vehicle = {t: v for v, t in enumerate(tours)}
    routes: list[list[int]] = [[] for _ in tours]
    only = DispatchProblem(day.start, day.end, tuple(problem.jobs[j] for j in sorted(must)),
                           problem.crew, problem.sites, problem.speed_kmh, problem.road_factor)
    object.__setattr__(only, "tours", tuple(tours))
    order = sorted(must)
    for a in sorted(GreedySolver().solve(only), key=lambda a: a.start):
        j = order[a.job]
        deadline = problem.deadline(j)
        if deadline is None or a.start > deadline:
            continue
        for tour in tours:
            if tour.technician == a.technician and tour.opens <= a.start < tour.closes:
                routes[vehicle[tour]].append(node[j])
    return routes


def _lay_out(problem: DispatchProblem, tours: list[Tour], jobs: list[int],
             routing: pywrapcp.RoutingModel, manager: pywrapcp.RoutingIndexManager,
             solution: pywrapcp.Assignment) -> list[Assignment]:
    plan = []
    for v, tour in enumerate(tours):
        place, free = problem.crew[tour.technician].home, tour.opens
        index = solution.Value(routing.NextVar(routing.Start(v)))
        while not routing.IsEnd(index):
            j = jobs[manager.IndexToNode(index)]
            travel = problem.travel(place, problem.place(j))
            start = max(free + travel, problem.release(j))
            plan.append(Assignment(j, tour.technician, start, travel))
            place, free = problem.place(j), start + problem.jobs[j].minutes
            index = solution.Value(routing.NextVar(index))
    return plan
