"""``assetwatch bench skab``: SKAB outlier detection, honestly: constants chosen on other files.

Runs the protocol of :mod:`assetwatch.bench.skab_protocol` on all 34 files, for each detector
asked for (default: ``ensemble``, the default detector of the service and of ``detect
score-csv``, then ``baseline``):

1. for each group in turn, the tuning procedure chooses every constant of the detector and the
   alarm threshold on that group alone, and the choice is scored on each group and on all files;
2. leave one group out: each group is scored with the choice made on the other two, and the
   three held-out figures add up to a figure on all 34 files in which no file took part in
   choosing the constants it was scored with (the headline, next to the leaderboard);
3. the *shipped* defaults (the constants in the detector's code and :data:`DEFAULT_THRESHOLD`,
   which are what the procedure chose on ``valve1``) on every group, on all files and on SKAB's
   anomaly-free recording; the bench says whether they are still the procedure's choice.

Each printed figure says whether its files took part in choosing it.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from assetwatch.bench.skab_protocol import (
    FAR_CAP,
    GROUPS,
    THRESHOLDS,
    WARMUP_ROWS,
    Confusion,
    FoldResult,
    HeldOutResult,
    SkabFile,
    confusion,
    grid,
    leave_one_group_out,
    load_file,
    run_protocol,
    score_files,
)

__all__ = ["DEFAULT_DETECTORS", "DEFAULT_THRESHOLD", "DEFAULT_TUNING_GROUP", "LEADERBOARD",
           "register"]

#: the alarm threshold of the shipped figures: what the procedure chose on valve1 for both
#: ``ensemble`` and ``baseline`` (FAR 3.1 % and 3.2 % there)
DEFAULT_THRESHOLD = 0.75
#: detectors the bench evaluates unless told: the default detector (service and offline), then
#: the cheaper ``baseline``
DEFAULT_DETECTORS = ("ensemble", "baseline")
#: the group the shipped defaults were chosen on
DEFAULT_TUNING_GROUP = "valve1"
#: published SKAB outlier-detection results: F1, FAR %, MAR % (None where not published)
LEADERBOARD: tuple[tuple[str, float, float | None, float | None], ...] = (
    ("Conv-AE", 0.78, 13.6, 28.0),
    ("MSET", 0.78, 39.7, 14.1),
    ("T2+Q (PCA)", 0.76, None, None),
    ("LSTM-AE", 0.74, None, None),
    ("Isolation Forest", 0.29, None, None),
)


def anomaly_free_far(data: Path, detector: str, params: dict, threshold: float
                     ) -> float | None:
    """False alarm rate on SKAB's anomaly-free recording after the warm-up; None if absent."""
    path = data / "anomaly-free" / "anomaly-free.csv"
    if not path.exists():
        return None
    free = load_file(path, "anomaly-free")
    ((_, scores),) = score_files([free], detector, params)
    return sum(s >= threshold for s in scores) / len(scores) if scores else None


def _cells(c: Confusion) -> list[str]:
    return [str(c.points), f"{c.f1:.3f}", f"{100 * c.far:.1f}", f"{100 * c.mar:.1f}"]


def _fold_table(fold: FoldResult, groups: dict[str, list[SkabFile]]):
    from rich.table import Table

    choice = fold.choice
    constants = ", ".join(f"{k}={v}" for k, v in _flat(choice.params).items()) or "no constants"
    table = Table(title=f"{choice.detector}: chosen on {fold.tuning_group} ({constants}, "
                        f"threshold {choice.threshold})")
    for column in ("files", "n", "points", "F1", "FAR %", "MAR %", "took part in choosing"):
        table.add_column(column, justify="left" if column == "files" else "right")
    for group, c in fold.per_group.items():
        took = "yes" if group == fold.tuning_group else "no"
        table.add_row(group, str(len(groups[group])), *_cells(c), took)
    total = sum(len(v) for v in groups.values())
    table.add_row("all files", str(total), *_cells(fold.all_files),
                  f"partly ({fold.tuning_group})")
    return table


def _held_out_table(detector: str, folds: list[FoldResult]):
    from rich.table import Table

    table = Table(title=f"{detector}: each group when left out (targets F1 >= 0.75, "
                        "FAR <= 15 %)")
    for column in ("files", "constants chosen on", "F1", "FAR %", "MAR %",
                   "took part in choosing"):
        table.add_column(column, justify="left" if column in ("files", "constants chosen on")
                         else "right")
    for group in GROUPS:
        for fold in folds:
            if fold.tuning_group != group and group in fold.per_group:
                c = fold.per_group[group]
                table.add_row(group, fold.tuning_group, f"{c.f1:.3f}", f"{100 * c.far:.1f}",
                              f"{100 * c.mar:.1f}", "no")
    return table


def _logo_table(detector: str, results: list[HeldOutResult],
                groups: dict[str, list[SkabFile]]):
    """Leave one group out: each group scored with the choice made on the other two."""
    from rich.table import Table

    table = Table(title=f"{detector}: leave one group out, each group scored with the constants "
                        "and threshold chosen on the other two (targets: F1 >= 0.75 and "
                        "FAR <= 15 % per group; F1 >= 0.80 and FAR <= 12 % on all files)")
    for column in ("files", "n", "chosen on", "points", "F1", "FAR %", "MAR %",
                   "took part in choosing"):
        table.add_column(column, justify="left" if column in ("files", "chosen on")
                         else "right")
    for result in results:
        table.add_row(result.group, str(len(groups[result.group])),
                      " + ".join(g for g in groups if g != result.group),
                      *_cells(result.held_out), "no")
    table.add_row("[bold]all files[/bold]", str(sum(len(v) for v in groups.values())),
                  "the other two groups", *_cells(_held_out_total(results)), "no")
    return table


def _held_out_total(results: list[HeldOutResult]) -> Confusion:
    total = Confusion()
    for result in results:
        total += result.held_out
    return total


def _choice_lines(results: list[HeldOutResult]) -> list[str]:
    return [f"  {r.group} held out: chosen on the other two: "
            + ", ".join(f"{k}={v}" for k, v in _flat(r.choice.params).items())
            + f", threshold {r.choice.threshold}" for r in results]


def _flat(params: Mapping[str, Any]) -> dict[str, Any]:
    """Constants as one level (an ensemble's member constants as ``member.name``)."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if key == "member_params" and isinstance(value, Mapping):
            for member, constants in value.items():
                out.update({f"{member}.{k}": v for k, v in constants.items()})
        else:
            out[key] = value
    return out


def _constants(detector: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Every constant the detector runs with given ``params``: its own and its members'."""
    from assetwatch.models.detectors import make_detector

    det = make_detector(detector, **params)
    out = {k: v for k, v in det._params().items() if k != "member_params"}
    for name, member in zip(getattr(det, "members", ()), getattr(det, "_members", ()),
                            strict=True):
        out.update({f"{name}.{k}": v for k, v in member._params().items()})
    return out


def _per_file_table(detector: str, groups: dict[str, list[SkabFile]], threshold: float):
    """The shipped defaults file by file: where the false alarms and the misses are."""
    from rich.table import Table

    table = Table(title=f"{detector} as shipped, threshold {threshold}, file by file")
    table.add_column("file", no_wrap=True)
    for column in ("points", "F1", "FAR %", "MAR %", "false alarms", "missed",
                   "took part in choosing"):
        table.add_column(column, justify="right")
    for group, files in groups.items():
        for file, scored in zip(files, score_files(files, detector, {}), strict=True):
            c = confusion([scored], threshold)
            table.add_row(file.key, *_cells(c), str(c.fp), str(c.fn),
                          "yes" if group == DEFAULT_TUNING_GROUP else "no")
    return table


def _shipped_table(data: Path, detector: str, groups: dict[str, list[SkabFile]],
                   threshold: float, held_out: list[HeldOutResult] | None):
    from rich.table import Table

    table = Table(title=f"{detector} as shipped (constants and threshold {threshold} chosen on "
                        f"{DEFAULT_TUNING_GROUP}), {WARMUP_ROWS}-row warm-up, next to the "
                        "leaderboard (all 34 files)")
    for column in ("files", "points", "F1", "FAR %", "MAR %", "took part in choosing"):
        table.add_column(column, justify="left" if column == "files" else "right")
    total = Confusion()
    for group, files in groups.items():
        c = confusion(score_files(files, detector, {}), threshold)
        total += c
        table.add_row(group, *_cells(c), "yes" if group == DEFAULT_TUNING_GROUP else "no")
    table.add_row("all files", *_cells(total), f"partly ({DEFAULT_TUNING_GROUP})")
    if held_out is not None:
        table.add_row("[bold]all files, each group held out[/bold]",
                      *_cells(_held_out_total(held_out)), "[bold]no[/bold]")
    free = anomaly_free_far(data, detector, {}, threshold)
    if free is not None:
        table.add_row("anomaly-free (check)", "", "", f"{100 * free:.1f}", "", "no")
    for label, f1, far, mar in LEADERBOARD:
        table.add_row(f"[dim]published {label}[/dim]", "", f"[dim]{f1:.2f}[/dim]",
                      f"[dim]{far if far is not None else '-'}[/dim]",
                      f"[dim]{mar if mar is not None else '-'}[/dim]", "")
    return table


def _shipped_check(detector: str, folds: list[FoldResult], held_out: list[HeldOutResult],
                   threshold: float) -> list[str]:
    """Whether the shipped defaults are what the procedure chooses on the default group, and
    whether every leave-one-group-out fold chose the shipped constants."""
    shipped = _constants(detector, {})
    lines = []
    fold = next((f for f in folds if f.tuning_group == DEFAULT_TUNING_GROUP), None)
    if fold is not None:
        chosen = _constants(detector, fold.choice.params)
        differ = {k: (shipped.get(k), v) for k, v in chosen.items() if shipped.get(k) != v}
        if fold.choice.threshold != threshold:
            differ["threshold"] = (threshold, fold.choice.threshold)
        lines.append(
            f"{detector}: the shipped constants and threshold {threshold} are the procedure's "
            f"choice on {DEFAULT_TUNING_GROUP}" if not differ else
            f"[red]{detector}: shipped defaults differ from the procedure's choice on "
            f"{DEFAULT_TUNING_GROUP}: " + ", ".join(
                f"{k} shipped {a} chosen {b}" for k, (a, b) in differ.items()) + "[/red]")
    same = [r.group for r in held_out if _constants(detector, r.choice.params) == shipped]
    lines.append(f"{detector}: leave one group out chose the shipped constants with "
                 f"{', '.join(same) or 'no group'} held out "
                 f"({len(same)} of {len(held_out)} folds)")
    return lines


def _run(settings: object, args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import Progress

    from assetwatch.bench.skab_protocol import load_groups

    console = Console()
    data = Path(args.data)
    groups = load_groups(data)
    names = args.detector or list(DEFAULT_DETECTORS)
    console.print(f"tuning procedure: every combination of the detector's grid and thresholds "
                  f"{', '.join(map(str, THRESHOLDS))} on the tuning group; highest F1 with "
                  f"FAR <= {100 * FAR_CAP:.0f} % there")
    for name in names:
        held_out = None
        if not args.shipped_only:
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task(f"{name}: tuning", total=len(grid(name)) * len(groups))
                folds = run_protocol(groups, name,
                                     lambda task=task: progress.advance(task))
            for fold in folds:
                console.print(_fold_table(fold, groups))
            console.print(_held_out_table(name, folds))
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task(f"{name}: leave one group out", total=len(grid(name)))
                held_out = leave_one_group_out(groups, name,
                                               lambda task=task: progress.advance(task))
            console.print(_logo_table(name, held_out, groups))
            for line in _choice_lines(held_out) + _shipped_check(name, folds, held_out,
                                                                  args.threshold):
                console.print(line)
        if args.per_file:
            console.print(_per_file_table(name, groups, args.threshold))
        console.print(_shipped_table(data, name, groups, args.threshold, held_out))
    return 0


def register(benches: argparse._SubParsersAction) -> None:
    parser = benches.add_parser(
        "skab", help="SKAB outlier detection: constants chosen on one group, scored on all")
    parser.add_argument("--data", default="../shared/data/skab",
                        help="SKAB data folder holding valve1/, valve2/, other/ and "
                             "anomaly-free/ (default: %(default)s)")
    parser.add_argument("--detector", action="append", metavar="NAME",
                        help="detector to evaluate (repeatable; default: "
                             f"{', '.join(DEFAULT_DETECTORS)})")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                        help="alarm level of the shipped-defaults table (default: %(default)s, "
                             f"chosen on {DEFAULT_TUNING_GROUP})")
    parser.add_argument("--shipped-only", action="store_true",
                        help="score the shipped defaults only, without the tuning protocol")
    parser.add_argument("--per-file", action="store_true",
                        help="also print the shipped defaults' figures file by file")
    parser.set_defaults(func=_run)
