"""The plug-in interface of reading sources (standard library only; the edge agent and the
simulated world both import it).

A source produces, in time order per asset, :class:`Sample` items (one timestamp, several
sensor values) and :class:`SourceEvent` items (maintenance, part replaced, failure, controller
error). The agent polls it, journals every reading in the spool, batches and publishes.

Shipped sources: :class:`~assetwatch.edge_agent.csv_replay.CsvReplay` and the simulated
world's :class:`~assetwatch.sim.site.SimulatedSite`. A plug-in for real sensors subclasses
:class:`Source` and is named in the agent configuration as ``"module:Class"``; it receives the
``options`` object of the configuration as keyword arguments
(:func:`assetwatch.edge_agent.plugin.load_plugin`).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import NamedTuple

from assetwatch.core.wire import AssetEvent
from assetwatch.errors import AssetwatchError

__all__ = ["AssetIdentity", "CheckpointMismatch", "Sample", "Source", "SourceEvent"]


class CheckpointMismatch(AssetwatchError):
    """A checkpoint given to :meth:`Source.restore` was written by another source or run."""

    exit_code = 4


class AssetIdentity(NamedTuple):
    """An asset a source serves: its tag, its site and the sensors it may report."""

    asset_tag: str
    site_id: str
    sensors: tuple[str, ...] = ()  # empty: not declared, any sensor name is accepted


class Sample(NamedTuple):
    """Readings of one asset taken at one time: ``values`` is ``[(sensor, value), ...]``."""

    asset: str
    ts_ms: int
    values: Sequence[tuple[str, float]]


class SourceEvent(NamedTuple):
    """An asset event; ``components_changed`` asks the agent to re-publish the birth status."""

    asset: str
    event: AssetEvent
    components_changed: bool = False


class Source(ABC):
    """A producer of readings and events for the assets it serves.

    Contract:

    * :meth:`poll` returns items in time order per asset, never blocks much longer than
      ``timeout_s``, and returns an empty list when it has nothing yet; once
      :attr:`exhausted` is true it has nothing more to give.
    * A *replayable* source returns a JSON-able string from :meth:`checkpoint` that marks the
      position just after the last item :meth:`poll` returned; after :meth:`restore` of that
      string it continues with the next item. The agent stores the checkpoint in the spool in
      the same transaction as the journaled readings, so a crash neither loses nor repeats a
      reading. A live source returns ``None`` (readings taken but not yet journaled when
      the process dies are lost; the agent journals after every poll).
    """

    @abstractmethod
    def assets(self) -> Sequence[AssetIdentity]:
        """The assets this source reports for (fixed for the source's lifetime)."""

    @abstractmethod
    def poll(self, max_readings: int, timeout_s: float) -> list[Sample | SourceEvent]:
        """The next items, about ``max_readings`` readings at most."""

    @property
    def exhausted(self) -> bool:
        """True when the source will produce nothing more (a finished replay)."""
        return False

    def checkpoint(self) -> str | None:
        """The position after the last polled item, or ``None`` for a live source."""
        return None

    def restore(self, checkpoint: str) -> None:  # noqa: B027 (optional hook)
        """Continue after the position :meth:`checkpoint` returned."""

    def set_sampling_interval(self, asset_tag: str, seconds: float) -> None:  # noqa: B027
        """Remote configuration changed the sampling interval of one asset (optional)."""

    def components(self, asset_tag: str, at_ms: int | None = None) -> list[dict[str, str]]:
        """Installed components ``{component_type, serial_no, part_no}`` for the birth
        message, as of ``at_ms`` (default: the source's clock)."""
        return []

    def firmware(self, asset_tag: str) -> str | None:
        """The asset controller's firmware version, if known."""
        return None

    def clock_ms(self) -> int:
        """The source's current time in ms (simulated sources run their own clock)."""
        return int(time.time() * 1000)

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Release files or devices."""
