"""Transaction-scoped advisory locks that serialise changes to one asset's records.

The installed base of an asset (``asset_configuration`` and ``installed_component``, kept as
validity intervals) is changed by read-then-write transactions: close the current row, open
a new one. Two such transactions on the same asset at once (two ingest workers applying a
birth and a ``part_replaced`` event, or a closed ticket and a birth) would both see the same
current row, or none, and the second insert would violate ``installed_component_current``.
Everything that changes those records therefore first takes :func:`lock_installed_base` for
its assets, inside its transaction; the lock is released at commit or rollback.

Deadlock freedom: locks are taken in ascending asset id, in one statement, before the
transaction locks any row of those assets' records.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

__all__ = ["INSTALLED_BASE_LOCK", "lock_installed_base"]

#: The first key of the two-key advisory lock (``pg_advisory_xact_lock(int4, int4)``): the
#: lock space "installed base of an asset"; the second key is the asset id.
INSTALLED_BASE_LOCK = 0x61776962  # "awib"


class _Executes(Protocol):
    def execute(self, query: str, params: object = ..., /) -> object: ...


def lock_installed_base(cur: _Executes, asset_ids: Iterable[int]) -> None:
    """Wait for, then hold until the end of the transaction, the installed-base lock of each
    asset in ``asset_ids`` (a cursor or connection inside a transaction)."""
    ids = sorted({int(a) for a in asset_ids})
    if not ids:
        return
    # unnest keeps the array's order, so the locks are taken in ascending asset id
    cur.execute("SELECT count(pg_advisory_xact_lock(%s, a)) FROM unnest(%s::int4[]) AS a",
                (INSTALLED_BASE_LOCK, ids))
