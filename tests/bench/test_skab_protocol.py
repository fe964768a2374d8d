"""SKAB protocol: every constant and the threshold are chosen on the tuning group alone."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest

from assetwatch.bench import skab_protocol
from assetwatch.bench.skab_protocol import (
    GROUPS,
    SkabFile,
    load_groups,
    run_protocol,
    tune,
)

ROWS = 520  # 400 warm-up rows, 120 scored


def _file(group: str, name: str, seed: int, shift: float, wobble: float) -> SkabFile:
    """Normal readings with slow wobbles (near-misses), then a shift from row 460 on."""
    rng = random.Random(seed)
    rows, labels = [], []
    for i in range(ROWS):
        fault = i >= 460
        bump = wobble if 420 <= i < 440 else 0.0
        rows.append({"flow": 30 + rng.gauss(0, 0.3) - (shift if fault else 0.0) + bump,
                     "temp": 60 + rng.gauss(0, 0.2)})
        labels.append(fault)
    return SkabFile(group, name, tuple(rows), tuple(labels))


def _groups() -> dict[str, list[SkabFile]]:
    shape = {"valve1": (0.5, 0.6), "valve2": (1.5, 0.2), "other": (3.0, 0.9)}
    return {g: [_file(g, f"{k}.csv", 10 * i + k, *shape[g]) for k in range(2)]
            for i, g in enumerate(GROUPS)}


@pytest.fixture(autouse=True)
def _small_grid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(skab_protocol.TUNING_GRIDS, "baseline",
                        {"rel_floor": (0.005, 0.02), "fast_alpha": (0.05, 0.3)})


def _all_anomalous(files: list[SkabFile]) -> list[SkabFile]:
    return [replace(f, labels=tuple(True for _ in f.labels)) for f in files]


def test_each_fold_chooses_on_its_tuning_group_only() -> None:
    groups = _groups()
    folds = run_protocol(groups, "baseline")
    assert [f.tuning_group for f in folds] == list(GROUPS)
    for fold in folds:
        assert set(fold.choice.tuned_on) == {f.key for f in groups[fold.tuning_group]}
        assert fold.per_group[fold.tuning_group] == fold.choice.tuning
        assert set(fold.per_group) == set(GROUPS)
        assert fold.all_files.points == sum(c.points for c in fold.per_group.values())


def test_a_scored_groups_labels_cannot_move_a_choice() -> None:
    """Fails if a constant or the threshold is fitted on a group that is scored."""
    groups = _groups()
    before = {f.tuning_group: f.choice for f in run_protocol(groups, "baseline")}
    for tuning in GROUPS:
        changed = {g: files if g == tuning else _all_anomalous(files)
                   for g, files in groups.items()}
        (after,) = [f.choice for f in run_protocol(changed, "baseline")
                    if f.tuning_group == tuning]
        assert (after.params, after.threshold) == (before[tuning].params,
                                                   before[tuning].threshold)
    # the check has teeth: the same change on the tuning group moves its choice
    moved = 0
    for tuning in GROUPS:
        relabelled = tune(_all_anomalous(groups[tuning]), "baseline")
        moved += (relabelled.params, relabelled.threshold) != (before[tuning].params,
                                                               before[tuning].threshold)
    assert moved >= 1


def test_missing_group_is_one_clear_error(tmp_path: Path) -> None:
    from assetwatch.models.monitoring.errors import DetectionError

    (tmp_path / "valve1").mkdir()
    with pytest.raises(DetectionError, match=r"no SKAB files in .*valve1 \(pass --data DIR"):
        load_groups(tmp_path)


def test_leave_one_group_out_chooses_without_the_group_it_scores() -> None:
    """Fails if a constant or the threshold is fitted on the group it is scored on."""
    groups = _groups()
    before = {r.group: r for r in skab_protocol.leave_one_group_out(groups, "baseline")}
    assert list(before) == list(GROUPS)
    for group, result in before.items():
        assert set(result.choice.tuned_on) == {f.key for g, files in groups.items()
                                               if g != group for f in files}
        # relabelling the held-out group changes its figure, never its choice
        changed = {g: _all_anomalous(files) if g == group else files
                   for g, files in groups.items()}
        (after,) = [r for r in skab_protocol.leave_one_group_out(changed, "baseline")
                    if r.group == group]
        assert (after.choice.params, after.choice.threshold) == (
            result.choice.params, result.choice.threshold)
        assert after.held_out != result.held_out
    # the check has teeth: relabelling the groups that choose moves at least one choice
    moved = 0
    for group in GROUPS:
        changed = {g: files if g == group else _all_anomalous(files)
                   for g, files in groups.items()}
        (after,) = [r for r in skab_protocol.leave_one_group_out(changed, "baseline")
                    if r.group == group]
        moved += (after.choice.params, after.choice.threshold) != (
            before[group].choice.params, before[group].choice.threshold)
    assert moved >= 1


@pytest.mark.parametrize("name", ["ensemble", "baseline"])
def test_shipped_constants_are_one_of_the_procedures_choices(name: str,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    """A default changed to a value the procedure could not choose fails here."""
    from assetwatch.bench.skab import _constants

    monkeypatch.undo()  # the real grids, not the small one of the other tests
    choices = [_constants(name, params) for params in skab_protocol.grid(name)]
    assert _constants(name, {}) in choices
    # and the check has teeth: a member constant off the grid is no choice
    assert _constants("ensemble", {"member_params": {"baseline": {"slow_adapt": 3.0}}}) \
        not in [_constants("ensemble", p) for p in skab_protocol.grid("ensemble")]
