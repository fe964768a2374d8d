"""``assetwatch bench skab``: the SKAB outlier-detection protocol on the valve1 files.

Each file is fed, row by row, to a fresh detector through the same CSV reader and detector
objects as ``assetwatch detect score-csv``: the first 400 rows are the warm-up (learned, not
scored), every later row is scored before it is learned (no look-ahead). A point is an alarm
when its calibrated score is at least ``--threshold``. F1, false alarm rate (FP / (FP + TN))
and missed alarm rate (FN / (FN + TP)) are computed over all scored points of all files, with
the file's ``anomaly`` column as the label, and printed next to the published leaderboard.
When the data folder also holds ``anomaly-free/anomaly-free.csv`` (about 2.6 hours of normal
operation with slow drifts), the false alarm rate on it after the same warm-up is printed too:
a check of how a detector copes with drift it has not seen, which valve1 alone hides.

The threshold is not fitted to the labels: it is a level of the calibrated scale fixed in
advance (0.9 = rarer than 99.97 % of warm-up behaviour, see
:mod:`assetwatch.models.detectors.calibration`), the same for every file and detector.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["LEADERBOARD", "Confusion", "evaluate_file", "evaluate_skab", "register"]

WARMUP_ROWS = 400
DEFAULT_THRESHOLD = 0.9
#: published SKAB outlier-detection results: F1, FAR %, MAR % (None where not published)
LEADERBOARD: tuple[tuple[str, float, float | None, float | None], ...] = (
    ("Conv-AE", 0.78, 13.6, 28.0),
    ("MSET", 0.78, 39.7, 14.1),
    ("T2+Q (PCA)", 0.76, None, None),
    ("LSTM-AE", 0.74, None, None),
    ("Isolation Forest", 0.29, None, None),
)


@dataclass
class Confusion:
    """Point-wise confusion counts, and the SKAB figures derived from them."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, label: bool, alarm: bool) -> None:
        if alarm:
            if label:
                self.tp += 1
            else:
                self.fp += 1
        elif label:
            self.fn += 1
        else:
            self.tn += 1

    def __iadd__(self, other: Confusion) -> Confusion:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.tn += other.tn
        return self

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


@dataclass
class FileResult:
    name: str
    labels: list[bool] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)

    def confusion(self, threshold: float) -> Confusion:
        c = Confusion()
        for label, score in zip(self.labels, self.scores, strict=True):
            c.add(label, score >= threshold)
        return c


def _labels(path: Path) -> list[bool]:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle, delimiter=";")
        return [float(row["anomaly"]) >= 0.5 for row in reader]


def evaluate_file(path: Path, detector: str, **params: object) -> FileResult:
    """Scores and labels of the points after warm-up of one SKAB file."""
    from assetwatch.models.detectors import make_detector
    from assetwatch.models.monitoring.csvinput import read_rows

    model = make_detector(detector, warmup=WARMUP_ROWS, **params)
    labels = _labels(path)
    result = FileResult(path.name)
    for i, row in enumerate(read_rows(path)):
        score = model.score_learn_one(row.readings)
        if i >= WARMUP_ROWS:
            result.labels.append(labels[i])
            result.scores.append(score)
    return result


def anomaly_free_far(data: Path, detector: str, threshold: float) -> float | None:
    """False alarm rate on SKAB's anomaly-free file after the same warm-up; None if absent."""
    from assetwatch.models.detectors import make_detector
    from assetwatch.models.monitoring.csvinput import read_rows

    path = data / "anomaly-free" / "anomaly-free.csv"
    if not path.exists():
        return None
    model = make_detector(detector, warmup=WARMUP_ROWS)
    alarms = points = 0
    for i, row in enumerate(read_rows(path)):
        score = model.score_learn_one(row.readings)
        if i >= WARMUP_ROWS:
            points += 1
            alarms += score >= threshold
    return alarms / points if points else None


def skab_files(data: Path) -> list[Path]:
    from assetwatch.models.monitoring.errors import DetectionError

    folder = data / "valve1"
    files = sorted(folder.glob("*.csv"), key=lambda p: (len(p.stem), p.stem))
    if not files:
        raise DetectionError(f"no SKAB valve1 files in {folder} (pass --data DIR)")
    return files


def evaluate_skab(data: Path, detectors: Sequence[str]) -> dict[str, list[FileResult]]:
    """Per detector, the result of every valve1 file."""
    return {name: [evaluate_file(path, name) for path in skab_files(data)]
            for name in detectors}


def _run(settings: object, args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from assetwatch.models.detectors import DETECTORS

    console = Console()
    names = args.detector or sorted(DETECTORS)
    results = {}
    free: dict[str, float | None] = {}
    with console.status("scoring SKAB valve1"):
        for name in names:
            results[name] = [evaluate_file(p, name) for p in skab_files(Path(args.data))]
            free[name] = anomaly_free_far(Path(args.data), name, args.threshold)
    if not args.summary_only:
        table = Table(title=f"SKAB valve1 per file (threshold {args.threshold})")
        table.add_column("file")
        for name in names:
            table.add_column(f"{name}\nF1", justify="right", min_width=len(name))
            table.add_column("\nFAR %", justify="right")
        for i, first in enumerate(results[names[0]]):
            cells = [first.name]
            for name in names:
                c = results[name][i].confusion(args.threshold)
                cells += [f"{c.f1:.2f}", f"{100 * c.far:.1f}"]
            table.add_row(*cells)
        console.print(table)
    table = Table(title=f"SKAB valve1, {WARMUP_ROWS}-row warm-up, threshold {args.threshold}")
    for column in ("detector", "F1", "FAR %", "MAR %", "points", "anomaly-free FAR %"):
        table.add_column(column, justify="left" if column == "detector" else "right")
    for name in names:
        total = Confusion()
        for result in results[name]:
            total += result.confusion(args.threshold)
        points = total.tp + total.fp + total.fn + total.tn
        far_free = free[name]
        table.add_row(f"assetwatch {name}", f"{total.f1:.3f}", f"{100 * total.far:.1f}",
                      f"{100 * total.mar:.1f}", str(points),
                      "-" if far_free is None else f"{100 * far_free:.1f}")
    for label, f1, far, mar in LEADERBOARD:
        table.add_row(f"[dim]published {label}[/dim]", f"[dim]{f1:.2f}[/dim]",
                      f"[dim]{far if far is not None else '-'}[/dim]",
                      f"[dim]{mar if mar is not None else '-'}[/dim]", "", "")
    console.print(table)
    return 0


def register(benches: argparse._SubParsersAction) -> None:
    parser = benches.add_parser("skab", help="SKAB valve1 outlier detection: F1, FAR, MAR")
    parser.add_argument("--data", default="../shared/data/skab",
                        help="SKAB data folder holding valve1/ (default: %(default)s)")
    parser.add_argument("--detector", action="append", metavar="NAME",
                        help="detector to evaluate (repeatable; default: all)")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                        help="calibrated alarm level (default: %(default)s)")
    parser.add_argument("--summary-only", action="store_true",
                        help="print the aggregate table only, not each file")
    parser.set_defaults(func=_run)
