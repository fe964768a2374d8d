"""Model governance on the real database: shadow runs decided on live outcomes, by-hand
promotion and rollback with an audit trail, and the score flow scoring challengers apart."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta

import numpy as np
import psycopg
import pytest

from assetwatch.core.settings import Settings
from assetwatch.models.prediction.errors import PredictionError
from assetwatch.models.prediction.governance import (
    ShadowPolicy,
    challengers,
    govern_candidate,
    review_challengers,
    rollback,
    set_champion,
    start_shadow,
)
from assetwatch.models.prediction.model_registry import (
    MODEL_NAME,
    ModelVersion,
    current_version,
    register_version,
)
from assetwatch.models.prediction.scoring import score_assets
from assetwatch.models.prediction.synthetic import START, add_assets, add_event, seed_fleet
from assetwatch.models.prediction.training import TrainOptions, train_models

POLICY = ShadowPolicy(shadow_days=10, max_shadow_days=60, min_outcomes=3)
T0 = START + timedelta(days=30)
ASSETS = 6
FAILURES = {1: 12, 3: 20, 5: 26}   # asset index -> day after T0 of its bearing failure


@pytest.fixture
def db(fresh_settings: Settings) -> Iterator[psycopg.Connection]:
    with psycopg.connect(fresh_settings.db_url, autocommit=True) as conn:
        add_assets(conn, [f"A{i}" for i in range(ASSETS)])
        yield conn


def _version(conn: psycopg.Connection, score: float | None, *,
             baseline: ModelVersion | None = None, kind: str = "gradient_boosting"
             ) -> ModelVersion:
    metrics: dict = {"score": score}
    if baseline is not None:
        metrics["baseline"] = {"model_version_id": baseline.model_version_id, "score": 0.3}
    return register_version(conn, model_name=MODEL_NAME, component_type="bearing",
                            model={"kind": kind}, params={"kind": kind}, features=[],
                            metrics=metrics, train_from=START, train_to=T0)


def _live_predictions(conn: psycopg.Connection, champion: ModelVersion,
                      challenger: ModelVersion, *, challenger_sees: bool, days: int = 40
                      ) -> None:
    """Daily 7-day predictions of both; the failures happen; one of the two sees them coming."""
    ids = [r[0] for r in conn.execute("SELECT asset_id FROM asset ORDER BY asset_id")]
    for index, day in FAILURES.items():
        add_event(conn, ids[index], T0 + timedelta(days=day), "failure", "bearing")
    rng = np.random.default_rng(3)
    for d in range(days):
        at = T0 + timedelta(days=d)
        for index, asset_id in enumerate(ids):
            due = FAILURES.get(index)
            soon = due is not None and 0 < due - d <= 7
            seeing, blind = (0.9 if soon else 0.1), float(rng.uniform(0.05, 0.6))
            mine, theirs = (seeing, blind) if challenger_sees else (blind, seeing)
            for table, version, p in (("failure_prediction", champion, theirs),
                                      ("shadow_prediction", challenger, mine)):
                conn.execute(f"INSERT INTO {table} (predicted_at, asset_id, component_type,"
                             " horizon_days, failure_probability, model_version_id)"
                             " VALUES (%s, %s, 'bearing', 7, %s, %s)",
                             (at, asset_id, p, version.model_version_id))


def _trail(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute("SELECT version, action, actor, previous_version FROM v_model_audit"
                        " ORDER BY at, model_version_id").fetchall()


def test_a_better_challenger_waits_its_shadow_period_then_takes_over(
        db: psycopg.Connection) -> None:
    champion = _version(db, 0.3)
    assert govern_candidate(db, champion, at=T0 - timedelta(days=1), policy=POLICY).promoted
    challenger = _version(db, 0.5, baseline=champion)
    decision = govern_candidate(db, challenger, at=T0, policy=POLICY)
    assert not decision.promoted and "shadow" in decision.reason
    _live_predictions(db, champion, challenger, challenger_sees=True)

    [early] = review_challengers(db, model_name=MODEL_NAME, as_of=T0 + timedelta(days=5),
                                 policy=POLICY)
    assert early.decision == "wait" and "in shadow until" in early.reason
    [few] = review_challengers(db, model_name=MODEL_NAME, as_of=T0 + timedelta(days=11),
                               policy=POLICY)
    assert few.decision == "wait" and few.outcomes < POLICY.min_outcomes
    [review] = review_challengers(db, model_name=MODEL_NAME, as_of=T0 + timedelta(days=33),
                                  policy=POLICY)
    assert review.decision == "promote" and review.outcomes >= 3
    assert review.challenger_score > review.champion_score
    assert current_version(db, MODEL_NAME, "bearing").version == challenger.version
    stages = db.execute("SELECT version, stage, last_decision FROM v_model_version"
                        " ORDER BY version").fetchall()
    assert stages == [(1, "retired", None), (2, "champion", "promote")]
    assert _trail(db) == [(1, "promoted", "train flow", None),
                          (2, "shadow_started", "train flow", None),
                          (2, "promoted", "score flow", 1)]

    back = rollback(db, MODEL_NAME, "bearing", actor="alice", reason="alarms too late")
    assert back.version == 1 and current_version(db, MODEL_NAME, "bearing").version == 1
    assert _trail(db)[-1] == (1, "rolled_back", "alice", 2)
    # the champion it replaced ran in shadow once; out of service now, it is no challenger
    assert challengers(db, MODEL_NAME) == []
    third = _version(db, 0.6, baseline=back)
    start_shadow(db, third, at=T0 + timedelta(days=34), policy=POLICY, actor="train flow",
                 reason="better on the fold")
    set_champion(db, third, actor="bob", reason="by hand", at=T0 + timedelta(days=35))
    assert current_version(db, MODEL_NAME, "bearing").version == 3
    assert db.execute("SELECT version, stage FROM v_model_version ORDER BY version"
                      ).fetchall() == [(1, "retired"), (2, "retired"), (3, "champion")]


def test_a_challenger_no_better_on_live_outcomes_is_retired(db: psycopg.Connection) -> None:
    champion = _version(db, 0.3)
    set_champion(db, champion, actor="train flow", reason="first", at=T0)
    challenger = _version(db, 0.5, baseline=champion)
    start_shadow(db, challenger, at=T0, policy=POLICY, actor="train flow", reason="fold")
    _live_predictions(db, champion, challenger, challenger_sees=False)
    [review] = review_challengers(db, model_name=MODEL_NAME, as_of=T0 + timedelta(days=33),
                                  policy=POLICY)
    assert review.decision == "retire"
    assert current_version(db, MODEL_NAME, "bearing").version == champion.version
    assert review_challengers(db, model_name=MODEL_NAME, as_of=T0 + timedelta(days=34),
                              policy=POLICY) == []


def test_without_enough_outcomes_the_champion_stays_until_the_shadow_run_expires(
        db: psycopg.Connection) -> None:
    champion = _version(db, 0.3)
    set_champion(db, champion, actor="train flow", reason="first", at=T0)
    challenger = _version(db, 0.5, baseline=champion)
    start_shadow(db, challenger, at=T0, policy=POLICY, actor="train flow", reason="fold")
    strict = ShadowPolicy(shadow_days=10, max_shadow_days=60, min_outcomes=10)
    _live_predictions(db, champion, challenger, challenger_sees=True)
    [wait] = review_challengers(db, model_name=MODEL_NAME, as_of=T0 + timedelta(days=33),
                                policy=strict)
    assert wait.decision == "wait" and "10 needed" in wait.reason
    [gone] = review_challengers(db, model_name=MODEL_NAME, as_of=T0 + timedelta(days=61),
                                policy=strict)
    assert gone.decision == "retire"
    assert current_version(db, MODEL_NAME, "bearing").version == champion.version


def test_rollback_and_promotion_errors_change_nothing(db: psycopg.Connection) -> None:
    champion = _version(db, None, kind="weibull_prior")
    set_champion(db, champion, actor="score flow", reason="no current version", at=T0)
    with pytest.raises(PredictionError, match="nothing to roll back to"):
        rollback(db, MODEL_NAME, "bearing", actor="alice")
    with pytest.raises(PredictionError, match="already the champion"):
        set_champion(db, champion, actor="alice", reason="again")
    assert len(_trail(db)) == 1


def test_the_score_flow_scores_a_challenger_in_shadow_only(fresh_settings: Settings) -> None:
    with psycopg.connect(fresh_settings.db_url, autocommit=True) as conn:
        seed_fleet(conn, assets=6, days=40)
    options = TrainOptions(horizons=(3, 7), history=timedelta(days=40))
    [first] = train_models(fresh_settings, horizons=(3, 7), options=options)
    [second] = train_models(fresh_settings, horizons=(3, 7), options=options)
    assert first.promoted and not second.promoted
    with psycopg.connect(fresh_settings.db_url, autocommit=True) as conn:
        [candidate] = [v for v in (current_version(conn, MODEL_NAME, "bearing"),)
                       if v is not None]
        from assetwatch.models.prediction.governance import find_version
        kept = find_version(conn, MODEL_NAME, "bearing", second.version)
        start_shadow(conn, kept, at=START, policy=POLICY, actor="test", reason="by hand")
    written = score_assets(fresh_settings)
    with psycopg.connect(fresh_settings.db_url) as conn:
        shadow = conn.execute("SELECT count(*), min(model_version_id) FROM shadow_prediction"
                              ).fetchone()
        served = conn.execute("SELECT DISTINCT model_version_id FROM v_failure_risk"
                              ).fetchall()
    assert shadow == (written, kept.model_version_id)
    assert served == [(candidate.model_version_id,)]


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    import os
    return subprocess.run([sys.executable, "-m", "assetwatch.cli", "models", *args],
                          env={**os.environ, "ASSETWATCH_DB_URL": settings.db_url},
                          capture_output=True, text=True, timeout=120)


def test_models_commands(fresh_settings: Settings) -> None:
    with psycopg.connect(fresh_settings.db_url, autocommit=True) as conn:
        add_assets(conn, ["A0"])
        first = _version(conn, 0.3)
        set_champion(conn, first, actor="train flow", reason="first", at=T0)
        _version(conn, 0.4, baseline=first)
    unknown = _cli(fresh_settings, "promote", "bearing", "9")
    assert unknown.returncode != 0 and "Traceback" not in unknown.stderr
    assert "no version 9 of failure-risk for bearing" in unknown.stderr
    done = _cli(fresh_settings, "promote", "bearing", "2", "--reason", "field trial")
    assert done.returncode == 0, done.stderr
    listed = _cli(fresh_settings, "list", "--all").stdout
    assert "champion" in listed and "retired" in listed
    shown = _cli(fresh_settings, "show", "bearing").stdout
    assert "version 2" in shown and "field trial" in shown
    assert _cli(fresh_settings, "rollback", "bearing").returncode == 0
    with psycopg.connect(fresh_settings.db_url) as conn:
        assert current_version(conn, MODEL_NAME, "bearing").version == 1
        actors = [r[2] for r in _trail(conn)]
    assert actors[0] == "train flow" and len(set(actors[1:])) == 1 and actors[1] != "train flow"
