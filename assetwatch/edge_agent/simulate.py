"""Run a simulated site through the real edge agent (``assetwatch edge simulate``).

:func:`run_simulation` is what the demo calls: it loads the simulated world's source plug-in
by name (the gateway package does not import ``assetwatch.sim``), streams ``days`` simulated
days through the spool to the broker as fast as possible (or at ``speed``), has the ground
truth written and returns once everything spooled was delivered.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from assetwatch.edge_agent.agent import AgentOptions, EdgeAgent
from assetwatch.edge_agent.config_file import SIMULATOR
from assetwatch.edge_agent.errors import EdgeError
from assetwatch.edge_agent.link import MqttEndpoint
from assetwatch.edge_agent.plugin import load_plugin
from assetwatch.edge_agent.remote_config import AssetSettings
from assetwatch.edge_agent.spool import Spool

__all__ = ["SimulationSummary", "run_simulation", "unfinished_start"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimulationSummary:
    """Counts of one simulated run (this process's share, if it resumed a spool)."""

    assets: int
    readings: int
    batches: int
    events: int
    failures: int
    acked_readings: int
    elapsed_s: float


def run_simulation(site: Mapping[str, Any], mqtt: MqttEndpoint,
                   passwords: Mapping[str, str], prefix: str, spool_path: Path, *,
                   defaults: AssetSettings | None = None,
                   drain_timeout_s: float | None = 600.0) -> SimulationSummary:
    """Stream a simulated site through the edge agent.

    ``site`` holds the options of the simulated world's source plug-in
    (:data:`~assetwatch.edge_agent.config_file.SIMULATOR`: ``sites``, ``assets_per_site``,
    ``seed``, ``days``, ``sample_interval_s``, ``start``, ``speed``, ``ground_truth``).
    Returns when the source is exhausted and every spooled message was delivered; raises
    :class:`~assetwatch.edge_agent.errors.EdgeError` if that takes longer than
    ``drain_timeout_s``. A spool left by an interrupted run of the same fleet is resumed.
    """
    source = load_plugin(SIMULATOR, site)
    failures = int(getattr(source, "failures", 0))
    if site.get("ground_truth") is not None:
        log.info("ground truth: %d failures in %s", failures, site["ground_truth"])
    local = {"source": "simulator", **{k: v for k, v in site.items()
                                       if k in ("sites", "assets_per_site", "seed",
                                                "sample_interval_s")}}
    options = AgentOptions(
        endpoint=mqtt, spool_path=Path(spool_path), prefix=prefix, passwords=passwords,
        defaults=defaults or AssetSettings(batch_max_readings=2000, batch_max_age_s=2.0),
        local_config=local)
    summary = EdgeAgent(source, options).run(drain=True, drain_timeout_s=drain_timeout_s)
    if not summary.drained:
        raise EdgeError(f"the broker at {mqtt.host}:{mqtt.port} did not deliver every "
                        f"spooled message within {drain_timeout_s} s; they stay in {spool_path}")
    return SimulationSummary(len(source.assets()), summary.readings, summary.batches,
                             summary.events, failures, summary.acked_readings,
                             summary.elapsed_s)


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
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(state["start_ms"]))
    except (ValueError, KeyError, TypeError):
        return None
