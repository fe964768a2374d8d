"""Open batches per asset: readings sampled but not yet sealed into a batch.

A batch of an asset is sealed when it holds ``batch_max_readings`` readings (split exactly
there), reaches ``batch_max_bytes`` bytes (estimated) or is ``batch_max_age_s`` seconds old.
The batcher also keeps the readings added since the last spool commit (``fresh``), which the
agent appends to the spool's journal, and tells which assets sealed, whose journal the spool
rewrites with the readings still open. Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from assetwatch.edge_agent.remote_config import AssetSettings
from assetwatch.edge_agent.spool import SealedBatch

__all__ = ["Batcher", "SealedWork"]

#: Bytes a reading takes in a JSON batch besides its sensor name: ``[1767225600000,"",12.3456],``
_READING_OVERHEAD = 28


@dataclass
class _Open:
    readings: list[list[Any]] = field(default_factory=list)
    fresh: list[list[Any]] = field(default_factory=list)
    bytes: int = 0
    opened_at: float = 0.0


@dataclass
class SealedWork:
    """What one spool commit must write (see :meth:`Spool.commit`)."""

    appended: dict[str, list[list[Any]]]
    sealed: list[SealedBatch]
    reopened: dict[str, list[list[Any]]]

    def __bool__(self) -> bool:
        return bool(self.appended or self.sealed or self.reopened)


class Batcher:
    """Open batches of the assets served; ``settings`` is read at every decision, so a remote
    configuration applies to the open batches at once."""

    def __init__(self, assets: Iterable[str], settings: Mapping[str, AssetSettings]) -> None:
        self.settings = settings
        self._open = {a: _Open() for a in assets}
        self._sealed: list[SealedBatch] = []
        self._sealed_assets: set[str] = set()
        self.readings = 0  # readings added
        self.batches = 0  # batches sealed

    def restore(self, journal: Mapping[str, Sequence[list[Any]]], now: float) -> None:
        """Reopen readings journaled by an earlier run (they are in the spool already)."""
        for asset, readings in journal.items():
            ob = self._open.get(asset)
            if ob is not None and readings:
                ob.readings.extend(readings)
                ob.bytes = _size(ob.readings)
                ob.opened_at = now

    def add(self, asset: str, ts_ms: int, values: Sequence[tuple[str, float]], now: float
            ) -> int:
        """Add one sample's readings of the enabled sensors; return how many were added."""
        ob = self._open.get(asset)
        if ob is None:
            return 0
        st = self.settings[asset]
        enabled = st.sensors_enabled
        new: list[list[Any]]
        if enabled is None:
            new = [[ts_ms, s, v] for s, v in values]
        else:
            new = [[ts_ms, s, v] for s, v in values if s in enabled]
        if not new:
            return 0
        if not ob.readings:
            ob.opened_at = now
        ob.readings.extend(new)
        ob.fresh.extend(new)
        ob.bytes += _size(new)
        self.readings += len(new)
        if len(ob.readings) >= st.batch_max_readings or ob.bytes >= st.batch_max_bytes:
            self._seal(asset, whole=False)
        return len(new)

    def seal_due(self, now: float) -> None:
        """Seal the batches that reached their age limit."""
        for asset, ob in self._open.items():
            if ob.readings and asset not in self._sealed_assets and \
                    now - ob.opened_at >= self.settings[asset].batch_max_age_s:
                self._seal(asset, whole=True)

    def seal_all(self) -> None:
        """Seal every open batch (the source ended, or sampling stops)."""
        for asset, ob in self._open.items():
            if ob.readings:
                self._seal(asset, whole=True)

    def take(self) -> SealedWork:
        """The journal appends, sealed batches and rewritten journals since the last call."""
        work = SealedWork(
            appended={a: ob.fresh for a, ob in self._open.items()
                      if ob.fresh and a not in self._sealed_assets},
            sealed=self._sealed,
            reopened={a: list(self._open[a].readings) for a in self._sealed_assets})
        for ob in self._open.values():
            ob.fresh = []
        self._sealed = []
        self._sealed_assets = set()
        return work

    def _seal(self, asset: str, whole: bool) -> None:
        """Close full batches of ``asset``; with ``whole`` (age, end) the remainder too."""
        ob = self._open[asset]
        st = self.settings[asset]
        before = len(self._sealed)
        readings = ob.readings
        while len(readings) >= st.batch_max_readings:
            self._sealed.append(SealedBatch(asset, readings[:st.batch_max_readings]))
            readings = readings[st.batch_max_readings:]
        if readings and (whole or ob.bytes >= st.batch_max_bytes):
            self._sealed.append(SealedBatch(asset, readings))
            readings = []
        ob.readings = readings
        ob.fresh = []
        ob.bytes = _size(readings)
        self._sealed_assets.add(asset)
        self.batches += len(self._sealed) - before


def _size(readings: Sequence[list[Any]]) -> int:
    return sum(len(r[1]) for r in readings) + _READING_OVERHEAD * len(readings)
