"""The remote configurations the agent holds, one per asset: accepted, rejected, restored.

A configuration arrives on the asset's retained ``.../config`` topic
(:func:`~assetwatch.edge_agent.remote_config.parse_remote_config` checks it). An accepted one
changes the asset's settings (batch limits, enabled sensors; the sampling interval is passed
to the source) and is kept in the spool, so a restarted agent starts with it; a rejected one
is logged and reported with its reason while the previous one stays active. The state of
each asset is shown in ``detail.config`` of its birth and hashed into its ``config_hash``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, MutableMapping
from typing import Any

from assetwatch.core.source import AssetIdentity, Source
from assetwatch.edge_agent.errors import RemoteConfigError
from assetwatch.edge_agent.remote_config import (
    AssetSettings,
    apply_remote_config,
    document_hash,
    parse_remote_config,
)
from assetwatch.edge_agent.spool import Spool

__all__ = ["RemoteConfigs"]

log = logging.getLogger(__name__)


class RemoteConfigs:
    """Remote configuration per asset; ``settings`` (shared with the batcher) is updated in
    place when a configuration is accepted."""

    def __init__(self, assets: Mapping[str, AssetIdentity], defaults: AssetSettings,
                 settings: MutableMapping[str, AssetSettings], source: Source) -> None:
        self._assets = assets
        self._defaults = defaults
        self._settings = settings
        self._source = source
        #: The active remote configuration of each asset (empty: the local defaults).
        self.active: dict[str, dict[str, Any]] = {a: {} for a in assets}
        self._state: dict[str, dict[str, Any]] = {a: {"state": "local"} for a in assets}

    def state(self, asset: str) -> dict[str, Any]:
        """``detail.config`` of the asset's birth: ``state`` (local, accepted, rejected), the
        reason of a rejection, and ``active_hash``, the hash of the document in force
        (:func:`~assetwatch.edge_agent.remote_config.document_hash`)."""
        return {**self._state[asset], "active_hash": document_hash(self.active[asset])}

    def restore(self, spool: Spool) -> None:
        """Accept again what earlier runs accepted (kept in the spool)."""
        for asset in self._assets:
            text = spool.get_meta(f"remote_config:{asset}")
            if text:
                self._accept(asset, json.loads(text), None)

    def receive(self, asset: str, payload: bytes, spool: Spool | None) -> bool:
        """Handle one ``.../config`` message; True when the asset's birth should be
        re-published (accepted a new configuration, or rejected one)."""
        try:
            doc = parse_remote_config(payload, self._assets[asset].sensors)
        except RemoteConfigError as e:
            log.warning("%s: remote configuration rejected: %s; keeping the previous one",
                        asset, e)
            self._state[asset] = {"state": "rejected", "reason": str(e),
                                  "at": int(time.time() * 1000), "active": self.active[asset]}
            return True
        if doc == self.active[asset] and self._state[asset]["state"] != "rejected":
            return False  # the retained configuration again, after a reconnection
        self._accept(asset, doc, spool)
        return True

    def _accept(self, asset: str, doc: dict[str, Any], spool: Spool | None) -> None:
        self.active[asset] = doc
        self._settings[asset] = apply_remote_config(self._defaults, doc)
        interval = self._settings[asset].sampling_interval_s
        if interval is not None:
            self._source.set_sampling_interval(asset, interval)
        self._state[asset] = {"state": "accepted", "at": int(time.time() * 1000)}
        if spool is not None:
            spool.set_meta(f"remote_config:{asset}", json.dumps(doc, sort_keys=True))
            log.info("%s: remote configuration accepted: %s", asset, doc)
