"""How big and how long the demo's simulated run is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["DemoOptions"]


@dataclass(frozen=True)
class DemoOptions:
    """Size and length of the simulated run; the defaults take a few minutes on 2 cores."""

    sites: int = 2
    assets_per_site: int = 4
    days: float = 90.0
    sample_interval_s: int = 900
    seed: int = 7
    ingest_workers: int = 2
    out_dir: Path | None = None

    def __post_init__(self) -> None:
        from assetwatch.errors import ConfigError

        if self.sites < 1 or self.assets_per_site < 1:
            raise ConfigError("--sites and --assets-per-site must be at least 1")
        if self.days <= 0 or self.sample_interval_s <= 0:
            raise ConfigError("--days and --sample-interval must be positive")
