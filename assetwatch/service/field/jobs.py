"""Work at one site in one window becomes one job: one visit, one trip.

Items of a site are taken in deadline order; an item joins the open job of its site when its
deadline is within ``window_hours`` of the job's first deadline, its kit can be there when the
job's can (work that is ready is not held back for parts still on the way, nor the other way
round), the job stays within ``max_minutes`` on site and some technician has every skill the
job then needs, and it is a response visit exactly when the job is (see
:mod:`~assetwatch.service.field.work`). Otherwise it starts a new job.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

from assetwatch.service.field.crew import Technician
from assetwatch.service.field.parts import Kit
from assetwatch.service.field.work import WorkItem

__all__ = ["Job", "site_jobs"]


@dataclass(frozen=True)
class Job:
    """The work one visit covers, at one site."""

    site_id: str
    items: tuple[WorkItem, ...]

    @cached_property
    def minutes(self) -> int:
        return sum(item.minutes for item in self.items)

    @cached_property
    def deadline(self) -> datetime | None:
        deadlines = [i.deadline for i in self.items if i.deadline is not None]
        return min(deadlines) if deadlines else None

    @cached_property
    def release(self) -> datetime:
        return max(item.release for item in self.items)

    @cached_property
    def kit(self) -> Kit:
        kit: dict[str, int] = defaultdict(int)
        for item in self.items:
            for part_no, qty in item.kit:
                kit[part_no] += qty
        return tuple(sorted(kit.items()))

    def doable_by(self, technician: Technician) -> bool:
        """Whether the technician has every skill the job needs."""
        return all(technician.can_do(item.model_id, mode)
                   for item in self.items for mode in item.needs)


def site_jobs(items: Iterable[WorkItem], crew: Sequence[Technician], *,
              window_hours: float = 48.0, max_minutes: int = 480) -> list[Job]:
    """Group work items into jobs (see the module); one job per item with ``window_hours``
    of 0."""
    by_site: dict[str, list[WorkItem]] = defaultdict(list)
    for item in items:
        by_site[item.site_id].append(item)
    jobs = []
    for site_id, site_items in sorted(by_site.items()):
        site_items.sort(key=lambda i: (i.deadline is None, i.deadline or i.release))
        current: list[WorkItem] = []
        for item in site_items:
            if current and _fits(current, item, crew, window_hours, max_minutes):
                current.append(item)
                continue
            if current:
                jobs.append(Job(site_id, tuple(current)))
            current = [item]
        if current:
            jobs.append(Job(site_id, tuple(current)))
    return jobs


def _fits(current: list[WorkItem], item: WorkItem, crew: Sequence[Technician],
          window_hours: float, max_minutes: int) -> bool:
    first = current[0].deadline
    if item.response_only != current[0].response_only or item.release != current[0].release:
        return False
    if window_hours <= 0 or sum(i.minutes for i in current) + item.minutes > max_minutes:
        return False
    if first is not None and item.deadline is not None and (
            item.deadline - first > timedelta(hours=window_hours) or item.release > first):
        return False
    if first is None and item.deadline is not None:
        return False
    if item.deadline is not None and item.release > item.deadline:     # the job's release too
        return False
    job = Job(item.site_id, (*current, item))
    return any(job.doable_by(t) for t in crew)
