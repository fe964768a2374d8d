"""SKAB's outlier-detection protocol with constants chosen on one group and scored on the others.

SKAB's 34 labelled files come in three groups of experiments (``valve1/``: 16 files, outlet
valve closures; ``valve2/``: 4 files, inlet valve closures; ``other/``: 14 files, rotor
imbalance, cavitation, leaks, temperature and pressure changes). Each file is fed, row by row,
to a fresh detector through the same CSV reader and detector objects as ``assetwatch detect
score-csv``: the first 400 rows are the warm-up (learned, not scored, as SKAB's "train on the
first 400 rows"), every later row is scored before it is learned (no look-ahead). A point is an
alarm when its calibrated score is at least the threshold; F1, false alarm rate
(FP / (FP + TN)) and missed alarm rate (FN / (FN + TP)) are computed over all scored points of
the files in question, with each file's ``anomaly`` column as the label.

**The tuning procedure** (:func:`tune`), the only place labels choose anything: for a detector,
every combination of its grid (:data:`TUNING_GRIDS`, a handful of values per constant) is run
on the *tuning group's* files, and each
threshold of :data:`THRESHOLDS` is applied to the scores. The choice is the combination and
threshold with the highest F1 among those whose false alarm rate on the tuning group is at
most :data:`FAR_CAP`; if none is, the one with the lowest false alarm rate. Ties go to the
earlier grid entry (grids list the simpler or more conservative value first). What the
protocol guarantees is that no *value* is fitted on the files it is scored on; the *options*
in the grids are a design choice: ``alarm_adapt=0``, ``slow_adapt`` and the recovery rule were
added after per-file results on all three groups had been looked at (see the detectors'
README). An option the tuning files cannot tell from the earlier behaviour (identical scores)
is not chosen: the tie goes to the earlier entry.

**The protocol**, two ways of keeping the scored files out of the choice:

* :func:`run_protocol`, tune on one group: each group in turn is the tuning group; the
  procedure chooses the constants and threshold on it alone, and the choice is scored on every
  group and on all 34 files; each figure says whether its files took part in choosing (``yes``
  for the tuning group, ``no`` for the other two, ``partly`` for all files);
* :func:`leave_one_group_out`: each group in turn is left out; the procedure chooses on the
  other two groups together, and the choice is scored on the group left out. The three
  held-out figures add up to a figure on all 34 files in which no file took part in choosing
  the constants and threshold it was scored with.

The anomaly-free recording is a check of false alarms on normal operation, never a tuning set.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assetwatch.models.monitoring.errors import DetectionError

__all__ = [
    "FAR_CAP",
    "GROUPS",
    "THRESHOLDS",
    "TUNING_GRIDS",
    "Choice",
    "Confusion",
    "FoldResult",
    "HeldOutResult",
    "SkabFile",
    "leave_one_group_out",
    "load_file",
    "load_groups",
    "run_protocol",
    "score_files",
    "tune",
]

WARMUP_ROWS = 400
GROUPS = ("valve1", "valve2", "other")
#: thresholds the procedure may choose from (levels of the calibrated score scale)
THRESHOLDS = (0.75, 0.8, 0.85, 0.9, 0.95)
#: the tuning group's false alarm rate a choice may not exceed
FAR_CAP = 0.10
#: the recovery rule of :class:`~assetwatch.models.detectors.BaselineDeviation` (off, or on in
#: either mode), as constants set together
RECOVERY: tuple[dict[str, Any], ...] = (
    {},
    {"recover_share": 0.25, "recover_mode": "reset"},
    {"recover_share": 0.25, "recover_mode": "offset"},
)
#: per detector, the values the procedure may choose for each constant (an ensemble's entries
#: set its members' constants; an axis whose name starts with ``_`` holds sets of constants
#: chosen together); the first value of each is the earlier behaviour
TUNING_GRIDS: dict[str, dict[str, tuple[Any, ...]]] = {
    "baseline": {
        "alarm_adapt": (0.03, 0.0),
        "slow_adapt": (None, 10.0),
        "max_freeze": (600, 300),
        "rel_floor": (0.005, 0.01),
        "_recovery": RECOVERY,
    },
    "ensemble": {
        "member_params": tuple(
            {"baseline": {"alarm_adapt": adapt, "slow_adapt": slow, "max_freeze": freeze,
                          **recovery}}
            for adapt in (0.03, 0.0) for slow in (None, 10.0) for freeze in (600, 300)
            for recovery in RECOVERY),
    },
    "robust_z": {"center_alpha": (0.002, 0.01)},
    "hst": {"smoothing": (0.1, 0.3)},
}


@dataclass
class Confusion:
    """Point-wise confusion counts, and the SKAB figures derived from them."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def __iadd__(self, other: Confusion) -> Confusion:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.tn += other.tn
        return self

    @classmethod
    def of(cls, labels: Sequence[bool], scores: Sequence[float], threshold: float) -> Confusion:
        c = cls()
        for label, score in zip(labels, scores, strict=True):
            alarm = score >= threshold
            if alarm:
                if label:
                    c.tp += 1
                else:
                    c.fp += 1
            elif label:
                c.fn += 1
            else:
                c.tn += 1
        return c

    @property
    def points(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def f1(self) -> float:
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else 0.0

    @property
    def far(self) -> float:
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else 0.0

    @property
    def mar(self) -> float:
        return self.fn / (self.fn + self.tp) if self.fn + self.tp else 0.0


@dataclass(frozen=True)
class SkabFile:
    """One SKAB file, read once: its group, name, readings per row and labels."""

    group: str
    name: str
    rows: tuple[dict[str, float], ...]
    labels: tuple[bool, ...]

    @property
    def key(self) -> str:
        return f"{self.group}/{self.name}"


def load_file(path: Path, group: str) -> SkabFile:
    """Read a SKAB file through the offline scorer's CSV reader (labels never as sensors)."""
    import csv

    from assetwatch.models.monitoring.csvinput import read_rows

    rows = tuple(row.readings for row in read_rows(path))
    with path.open(newline="") as handle:
        labels = tuple(float(r.get("anomaly") or 0) >= 0.5
                       for r in csv.DictReader(handle, delimiter=";"))
    if len(labels) != len(rows):
        raise DetectionError(f"{path}: {len(rows)} readings but {len(labels)} labels")
    return SkabFile(group, path.name, rows, labels)


def load_groups(data: Path, groups: Iterable[str] = GROUPS) -> dict[str, list[SkabFile]]:
    """Every group's files, in numeric order; one clear error if a group folder is empty."""
    out: dict[str, list[SkabFile]] = {}
    for group in groups:
        folder = data / group
        paths = sorted(folder.glob("*.csv"), key=lambda p: (len(p.stem), p.stem))
        if not paths:
            raise DetectionError(f"no SKAB files in {folder} (pass --data DIR holding "
                                 f"{', '.join(GROUPS)})")
        out[group] = [load_file(p, group) for p in paths]
    return out


def score_file(file: SkabFile, detector: str, params: Mapping[str, Any]
               ) -> tuple[list[bool], list[float]]:
    """Labels and scores of the rows after warm-up of one file, with a fresh detector."""
    from assetwatch.models.detectors import make_detector

    model = make_detector(detector, warmup=WARMUP_ROWS, **params)
    labels: list[bool] = []
    scores: list[float] = []
    for i, readings in enumerate(file.rows):
        score = model.score_learn_one(readings)
        if i >= WARMUP_ROWS:
            labels.append(file.labels[i])
            scores.append(score)
    return labels, scores


def score_files(files: Sequence[SkabFile], detector: str, params: Mapping[str, Any]
                ) -> list[tuple[list[bool], list[float]]]:
    return [score_file(f, detector, params) for f in files]


def confusion(scored: Iterable[tuple[list[bool], list[float]]], threshold: float) -> Confusion:
    total = Confusion()
    for labels, scores in scored:
        total += Confusion.of(labels, scores, threshold)
    return total


@dataclass(frozen=True)
class Choice:
    """What the procedure chose on the tuning files, and how it scored there."""

    detector: str
    params: dict[str, Any]
    threshold: float
    tuning: Confusion
    tuned_on: tuple[str, ...]  # keys of the files that chose it


def grid(detector: str) -> list[dict[str, Any]]:
    """Every combination of the detector's tuning grid, in the documented order."""
    axes = TUNING_GRIDS.get(detector, {})
    names = list(axes)
    out = []
    for values in itertools.product(*(axes[n] for n in names)):
        params: dict[str, Any] = {}
        for name, value in zip(names, values, strict=True):
            params.update(value if name.startswith("_") else {name: value})
        out.append(params)
    return out


def tune(files: Sequence[SkabFile], detector: str,
         progress: Callable[[], None] | None = None) -> Choice:
    """The tuning procedure (see the module docstring), on ``files`` only."""
    scored = []
    for params in grid(detector):
        scored.append((params, score_files(files, detector, params)))
        if progress is not None:
            progress()
    return _choose(detector, scored, tuple(f.key for f in files))


def _choose(detector: str,
            scored: Sequence[tuple[dict[str, Any], Sequence[tuple[list[bool], list[float]]]]],
            tuned_on: tuple[str, ...]) -> Choice:
    """The choice among scored grid entries: highest F1 with FAR <= cap, else lowest FAR."""
    best: tuple[tuple[int, float], dict[str, Any], float, Confusion] | None = None
    for params, files_scored in scored:
        for threshold in THRESHOLDS:
            c = confusion(files_scored, threshold)
            feasible = c.far <= FAR_CAP
            key = (int(feasible), c.f1 if feasible else -c.far)
            if best is None or key > best[0]:
                best = (key, params, threshold, c)
    assert best is not None
    _, params, threshold, c = best
    return Choice(detector, params, threshold, c, tuned_on)


@dataclass
class FoldResult:
    """One way of leaving groups out: the choice made on ``tuning_group``, and its figures."""

    tuning_group: str
    choice: Choice
    per_group: dict[str, Confusion] = field(default_factory=dict)
    all_files: Confusion = field(default_factory=Confusion)


def run_protocol(groups: Mapping[str, Sequence[SkabFile]], detector: str,
                 progress: Callable[[], None] | None = None) -> list[FoldResult]:
    """Leave one group out, all three ways: tune on each group alone, score every group."""
    results = []
    for tuning_group in groups:
        choice = tune(groups[tuning_group], detector, progress)
        fold = FoldResult(tuning_group, choice)
        for group, files in groups.items():
            if group == tuning_group:
                fold.per_group[group] = choice.tuning  # the same files, the same scores
            else:
                fold.per_group[group] = confusion(
                    score_files(files, detector, choice.params), choice.threshold)
            fold.all_files += fold.per_group[group]
        results.append(fold)
    return results


@dataclass
class HeldOutResult:
    """Leave one group out: the choice made on every *other* group, scored on ``group``."""

    group: str
    choice: Choice
    held_out: Confusion


def leave_one_group_out(groups: Mapping[str, Sequence[SkabFile]], detector: str,
                        progress: Callable[[], None] | None = None) -> list[HeldOutResult]:
    """For each group in turn: the procedure chooses on the union of the other groups alone,
    and the choice is scored on the group left out.

    Every file is scored once per grid entry (a file's scores do not depend on which group is
    left out); the choice for a held-out group reads only the other groups' labels. Summing the
    held-out confusions gives a figure on all files in which no file took part in choosing the
    constants it was scored with.
    """
    keys = list(groups)
    table: list[tuple[dict[str, Any], dict[str, list[tuple[list[bool], list[float]]]]]] = []
    for params in grid(detector):
        table.append((params, {g: score_files(groups[g], detector, params) for g in keys}))
        if progress is not None:
            progress()
    results = []
    for group in keys:
        others = [g for g in keys if g != group]
        choice = _choose(detector,
                         [(params, [s for g in others for s in by_group[g]])
                          for params, by_group in table],
                         tuple(f.key for g in others for f in groups[g]))
        scored = next(by_group[group] for params, by_group in table
                      if params == choice.params)
        results.append(HeldOutResult(group, choice, confusion(scored, choice.threshold)))
    return results
