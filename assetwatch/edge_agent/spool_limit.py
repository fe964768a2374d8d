"""What the agent does when its spool is full: the ``spool.full_policy``.

``drop_oldest`` deletes the oldest telemetry batches down to 90 % of ``spool.max_bytes``
(counted in ``dropped_readings``, kept in the spool across restarts); ``stop_sampling`` stops
polling the source until the spool has drained below 90 %. Either is logged as a warning and
shown in ``detail.spool`` of every asset's retained birth (:attr:`SpoolLimit.state`).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from assetwatch.edge_agent.spool import Spool

__all__ = ["SPOOL_POLICIES", "SpoolLimit"]

log = logging.getLogger(__name__)

SPOOL_POLICIES = ("drop_oldest", "stop_sampling")


class SpoolLimit:
    """The spool-full policy of one agent; :meth:`check` after every poll."""

    def __init__(self, policy: str, max_bytes: int) -> None:
        self.policy = policy
        self.max_bytes = max_bytes
        #: Reported in ``detail.spool`` of the births.
        self.state: dict[str, Any] = {"state": "ok", "policy": policy}
        #: True while ``stop_sampling`` holds the source.
        self.paused = False

    def restore(self, spool: Spool) -> None:
        """Read the count of readings dropped by earlier runs."""
        dropped = spool.get_meta("dropped_readings")
        self.state["dropped_readings"] = int(dropped) if dropped else 0

    def check(self, spool: Spool) -> tuple[bool, int]:
        """Apply the policy to the spool's size; ``(changed, readings dropped now)``.

        ``changed`` means the reported state changed (re-publish the births); a policy that
        just paused sampling wants the open batches sealed by the caller.
        """
        limit, size = self.max_bytes, spool.size_bytes
        if self.policy == "drop_oldest":
            if size >= limit:
                dropped = spool.drop_oldest(int(limit * 0.9))
                total = int(self.state.get("dropped_readings", 0)) + dropped
                self.state.update(state="full", dropped_readings=total,
                                  last_drop_at=int(time.time() * 1000))
                log.warning("spool full (%d of %d bytes): dropped the %d oldest readings "
                            "(policy drop_oldest, %d dropped in total)", size, limit, dropped,
                            total)
                return True, dropped
            if self.state["state"] == "full" and size < limit * 0.8:
                self.state["state"] = "ok"
                return True, 0
            return False, 0
        if not self.paused and size >= limit:
            self.paused = True
            self.state.update(state="full", sampling="stopped", since=int(time.time() * 1000))
            log.warning("spool full (%d of %d bytes): sampling stopped (policy stop_sampling) "
                        "until the backlog drains", size, limit)
            return True, 0
        if self.paused and size < limit * 0.9:
            self.paused = False
            self.state.update(state="ok", sampling="running")
            log.info("spool below its limit again (%d bytes): sampling resumed", size)
            return True, 0
        return False, 0
