"""Run a simulated fleet through the real edge agent (``assetwatch edge simulate``).

:func:`run_simulation` is what the demo calls: it streams ``days`` simulated days of the fleet
through the spool to the broker as fast as possible (or at ``speed``), writes the ground truth
and returns once everything spooled has been acknowledged by the broker.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from assetwatch.edge_agent.agent import AgentOptions, EdgeAgent
from assetwatch.edge_agent.errors import EdgeError
from assetwatch.edge_agent.fleet import Fleet, from_epoch_ms
from assetwatch.edge_agent.lifecycle import write_ground_truth
from assetwatch.edge_agent.link import MqttEndpoint
from assetwatch.edge_agent.remote_config import AssetSettings
from assetwatch.edge_agent.simulator import FleetSimulator
from assetwatch.edge_agent.spool import Spool

__all__ = ["SimulationSummary", "run_simulation", "unfinished_start"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimulationSummary:
    """Counts of one simulated run (this process's share, if it resumed a spool)."""

    readings: int
    batches: int
    events: int
    failures: int
    acked_readings: int
    elapsed_s: float


def run_simulation(fleet: Fleet, days: float, sample_interval_s: float, mqtt: MqttEndpoint,
                   passwords: Mapping[str, str], prefix: str, spool_path: Path,
                   ground_truth_path: Path | None, speed: float | None = None, *,
                   defaults: AssetSettings | None = None,
                   drain_timeout_s: float | None = 600.0) -> SimulationSummary:
    """Simulate ``fleet`` for ``days`` days from ``fleet.start`` through the edge agent.

    Returns when the source is exhausted and the broker acknowledged every spooled message;
    raises :class:`~assetwatch.edge_agent.errors.EdgeError` if that takes longer than
    ``drain_timeout_s``. A spool left by an interrupted run of the same fleet is resumed.
    """
    source = FleetSimulator(fleet, days, sample_interval_s, speed=speed)
    failures = 0
    if ground_truth_path is not None:
        failures = write_ground_truth(Path(ground_truth_path), source.timelines)
        log.info("ground truth: %d failures in %s", failures, ground_truth_path)
    options = AgentOptions(
        endpoint=mqtt, spool_path=Path(spool_path), prefix=prefix, passwords=passwords,
        defaults=defaults or AssetSettings(batch_max_readings=2000, batch_max_age_s=2.0),
        local_config={"source": "simulator", "sites": len(fleet.sites),
                      "assets": len(fleet.assets), "seed": fleet.seed,
                      "sample_interval_s": sample_interval_s})
    summary = EdgeAgent(source, options).run(drain=True, drain_timeout_s=drain_timeout_s)
    if not summary.drained:
        raise EdgeError(f"the broker at {mqtt.host}:{mqtt.port} did not acknowledge every "
                        f"spooled message within {drain_timeout_s} s; they stay in {spool_path}")
    return SimulationSummary(summary.readings, summary.batches, summary.events, failures,
                             summary.acked_readings, summary.elapsed_s)


def unfinished_start(spool_path: Path, seed: int, asset_tags: Iterable[str]) -> datetime | None:
    """The start of an unfinished simulated run of this fleet whose checkpoint is in the spool.

    ``assetwatch edge simulate`` without ``--start`` resumes such a run after a crash or a
    restart (instead of streaming the history again from a new start); a finished run, another
    seed or another fleet gives ``None``.
    """
    if not Path(spool_path).is_file():
        return None
    spool = Spool(spool_path)
    try:
        text = spool.get_meta("source_checkpoint")
    finally:
        spool.close()
    try:
        state = json.loads(text or "")
        next_ms = state["next_ms"]
        if state["seed"] != seed or set(next_ms) != set(asset_tags):
            return None
        if all(int(ms) >= int(state["end_ms"]) for ms in next_ms.values()):
            return None
        return from_epoch_ms(int(state["start_ms"]))
    except (ValueError, KeyError, TypeError):
        return None
