"""Reconnection backoff: exponential, capped, jittered."""

from __future__ import annotations

import random

from assetwatch.edge_agent.link import backoff_delays


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    delays = backoff_delays(0.5, 8.0, random.Random(3))
    got = [next(delays) for _ in range(8)]
    caps = [0.5, 1, 2, 4, 8, 8, 8, 8]
    assert all(cap / 2 <= d <= cap for d, cap in zip(got, caps, strict=True))
    assert len({round(d, 6) for d in got[4:]}) == 4  # jittered, not a fixed delay
