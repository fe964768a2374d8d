"""Choosing the ticket policy by replaying the ticket logic over one pipeline run
(:mod:`assetwatch.bench.service_tuning`), on a small world of the test session."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from assetwatch.bench.service_figures import figures
from assetwatch.bench.service_run import RunOptions, ServiceBenchResult, ServiceRun
from assetwatch.bench.service_stock_tuning import (
    LevelScore,
    choose_service_level,
    replay_service_level,
)
from assetwatch.bench.service_tuning import (
    PolicyScore,
    ReplayRun,
    choose_policy,
    policy_grid,
    tune_tickets,
)
from assetwatch.core.settings import Settings
from assetwatch.models.prediction.training import TrainOptions
from assetwatch.service.service_levels import ServiceLevels
from assetwatch.service.tickets import TicketPolicy

START = datetime(2025, 1, 1, tzinfo=UTC)
#: a small tuning world (not the reported seed 7), light failure models
WORLD = RunOptions(sites=1, assets_per_site=5, days=30, history_days=45, telemetry_days=30,
                   period_days=15, seed=1, train_every_days=28, dispatch_every_days=0,
                   ticket_policy=TicketPolicy(),
                   train_options=TrainOptions(gbm={"max_iter": 15, "max_leaf_nodes": 7,
                                                   "random_state": 0}, fit_rul=False))
SEASON = 15


def _score(p: float, tpf: float, open_threshold: float = 0.5) -> PolicyScore:
    return PolicyScore(TicketPolicy(open_threshold=open_threshold), 10, p, tpf, 0.5, 1.0)


def test_choose_policy_caps_tickets_then_maximises_coverage() -> None:
    scores = [_score(0.9, 2.0, 0.5), _score(0.7, 1.2, 0.6), _score(0.8, 1.3, 0.7),
              _score(0.8, 1.1, 0.8)]
    # the best coverage under the cap; ties: fewer tickets per failure
    assert choose_policy(scores).policy.open_threshold == 0.8
    assert choose_policy(scores, max_tickets_per_failure=2.0).policy.open_threshold == 0.5
    # none under the cap: the fewest tickets per failure
    assert choose_policy(scores, max_tickets_per_failure=0.5).policy.open_threshold == 0.8
    with pytest.raises(ValueError):
        choose_policy([])


def test_policy_grid_keeps_hysteresis() -> None:
    grid = policy_grid({"open_threshold": (0.3, 0.6), "close_threshold": (0.2, 0.35)})
    assert [(p.open_threshold, p.close_threshold) for p in grid] == [
        (0.3, 0.2), (0.6, 0.2), (0.6, 0.35)]


def test_reported_world_is_refused(make_database: Callable[[], Settings]) -> None:
    with pytest.raises(ValueError, match="seed 7"):
        tune_tickets(make_database(), replace(WORLD, seed=7), start=START, reuse=True)


@pytest.fixture(scope="module")
def kept_run(make_database: Callable[[], Settings]) -> tuple[Settings, ServiceBenchResult]:
    """The pipeline row on the tuning world, its database kept for the replays."""
    base = make_database()
    return base, ServiceRun(base, "pipeline", WORLD, start=START).execute()


def _replay(make_database: Callable[[], Settings], source: Settings,
            policy: TicketPolicy) -> dict[str, object]:
    run = ReplayRun(make_database(), replace(WORLD, ticket_policy=policy), start=START,
                    source=source)
    return figures(run.execute(), season_days=SEASON)


@pytest.mark.timeout(600)
def test_replay_follows_the_run_and_the_policy(
        kept_run: tuple[Settings, ServiceBenchResult],
        make_database: Callable[[], Settings]) -> None:
    source, result = kept_run
    run = figures(result, season_days=SEASON)
    assert run["tickets"] > 0
    same = _replay(make_database, source, WORLD.ticket_policy)
    assert same["failures"] == run["failures"]
    # the replay sees what the run's pipeline wrote: the same policy opens about as many
    # tickets (event peaks are their final ones, see the module)
    assert abs(same["tickets"] - run["tickets"]) <= max(2, 0.25 * run["tickets"])
    # the figure follows the policy: a threshold nothing reaches opens no ticket
    never = _replay(make_database, source, TicketPolicy(open_threshold=1.01,
                                                        reopen_threshold=1.01))
    assert never["tickets"] == 0 and never["ticketed_24h"] == 0.0
    # and the anomaly events the replay copies count: weighted 0, other tickets open
    blind = _replay(make_database, source, replace(WORLD.ticket_policy, anomaly_weight=0.0))
    assert (blind["tickets"], blind["ticketed_24h"]) != (same["tickets"], same["ticketed_24h"])


def _level(level: float, value: float | None, fill: float | None) -> LevelScore:
    return LevelScore(ServiceLevels.single(level), fill, 0.95, None, value, 0, None, 0)


def test_choose_service_level_caps_value_then_maximises_fill() -> None:
    scores = [_level(0.9, 0.5, 0.90), _level(0.95, 0.7, 0.96), _level(0.98, 0.8, 0.96),
              _level(0.99, 1.1, 0.99)]
    # the best fill within 80 % of the naive policy's value; ties: the lower value
    assert choose_service_level(scores).service_level.a == 0.95
    assert choose_service_level(scores, max_value_vs_naive=1.2).service_level.a == 0.99
    # none within: the lowest value
    assert choose_service_level(scores, max_value_vs_naive=0.1).service_level.a == 0.9
    with pytest.raises(ValueError):
        choose_service_level([])


@pytest.mark.timeout(600)
def test_replayed_service_level_moves_the_stock(
        kept_run: tuple[Settings, ServiceBenchResult],
        make_database: Callable[[], Settings]) -> None:
    source, _ = kept_run
    low, high = (replay_service_level(make_database(), source, WORLD,
                                      ServiceLevels.single(level), start=START)
                 for level in (0.5, 0.995))
    # the policy's quantile reaches the replayed stock: a higher one holds more
    assert high.stock_value is not None and low.stock_value is not None
    assert high.stock_value > low.stock_value
    with pytest.raises(ValueError, match="seed 7"):
        replay_service_level(make_database(), source, replace(WORLD, seed=7),
                             ServiceLevels.single(0.95), start=START)


def test_replayed_predictions_keep_their_versions_parameters(
        kept_run: tuple[Settings, ServiceBenchResult],
        make_database: Callable[[], Settings]) -> None:
    """The risk reads a version's remaining-life cap: a replay that dropped the parameters
    would read the clipped intervals as life distributions (more stock)."""
    import psycopg

    source, _ = kept_run
    replay = make_database()
    ReplayRun(replay, WORLD, start=START, source=source).execute()
    query = ("SELECT DISTINCT (params->>'rul_cap_days')::float8 FROM model_version"
             " WHERE model_version_id IN (SELECT model_version_id FROM failure_prediction)")
    with psycopg.connect(source.db_url) as a, psycopg.connect(replay.db_url) as b:
        kept = a.execute(query).fetchall()
        replayed = b.execute(query).fetchall()
    assert kept and replayed and set(replayed) <= set(kept) and None not in {r[0] for r in kept}


def test_bad_service_levels_on_the_command_line_are_named(
        capsys: pytest.CaptureFixture[str]) -> None:
    from assetwatch.cli import main

    assert main(["bench", "service", "--quick", "--service-level", "0.9/1.5/0.99"]) != 0
    assert "--service-level: service level of class B must be in [0.5, 1)" in \
        " ".join(capsys.readouterr().err.split())
    assert main(["bench", "service", "--quick", "--tune-service-level", "--tune-levels",
                 "0.95,high"]) != 0
    assert "--tune-levels: service level 'high'" in " ".join(capsys.readouterr().err.split())
    assert main(["bench", "service", "--quick", "--tune-service-level", "--tune-reuse"]) != 0
    assert "seed 7 is the reported world" in " ".join(capsys.readouterr().err.split())
