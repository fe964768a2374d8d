"""Operating states of an asset: stopped, starting, running, stopping, and its load regime.

A detector that learns from every sample learns standstill and start-up as "normal", and a
machine that runs at two loads looks anomalous at the second. :class:`OperatingStates`
classifies each sample from one *state signal* (speed, motor current, power or a run flag) so
that the detector learns and scores only settled running operation, with a baseline per load
regime (:class:`~assetwatch.models.detectors.regimes.RegimeDetector`).

The rules, on the samples' own timestamps:

* the asset is *on* while the state signal is above ``running_above``; unless configured, that
  level is inferred from the data as ``stopped_fraction`` (10 %) of the highest level the
  signal has shown, so an asset only ever seen at one level counts as running;
* off -> on is **starting** for ``settle_s`` seconds, then **running**; on -> off is
  **stopping** for ``settle_s`` seconds, then **stopped**; a start during stopping is starting;
* while running, the *load regime* is the cluster of the signal's level it belongs to: levels
  within ``regime_step`` (relative) of a known regime's centre (which follows slow drift)
  belong to it; a level outside every regime is a transient, and becomes a new regime once
  held for ``settle_s`` (at most ``max_regimes``, the least recently used is forgotten), so a
  spike or a ramp of the signal creates none. A change between known regimes is a transient
  too: the sample is *settled* again ``settle_s`` seconds after the level entered the regime;
* without a state signal (none configured and no sensor with a known name in the samples),
  every sample is settled running in regime 0, as if states were not tracked.

Examples
--------
>>> from datetime import datetime, timedelta
>>> states = OperatingStates(settle_s=10)
>>> t0 = datetime(2026, 1, 1)
>>> seen = [states.observe(t0 + timedelta(seconds=i), {"speed": v}).state
...         for i, v in enumerate([2950.0] * 3 + [0.4] * 12 + [2950.0] * 12)]
>>> [seen[2], seen[3], seen[14], seen[15], seen[26]]
['running', 'stopping', 'stopped', 'starting', 'running']
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = [
    "RUNNING",
    "SIGNAL_NAMES",
    "STARTING",
    "STATES",
    "STOPPED",
    "STOPPING",
    "OperatingPoint",
    "OperatingStates",
]

STOPPED, STARTING, RUNNING, STOPPING = "stopped", "starting", "running", "stopping"
STATES = (STOPPED, STARTING, RUNNING, STOPPING)
#: sensor names taken as the state signal when none is configured, in order of preference
#: (a load signal first: it gives both on/off and the load regime)
SIGNAL_NAMES = ("motor_current", "current", "amps", "power", "load", "speed", "rpm",
                "run", "running")


@dataclass(frozen=True)
class OperatingPoint:
    """Where the asset is: its state, its load regime (while on) and whether it has settled."""

    state: str
    regime: int | None
    settled: bool
    #: seconds since the last start or change of load regime began (inf: none seen)
    since_s: float = float("inf")

    @property
    def scored(self) -> bool:
        """True when the detector may learn and alarm: settled running operation."""
        return self.state == RUNNING and self.settled


_UNTRACKED = OperatingPoint(RUNNING, 0, True)
_INF = float("inf")


class OperatingStates:
    """Classifies samples into operating states and load regimes (see the module docstring).

    Parameters
    ----------
    signal
        Name of the state signal; ``None`` = the first sensor whose name is one of
        :data:`SIGNAL_NAMES` (case-insensitive).
    running_above
        Level above which the asset is on; ``None`` = inferred (``stopped_fraction`` of the
        highest level seen).
    settle_s
        Seconds a start, a stop or a change of load regime takes to settle.
    regime_step
        Relative distance of the signal's level from a regime's centre beyond which it is
        another regime.
    """

    def __init__(self, signal: str | None = None, running_above: float | None = None,
                 settle_s: float = 1800.0, regime_step: float = 0.15, max_regimes: int = 4,
                 stopped_fraction: float = 0.1) -> None:
        if settle_s < 0 or not 0 < regime_step < 1 or max_regimes < 1:
            raise ValueError("need settle_s >= 0, 0 < regime_step < 1, max_regimes >= 1")
        self.signal = signal
        self.running_above = running_above
        self.settle_s = settle_s
        self.regime_step = regime_step
        self.max_regimes = max_regimes
        self.stopped_fraction = stopped_fraction
        self._name: str | None = None  # the signal actually used
        self._searched: frozenset[str] = frozenset()  # sensors known to hold no signal
        self._value: float | None = None
        self._high = 0.0
        self._state = RUNNING
        self._since: datetime | None = None  # start of the current state / regime transient
        self._centres: dict[int, float] = {}
        self._used: dict[int, datetime] = {}
        self._next_regime = 0
        self._regime: int | None = None
        self._candidate: tuple[float, datetime] | None = None  # (level, since) of a new one
        self._since_candidate: datetime | None = None
        self._settle_from: datetime | None = None

    @property
    def signal_in_use(self) -> str | None:
        """The sensor the states are taken from, once one was found."""
        return self._name

    def configure(self, signal: str | None, running_above: float | None) -> None:
        """Apply a (possibly changed) configuration of the state signal."""
        if signal != self.signal:
            self._name = None
            self._searched = frozenset()
        self.signal = signal
        self.running_above = running_above

    def observe(self, time: datetime, sample: dict[str, float]) -> OperatingPoint:
        """The operating point of ``sample`` (taken at ``time``, in time order)."""
        name = self._name or self._find_signal(sample)
        if name is None:
            return _UNTRACKED
        value = sample.get(name)
        if value is None:
            value = self._value
            if value is None:
                return _UNTRACKED
        self._value = value
        if value > self._high:
            self._high = value
        settle = timedelta(seconds=self.settle_s)
        on = value > self._threshold()
        if self._since is None:  # first sight: settled, no transient seen
            self._since = time - settle
            self._state = RUNNING if on else STOPPED
        state = self._state
        if on and state in (STOPPED, STOPPING):
            self._enter(STARTING, time)
        elif not on and state in (RUNNING, STARTING):
            self._enter(STOPPING, time)
        elif state == STARTING and time - self._since >= settle:
            self._enter(RUNNING, time)
        elif state == STOPPING and time - self._since >= settle:
            self._enter(STOPPED, time)
        if not on:
            return OperatingPoint(self._state, None, self._state == STOPPED)
        return self._load_regime(time, value, settle)

    # -- internals ---------------------------------------------------------------------------

    def _find_signal(self, sample: dict[str, float]) -> str | None:
        if sample.keys() <= self._searched:
            return None
        self._searched = self._searched | frozenset(sample)
        if self.signal is not None:
            self._name = self.signal if self.signal in sample else None
            return self._name
        lowered = {key.lower(): key for key in sample}
        for candidate in SIGNAL_NAMES:
            if candidate in lowered:
                self._name = lowered[candidate]
                return self._name
        return None

    def _threshold(self) -> float:
        if self.running_above is not None:
            return self.running_above
        return self.stopped_fraction * self._high

    def _enter(self, state: str, time: datetime) -> None:
        self._state = state
        self._since = time
        if state == STARTING:
            self._regime = None
            self._candidate = None
            self._settle_from = time

    def _load_regime(self, time: datetime, value: float, settle: timedelta) -> OperatingPoint:
        level = value
        if self._state != RUNNING:  # starting: a new level may be held already
            if self._nearest(level) is None:
                self._track_candidate(level, time)
            return OperatingPoint(self._state, None, False)
        regime = self._nearest(level)
        if regime is None:
            regime = self._candidate_regime(level, time)
            if regime is None:  # a level not (yet) held for the settle time: a transient
                return OperatingPoint(RUNNING, None, False, 0.0)
        else:
            self._candidate = None
        if regime != self._regime:
            if self._regime is not None and self._settle_from is not None \
                    and self._since_candidate is None:  # a change of load regime
                self._settle_from = time
            self._regime = regime
        if self._since_candidate is not None:  # a new regime: settled once created
            self._settle_from, self._since_candidate = self._since_candidate, None
        since = _INF if self._settle_from is None else (time - self._settle_from).total_seconds()
        settled = since >= self.settle_s
        if settled:
            centre = self._centres[regime]
            self._centres[regime] = centre + 0.01 * (level - centre)
        self._used[regime] = time
        return OperatingPoint(RUNNING, regime, settled, since)

    def _candidate_regime(self, level: float, time: datetime) -> int | None:
        """A level outside every regime becomes a new regime once it has been held (within
        ``regime_step``) for the settle time, so a spike or a ramp of the signal does not
        create one (nor evict a known one); the asset's first level is one at once."""
        if not self._centres and self._settle_from is None:
            return self._new_regime(level, time)
        since = self._track_candidate(level, time)
        if (time - since).total_seconds() < self.settle_s:
            return None
        centre = self._candidate[0] if self._candidate else level
        self._candidate = None
        self._since_candidate = since
        return self._new_regime(centre, time)

    def _track_candidate(self, level: float, time: datetime) -> datetime:
        """Follow a level outside every regime; return since when it has been held."""
        candidate = self._candidate
        if candidate is None or abs(level - candidate[0]) > self.regime_step * abs(candidate[0]):
            self._candidate = (level, time)
            return time
        centre, since = candidate
        self._candidate = (centre + 0.2 * (level - centre), since)
        return since

    @property
    def regimes(self) -> frozenset[int]:
        """The load regimes currently known."""
        return frozenset(self._centres)

    def _nearest(self, level: float) -> int | None:
        best, distance = None, self.regime_step
        floor = self._threshold()
        for regime, centre in self._centres.items():
            if centre <= floor:
                continue  # a level learned before the asset was seen running: not a regime
            d = abs(level - centre) / max(abs(centre), 1e-9)
            if d <= distance:
                best, distance = regime, d
        return best

    def _new_regime(self, level: float, time: datetime) -> int:
        floor = self._threshold()
        for stale in [r for r, c in self._centres.items() if c <= floor]:
            del self._centres[stale]
            del self._used[stale]
        if len(self._centres) >= self.max_regimes:
            oldest = min(self._used, key=lambda r: self._used[r])
            del self._centres[oldest]
            del self._used[oldest]
        regime = self._next_regime
        self._next_regime += 1
        self._centres[regime] = level
        self._used[regime] = time
        return regime
