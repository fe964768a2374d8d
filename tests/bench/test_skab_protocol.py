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


def _write_skab(folder: Path, file: SkabFile) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["datetime;flow;temp;anomaly;changepoint"]
    for i, (row, label) in enumerate(zip(file.rows, file.labels, strict=True)):
        lines.append(f"2020-03-09 10:{i // 60 % 60:02d}:{i % 60:02d};{row['flow']:.4f};"
                     f"{row['temp']:.4f};{float(label)};0.0")
    (folder / file.name).write_text("\n".join(lines) + "\n")


def test_the_bench_prints_every_group_held_out_next_to_the_leaderboard(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from assetwatch.bench.skab import _held_out_total, _shipped_table
    from assetwatch.cli import main

    groups = _groups()
    for group, files in groups.items():
        for file in files:
            _write_skab(tmp_path / group, file)
    free = replace(groups["valve1"][0], name="anomaly-free.csv",
                   labels=tuple(False for _ in groups["valve1"][0].labels))
    _write_skab(tmp_path / "anomaly-free", free)

    assert main(["bench", "skab", "--data", str(tmp_path), "--detector", "baseline"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    for text in ("leave one group out", "valve1 held out: chosen on the other two",
                 "folds)", "published Conv-AE"):
        assert text in out

    # the headline row is the sum of the three held-out groups, files read back from disk
    loaded = load_groups(tmp_path)
    held_out = skab_protocol.leave_one_group_out(loaded, "baseline")
    table = _shipped_table(tmp_path, "baseline", loaded, 0.75, held_out)
    cells = [[str(c) for c in column._cells] for column in table.columns]
    row = cells[0].index("[bold]all files, each group held out[/bold]")
    total = _held_out_total(held_out)
    assert [cells[k][row] for k in range(1, 6)] == [
        str(total.points), f"{total.f1:.3f}", f"{100 * total.far:.1f}",
        f"{100 * total.mar:.1f}", "[bold]no[/bold]"]
    assert total.points == sum(r.held_out.points for r in held_out) == sum(
        len(f.labels) - skab_protocol.WARMUP_ROWS for files in loaded.values() for f in files)


def test_constants_set_together_enter_the_grid_as_one_choice(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An axis whose name starts with ``_`` adds its constants together, never its own name."""
    monkeypatch.undo()
    entries = skab_protocol.grid("baseline")
    assert len(entries) == 16 * len(skab_protocol.RECOVERY)
    assert not any(key.startswith("_") for entry in entries for key in entry)
    recovery = {(e.get("recover_share"), e.get("recover_mode")) for e in entries}
    assert recovery == {(None, None), (0.25, "reset"), (0.25, "offset")}
    members = [p["member_params"]["baseline"] for p in skab_protocol.grid("ensemble")]
    assert len(members) == 8 * len(skab_protocol.RECOVERY)
    assert members[0] == {"alarm_adapt": 0.03, "slow_adapt": None, "max_freeze": 600}
