"""The error family of service management (master data, demand, policy, tickets)."""

from __future__ import annotations

from dataclasses import dataclass

from assetwatch.errors import AssetwatchError

__all__ = ["DispatchError", "MasterDataError", "OrderError", "PartsError", "Problem",
           "ReturnError", "ServiceError", "StockError", "TicketError", "WarrantyClaimError"]


class ServiceError(AssetwatchError):
    """Base of the expected failures of service management."""


class TicketError(ServiceError):
    """A ticket does not exist or cannot make the requested transition."""


class PartsError(ServiceError):
    """Base of the refused spare-parts operations; nothing was changed."""


class StockError(PartsError):
    """A stock movement or reservation was refused (names part, site and ticket)."""


class OrderError(PartsError):
    """A replenishment order does not exist or cannot take the requested step."""


class ReturnError(PartsError):
    """A removed part's return or repair was refused."""


class WarrantyClaimError(PartsError):
    """A warranty claim was refused (out of warranty, unknown serial, bad transition)."""


@dataclass(frozen=True)
class Problem:
    """One reason a master-data file was rejected: where (file, row) and why."""

    file: str
    row: int | str
    reason: str

    def __str__(self) -> str:
        return f"{self.file} row {self.row}: {self.reason}"


class MasterDataError(ServiceError):
    """Master data was rejected; nothing was loaded. ``problems`` lists every reason."""

    exit_code = 4

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"master data rejected, nothing loaded: {problems[0]}{more}")


class DispatchError(ServiceError):
    """Field service cannot plan or close: an unknown technician or visit, a site without
    coordinates, a bad close-out."""
