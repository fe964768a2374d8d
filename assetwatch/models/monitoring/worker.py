"""The detection service: score new telemetry per asset, one owner at a time, from checkpoints.

How one round works (:meth:`DetectionWorker.score_pending`), for the assets of this worker's
partition (``asset_id % workers == worker``), a chunk of assets per transaction:

1. take the per-(detector, asset) advisory lock of each asset, ``pg_try_advisory_xact_lock``;
   assets another worker holds are skipped this round;
2. read their checkpoints (pickled :class:`AssetState`, see
   :mod:`~assetwatch.models.monitoring.checkpoint_codec`, and ``scored_until``), after the locks,
   so they reflect every earlier commit (a state this worker wrote itself and that is still
   the stored one is reused from memory instead of being transferred and unpickled);
3. read the readings newer than ``scored_until``, one row of three binary arrays per asset,
   pivot them into samples by time (:mod:`~assetwatch.models.monitoring.readings`), and feed
   the samples ready to score (all of the asset's sensors present, or older than
   ``settle_s``) in time order to the asset's detector (score, then learn) and event tracker;
4. write scores, events and the new checkpoints, and commit: all or nothing.

**One owner per asset.** The partition splits the fleet between N workers; the lock makes the
guarantee hold even when workers are misconfigured (two with the same ``worker``, or different
``workers``): the lock is held from reading the checkpoint to committing the new one, so a
second worker either skips the asset or reads the checkpoint the first one wrote. Scores are
also unique per (asset, detector, time), so re-scoring is a no-op.

**Restart without relearning or double-scoring.** State and ``scored_until`` commit in the same
transaction as the scores, so a crash loses only uncommitted work, which is redone exactly.

**Warm-up is explicit.** Until the detector has learned ``warmup`` samples of an asset, no
scores are written and no events open (``detector_checkpoint.warm`` is false).

**Operating states.** Each score is stored with the asset's operating state and load regime;
standstill and start/stop/load-change transients score 0 and raise nothing, an alarm open
when the asset stops ends there. Acknowledged open events (``assetwatch detect ack``) are read
each round and keep the asset's event tracker from re-alarming on the same deviation.

**Staleness.** An asset with a checkpoint and no reading for ``stale_after_s`` seconds and for
ten of its own typical reporting intervals gets an ``anomaly_event`` of kind ``'stale'``
(started at its last reading); the asset's next reading closes it.
"""

from __future__ import annotations

import gc
import logging
import threading
import time as clock
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from assetwatch.core.db import connect
from assetwatch.core.migrate import applied_versions
from assetwatch.core.settings import Settings
from assetwatch.errors import ServiceUnavailable
from assetwatch.models.detectors import DEFAULT_DETECTOR, make_detector
from assetwatch.models.detectors.operating import OperatingStates
from assetwatch.models.detectors.regimes import RegimeDetector
from assetwatch.models.monitoring import checkpoint_codec, readings, store
from assetwatch.models.monitoring.asset_state import AssetState
from assetwatch.models.monitoring.errors import DetectionError
from assetwatch.models.monitoring.events import EventRecord, EventTracker

__all__ = [
    "AssetState",
    "DetectionWorker",
    "ScoringSummary",
    "run_detection",
    "score_pending",
]

log = logging.getLogger(__name__)
REPORT_EVERY_S = 60.0
_REQUIRED_MIGRATIONS = {3, 20, 21, 23, 24, 31}  # anomaly tables, views, alarms, states


@dataclass
class ScoringSummary:
    """What a round of scoring did."""

    samples: int = 0
    scores: int = 0
    events_opened: int = 0
    stale_opened: int = 0
    assets: int = 0
    assets_locked_elsewhere: int = 0
    #: with ``record_commits``: per commit, its wall-clock time and how many samples of each
    #: timestamp it scored (for end-to-end latency figures)
    score_commits: list[tuple[float, Counter[datetime]]] = field(default_factory=list,
                                                                repr=False)

    def __iadd__(self, other: ScoringSummary) -> ScoringSummary:
        self.samples += other.samples
        self.scores += other.scores
        self.events_opened += other.events_opened
        self.stale_opened += other.stale_opened
        self.assets += other.assets
        self.assets_locked_elsewhere += other.assets_locked_elsewhere
        self.score_commits.extend(other.score_commits)
        return self


class DetectionWorker:
    """Worker ``worker`` of ``workers`` scoring with one detector; holds one connection.

    Parameters
    ----------
    detector
        Registry name of the detector (see :mod:`assetwatch.models.detectors`).
    detector_params
        Parameter overrides for new detectors (for example ``{"warmup": 200}``).
    open_level, close_level, min_duration_s, rearm_s
        Alarm event rules (see :class:`~assetwatch.models.monitoring.events.EventTracker`).
    operating_states
        Track operating states and load regimes (see
        :mod:`assetwatch.models.detectors.operating`): learn and alarm on settled running
        operation only, one baseline per load regime. The state signal is the sensor the
        asset's model names in ``asset_model.state_sensor`` (with its level
        ``state_running_above``), else one found by name and a level inferred from the data.
    transient_s
        Settle time of starts, stops and changes of load regime.
    slow_settle_s
        Settle time of slow (thermal) sensors after a start or a change of load regime.
    chunk_assets
        Assets per transaction.
    max_samples
        Samples read per transaction, split evenly over its assets (at least 50 each, counted
        as that many readings of each of the asset's sensors); bounds memory and transaction
        size while catching up. Larger rounds write each checkpoint once for more samples.
    settle_s
        A sample younger than this that lacks readings of some of the asset's sensors is
        scored in a later round (its other readings may still be on their way); a sample with
        all of them is scored at once.
    stale_after_s
        Silence after which an asset gets a staleness event.
    record_commits
        Keep ``(commit wall time, samples per timestamp)`` per commit, for latency figures.
    """

    def __init__(self, settings: Settings, *, detector: str = DEFAULT_DETECTOR,
                 worker: int = 0, workers: int = 1,
                 detector_params: dict[str, object] | None = None,
                 open_level: float = 0.9, close_level: float = 0.75,
                 min_duration_s: float = 5.0, rearm_s: float = 60.0,
                 operating_states: bool = True, transient_s: float = 1800.0,
                 slow_settle_s: float = 3 * 3600.0,
                 chunk_assets: int = 256,
                 max_samples: int = 50_000, settle_s: float = 0.5,
                 stale_after_s: float = 120.0, record_commits: bool = False) -> None:
        if workers < 1 or not 0 <= worker < workers:
            raise DetectionError(f"worker must be in 0..{workers - 1} (got {worker})")
        self.settings = settings
        self.detector = detector
        self.detector_params = dict(detector_params or {})
        make_detector(detector, **self.detector_params)  # fail fast on a bad name or parameter
        self.worker = worker
        self.workers = workers
        self.open_level = open_level
        self.close_level = close_level
        self.min_duration_s = min_duration_s
        self.rearm_s = rearm_s
        self.operating_states = operating_states
        self.transient_s = transient_s
        self.slow_settle_s = slow_settle_s
        self.chunk_assets = chunk_assets
        self.max_samples = max_samples
        self.settle_s = settle_s
        self.stale_after_s = stale_after_s
        self.record_commits = record_commits
        self._conn: psycopg.Connection | None = None
        self._signals: dict[int, tuple[str | None, float | None]] = {}
        self._sensors: dict[int, int] = {}
        self._maintenance: dict[int, list[datetime]] = {}
        # states of assets this worker committed last: (scored_until, samples, state); reused
        # while the stored checkpoint is still the one written from them
        self._cache: dict[int, tuple[datetime, int, AssetState]] = {}

    def __enter__(self) -> DetectionWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            conn = connect(self.settings)
            missing = _REQUIRED_MIGRATIONS - applied_versions(conn)
            # short queries over many rows: compiling them (JIT) costs more than it saves
            conn.execute("SET jit = off")
            conn.rollback()
            if missing:
                conn.close()
                raise DetectionError(
                    f"the database at {self.settings.db_endpoint} lacks schema migration(s) "
                    f"{', '.join(f'{v:04d}' for v in sorted(missing))}; run "
                    "'assetwatch db migrate'")
            self._conn = conn
        return self._conn

    def new_state(self) -> AssetState:
        states = OperatingStates(settle_s=self.transient_s) if self.operating_states else None
        return AssetState(
            RegimeDetector(self.detector, self.detector_params, states,
                           slow_settle_s=self.slow_settle_s),
            EventTracker(self.open_level, self.close_level, self.min_duration_s,
                         rearm_s=self.rearm_s),
        )

    def score_pending(self) -> ScoringSummary:
        """Score everything pending for this worker's assets; return what was done."""
        conn = self._connection()
        try:
            with conn.transaction():
                assets = store.owned_assets(conn, self.worker, self.workers)
                names = store.sensor_names(conn)
                self._sensors = store.sensor_counts(conn, self.worker, self.workers)
                self._signals = store.state_signals(conn, self.worker, self.workers)
            total = ScoringSummary()
            for start in range(0, len(assets), self.chunk_assets):
                chunk = assets[start:start + self.chunk_assets]
                while True:
                    summary, more = self._score_chunk(conn, chunk, names)
                    total += summary
                    if not more:
                        break
            return total
        except psycopg.OperationalError:
            self.close()
            raise

    def _score_chunk(self, conn: psycopg.Connection, chunk: list[int],
                     names: dict[int, str]) -> tuple[ScoringSummary, bool]:
        try:
            return self._score_chunk_once(conn, chunk, names)
        except BaseException:
            for asset_id in chunk:  # their cached states may hold uncommitted learning
                self._cache.pop(asset_id, None)
            raise

    def _score_chunk_once(self, conn: psycopg.Connection, chunk: list[int],
                          names: dict[int, str]) -> tuple[ScoringSummary, bool]:
        summary = ScoringSummary()
        times: list[datetime] = []
        saved: list[tuple[int, AssetState, datetime, int, bool, float | None]] = []
        # a chunk allocates many objects (states restored from checkpoints, samples, scores)
        # and few cycles: no collections while it runs
        with _collector_paused(), conn.transaction():
            locked = store.lock_assets(conn, self.detector, chunk)
            summary.assets_locked_elsewhere = len(chunk) - len(locked)
            if not locked:
                return summary, False
            checkpoints, states = self._load_states(conn, locked)
            since = {a: checkpoints[a][1] if a in checkpoints else None for a in locked}
            self._maintenance = store.maintenance_times(  # new assets: all (no-ops)
                conn, {a: states[a].maintained_at if a in states else None for a in locked})
            per_asset = max(50, self.max_samples // len(locked))
            limits = {a: per_asset * max(1, self._sensors.get(a, 1)) for a in locked}
            rows = store.pending_readings(conn, since, limits)
            more = False
            scores: list[tuple[datetime, int, float, str, int | None]] = []
            resumed: dict[int, datetime] = {}
            events: list[tuple[int, EventRecord]] = []
            for asset_id, block in readings.ready_blocks(rows, limits, self._sensors,
                                                         self.settle_s):
                more = more or block.truncated
                state = states.get(asset_id) or self.new_state()
                self._score_asset(state, asset_id, block, names, scores)
                events.extend((asset_id, event) for event in state.events.drain())
                if asset_id in checkpoints:
                    resumed[asset_id] = block.times[0]
                saved.append((asset_id, state, block.times[-1], state.detector.n_learned,
                              state.detector.is_warm, state.interval_s))
                summary.samples += len(block)
                summary.assets += 1
                if self.record_commits:
                    times.extend(block.times)
            del rows
            summary.events_opened += store.write_events(conn, self.detector, events)
            if scores:
                summary.scores = store.insert_scores(conn, self.detector, scores)
            del scores  # freed now, not traversed by the collection that follows the chunk
            store.write_checkpoints(conn, self.detector, [
                (row[0], checkpoint_codec.dumps(row[1]), *row[2:]) for row in saved])
            store.close_stale_events(conn, self.detector, resumed)
            summary.stale_opened = store.open_stale_events(
                conn, self.detector, locked, self.stale_after_s)
        # committed: continue with the states in memory (a copy restored from the checkpoint
        # runs a few per cent faster, but restoring one costs more than that saves over the
        # samples a transaction scores; see checkpoint_codec)
        for asset_id, state, scored_until, samples, _, _ in saved:
            self._cache[asset_id] = (scored_until, samples, state)
        if times:
            summary.score_commits.append((clock.time(), Counter(times)))
        return summary, more

    def _load_states(self, conn: psycopg.Connection, locked: list[int]
                     ) -> tuple[dict[int, tuple[AssetState | None, datetime, int]],
                                dict[int, AssetState]]:
        """The locked assets' checkpoints and their states (from memory where the stored
        checkpoint is the one this worker wrote), with acknowledgments applied."""
        cache = self._cache
        known = {a: cache[a][:2] for a in locked if a in cache}
        checkpoints = store.read_checkpoints(conn, self.detector, locked, known)
        states: dict[int, AssetState] = {}
        for asset_id in locked:
            if asset_id not in checkpoints:
                cache.pop(asset_id, None)  # no checkpoint (any more): start afresh
                continue
            state = checkpoints[asset_id][0]
            state = state if state is not None else cache[asset_id][2]
            if isinstance(state.detector, RegimeDetector):  # else: from an older release
                states[asset_id] = state
        for asset_id, event_id in store.acknowledged_open_events(
                conn, self.detector, list(states)):
            states[asset_id].events.acknowledge(event_id)
        return checkpoints, states

    def _score_asset(self, state: AssetState, asset_id: int, block: readings.SampleBlock,
                     names: dict[int, str],
                     scores: list[tuple[datetime, int, float, str, int | None]]) -> None:
        detector = state.detector
        if detector.states is not None and asset_id in self._signals:
            detector.states.configure(*self._signals[asset_id])
        state.note_times(block.times[0], block.times[-1], len(block))
        maintained = self._maintenance.get(asset_id, [])
        observe, keep = state.observe, scores.append
        # a block's samples mostly share one tuple of sensor ids (the same object): name it once
        last_ids: tuple[int, ...] | None = None
        named: tuple[str, ...] = ()
        for time, ids, values in zip(block.times, block.sensor_ids, block.values, strict=True):
            if maintained:
                while maintained and maintained[0] <= time:  # the machine changed: new normal
                    state.maintained_at = maintained.pop(0)
                    detector.after_maintenance()
            if ids is not last_ids:
                last_ids, named = ids, tuple(names.get(s, str(s)) for s in ids)
            scored = observe(time, dict(zip(named, values, strict=True)))
            if scored is not None:
                keep((time, asset_id, *scored))


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Run the cyclic garbage collector after a block instead of during it.

    Reading and scoring a chunk allocates hundreds of thousands of short-lived objects
    (rows, samples) and almost no reference cycles, so collections during the chunk cost CPU
    (a sixth of the worker's, measured) and free nothing that reference counting does not.
    Restoring a chunk's states from their checkpoints (tens of thousands of containers) had
    the collector run about four times per chunk, about 0.15-0.35 us per sample scored
    (measured with ``gc.callbacks``, 500 assets x 200 samples): the block now includes it.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def score_pending(settings: Settings, *, detector: str = DEFAULT_DETECTOR, worker: int = 0,
                  workers: int = 1, **options: object) -> ScoringSummary:
    """Score all telemetry newer than each owned asset's checkpoint, then return.

    The in-process catch-up for demos and flows; ``options`` are :class:`DetectionWorker`
    keyword arguments (for example ``settle_s=0`` to include the newest readings).
    """
    with DetectionWorker(settings, detector=detector, worker=worker, workers=workers,
                         **options) as job:  # type: ignore[arg-type]
        return job.score_pending()


def run_detection(settings: Settings, *, detector: str = DEFAULT_DETECTOR, worker: int = 0,
                  workers: int = 1, poll_s: float = 1.0, min_round_s: float = 1.0,
                  stop: threading.Event | None = None,
                  on_round: Callable[[ScoringSummary], None] | None = None,
                  **options: object) -> None:
    """Score continuously until ``stop`` is set: a round, then sleep ``poll_s`` if idle.

    Busy rounds start at most every ``min_round_s`` seconds, so that under a steady stream each
    round scores several samples per asset and writes each checkpoint once for all of them
    (instead of once per sample); this bounds database writes at the cost of up to
    ``min_round_s`` of lag. A lost database connection is retried with backoff (1 s doubling
    to 30 s), not fatal.
    """
    stop = stop or threading.Event()
    backoff = 1.0
    totals = ScoringSummary()
    reported = clock.monotonic()
    with DetectionWorker(settings, detector=detector, worker=worker, workers=workers,
                         **options) as job:  # type: ignore[arg-type]
        while not stop.is_set():
            started = clock.monotonic()
            try:
                summary = job.score_pending()
            except (psycopg.OperationalError, ServiceUnavailable) as e:
                job.close()
                log.warning("database unavailable (%s); retrying in %.0f s", e, backoff)
                stop.wait(backoff)
                backoff = min(30.0, backoff * 2)
                continue
            backoff = 1.0
            if on_round is not None:
                on_round(summary)
            summary.score_commits = []
            totals += summary
            if clock.monotonic() - reported >= REPORT_EVERY_S:
                log.info("scored %d samples: %d scores, %d anomaly events, %d stale events",
                         totals.samples, totals.scores, totals.events_opened,
                         totals.stale_opened)
                totals = ScoringSummary()
                reported = clock.monotonic()
            if not summary.samples:
                stop.wait(poll_s)
            else:
                stop.wait(max(0.0, min_round_s - (clock.monotonic() - started)))
