"""The product's monitoring pipeline driven by the simulated fleet, one simulated day at a time.

:class:`PipelineSignals` is the ``pipeline`` row of ``bench service``. Up to each day it

1. streams the fleet's telemetry and controller alarms (the simulator is the edge agent's
   source) through the ingest path: wire-format messages, :func:`~assetwatch.ingest.inbound.
   classify` and the :class:`~assetwatch.ingest.writer.BatchWriter` (ledger, binary COPY),
   then refreshes the hourly rollup ``telemetry_hourly`` over exactly the range just ingested
   (:func:`~assetwatch.ingest.housekeeping.refresh_rollup_range`), as the housekeeping flow
   keeps it current in production: the failure models' features read the rollup;
2. runs the detector worker (:class:`~assetwatch.models.monitoring.worker.DetectionWorker`)
   over the new readings: anomaly scores and events;
3. trains the failure models (:func:`~assetwatch.models.prediction.training.train_models`:
   registry and governance included) on the train flow's weekly schedule, and scores every
   asset (:func:`~assetwatch.models.prediction.scoring.score_assets`) each day; what each
   training did per component type (model kind, failures seen) is kept in
   :attr:`PipelineSignals.trainings`.

The service code (tickets, demand, policy) then reads what these wrote, as its flows do.
Nothing here reads the ground truth.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple

from assetwatch.core.settings import Settings
from assetwatch.core.source import Sample, SourceEvent
from assetwatch.core.wire import TelemetryBatch, encode_batch, encode_event, topic_for
from assetwatch.sim.fleet import Fleet, epoch_ms
from assetwatch.sim.simulator import FleetSimulator

if TYPE_CHECKING:
    import psycopg

    from assetwatch.ingest.writer import BatchWriter
    from assetwatch.models.monitoring.worker import DetectionWorker
    from assetwatch.models.prediction.training import TrainOptions
    from assetwatch.sim.lifecycle import AssetTimeline

__all__ = ["PipelineSignals", "StageTimes", "Training"]

log = logging.getLogger(__name__)

#: Kinds of edge events the pipeline receives through ingest; failures and repairs reach
#: the database through the service's own records (ticket closing, breakdown reports).
_INGESTED_EVENTS = ("controller_error",)


class Training(NamedTuple):
    """What one training did for one component type."""

    as_of: datetime
    component_type: str
    kind: str           # the model registered: the Weibull prior when too few failures
    failures: int       # distinct failures in the training window's features
    promoted: bool
    seconds: float      # wall time of the whole training (every component type) it was part of


@dataclass
class StageTimes:
    """Wall-clock seconds per stage, for the profile printed with the figures."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def add(self, stage: str, started: float) -> None:
        self.seconds[stage] += time.perf_counter() - started


class PipelineSignals:
    """Ingest, detectors and failure models of the product over the simulated fleet.

    Parameters
    ----------
    telemetry_start
        Readings before this are not sent (the fleet's older history is events only).
    train_every_days
        Days between training runs (the train flow's schedule is weekly; each training fits
        every component type's models on the whole window, the run's dearest stage); the
        first evaluated day trains.
    score_every_days
        Days between scoring runs.
    train_options
        The trainer's options; None is what the train flow uses.
    timelines
        The world's timelines to stream (shared with the run's truth, so that repairs done
        there change the telemetry from then on); None builds the fleet's own.
    """

    def __init__(self, settings: Settings, fleet: Fleet, *, telemetry_start: datetime,
                 end: datetime, sample_interval_s: float = 3600.0,
                 train_every_days: int = 7, score_every_days: int = 1,
                 detector_params: dict[str, object] | None = None,
                 train_options: TrainOptions | None = None,
                 times: StageTimes | None = None,
                 timelines: Mapping[str, AssetTimeline] | None = None) -> None:
        self.settings = settings
        self.fleet = fleet
        self.telemetry_start_ms = epoch_ms(telemetry_start)
        self.train_every_days = train_every_days
        self.train_options = train_options
        self.score_every_days = score_every_days
        self.times = times or StageTimes()
        days = (end - fleet.start).total_seconds() / 86400.0
        self._source = FleetSimulator(fleet, days=days, sample_interval_s=sample_interval_s,
                                      timelines=timelines)
        # nothing before the telemetry window is sent: the simulator starts there
        self._source.skip_to(self.telemetry_start_ms)
        self._sites = {a.asset_tag: a.site_id for a in fleet.assets}
        self._seq: dict[str, int] = defaultdict(int)
        self._detector_params = detector_params or {}
        self._worker: DetectionWorker | None = None
        self._writer: BatchWriter | None = None
        self._last_train: datetime | None = None
        self._last_score: datetime | None = None
        self._rollup_conn: psycopg.Connection | None = None
        self._rolled_up_to = telemetry_start
        self.readings = 0
        self.trainings: list[Training] = []

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
        if self._writer is not None:
            self._writer.conn.close()
        if self._rollup_conn is not None:
            self._rollup_conn.close()

    def warm_up(self, t: datetime) -> None:
        """Ingest and detect up to ``t`` (the history before the evaluated window)."""
        started = time.perf_counter()
        self._ingest_until(t)
        self.times.add("ingest (wire format, ingest writer)", started)
        started = time.perf_counter()
        self._refresh_rollup(t)
        self.times.add("hourly rollup refresh", started)
        started = time.perf_counter()
        self._detect()
        self.times.add("detector worker", started)

    def advance(self, t: datetime) -> None:
        """Everything the pipeline does up to ``t``: ingest, detect, train when due, score."""
        self.warm_up(t)
        if self._last_train is None or t - self._last_train >= timedelta(
                days=self.train_every_days):
            from assetwatch.models.prediction.training import train_models

            started = time.perf_counter()
            results = train_models(self.settings, as_of=t, horizons=(7, 30),
                                   options=self.train_options)
            seconds = time.perf_counter() - started
            self.times.add("train", started)
            trained = [Training(t, r.component_type, r.kind, r.failures, r.promoted, seconds)
                       for r in results]
            self.trainings.extend(trained)
            log.info("trained at %s: %s", t.date(), ", ".join(
                f"{r.component_type} {r.kind} ({r.failures} failures)" for r in trained))
            self._last_train = t
        if self._last_score is None or t - self._last_score >= timedelta(
                days=self.score_every_days):
            from assetwatch.models.prediction.scoring import score_assets

            started = time.perf_counter()
            score_assets(self.settings, as_of=t)
            self.times.add("score", started)
            self._last_score = t

    # -- ingest ------------------------------------------------------------------------------

    def _ingest_until(self, t: datetime) -> None:
        from assetwatch.ingest.inbound import classify

        limit_ms = epoch_ms(t)
        readings: dict[str, list[tuple[int, str, float]]] = defaultdict(list)
        messages = []
        prefix = self.settings.topic_prefix
        for item in self._items_before(limit_ms):
            if isinstance(item, Sample):
                if item.ts_ms >= self.telemetry_start_ms:
                    readings[item.asset].extend((item.ts_ms, n, v) for n, v in item.values)
                continue
            if item.event.kind in _INGESTED_EVENTS and item.event.ts_ms >= \
                    self.telemetry_start_ms:
                topic = topic_for(prefix, self._sites[item.asset], item.asset, "events")
                messages.append(classify(topic, encode_event(item.event), prefix,
                                         now_ms=limit_ms))
        for tag, rows in readings.items():
            self._seq[tag] += 1
            payload = encode_batch(TelemetryBatch(tag, self._seq[tag], rows))
            topic = topic_for(prefix, self._sites[tag], tag, "telemetry")
            messages.append(classify(topic, payload, prefix, now_ms=limit_ms))
            self.readings += len(rows)
        if messages:
            result = self._batch_writer().write(messages)
            if result.dead_letters:
                raise RuntimeError(f"ingest refused {result.dead_letters} simulated message(s):"
                                   f" {sorted({r for r in result.reasons if r})[:3]}")

    def _items_before(self, limit_ms: int) -> list[Sample | SourceEvent]:
        """Everything the simulator streams before ``limit_ms``; nothing later is computed
        (the world may still change after it)."""
        out: list[Sample | SourceEvent] = []
        while batch := self._source.poll_until(limit_ms, 200_000):
            out.extend(batch)
        return out

    def _batch_writer(self) -> BatchWriter:
        if self._writer is None:
            from assetwatch.core.db import connect
            from assetwatch.ingest.writer import BatchWriter

            self._writer = BatchWriter(connect(self.settings))
        return self._writer

    def _refresh_rollup(self, t: datetime) -> None:
        """Roll up the hours ingested since the last refresh, ``[last, t)``."""
        if t <= self._rolled_up_to:
            return
        from assetwatch.core.db import connect
        from assetwatch.ingest.housekeeping import refresh_rollup_range

        if self._rollup_conn is None:
            self._rollup_conn = connect(self.settings, autocommit=True)
        refresh_rollup_range(self._rollup_conn, self._rolled_up_to, t)
        self._rolled_up_to = t

    # -- detectors ---------------------------------------------------------------------------

    def _detect(self) -> None:
        if self._worker is None:
            from assetwatch.models.monitoring.worker import DetectionWorker

            self._worker = DetectionWorker(self.settings, settle_s=0.0,
                                           stale_after_s=1e10,
                                           detector_params=self._detector_params)
        self._worker.score_pending()
