"""The ``tickets`` flow: predictions and anomaly events -> service tickets.

Thin: the logic is :func:`assetwatch.service.tickets.update_tickets` (one transaction; the
one-open-ticket-per-key rule makes a retry safe).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from assetwatch.core.db import connect
from assetwatch.core.settings import Settings, load_settings
from assetwatch.flows.hooks import STATE_HOOKS

__all__ = ["tickets_flow"]


@task(retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def update(settings: Settings, as_of: datetime | None, daily_cap_per_site: int,
           open_threshold: float) -> dict[str, int]:
    from assetwatch.service.tickets import TicketPolicy, update_tickets

    policy = TicketPolicy(daily_cap_per_site=daily_cap_per_site, open_threshold=open_threshold)
    with connect(settings, autocommit=True) as conn:
        return asdict(update_tickets(conn, as_of=as_of, policy=policy))


@flow(name="tickets", **STATE_HOOKS)
def tickets_flow(as_of: datetime | None = None, daily_cap_per_site: int = 25,
                 open_threshold: float = 0.5) -> dict[str, int]:
    """Open, update and close tickets at ``as_of`` (default: the newest prediction time, else
    now); returns the counts opened, updated, closed and held back by the daily cap."""
    return update(load_settings(), as_of, daily_cap_per_site, open_threshold)
