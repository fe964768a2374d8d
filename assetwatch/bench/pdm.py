"""``assetwatch bench pdm``: failure prediction against ground truth.

- default: the Microsoft Azure predictive-maintenance sample (:mod:`.azure`), 48 h warnings
  per component with a time split;
- ``--simulate``: a simulated fleet, walking forward with retraining every 14 days;
- ``--scale N``: the time to score N synthetic assets through the ``score`` flow;
- ``--fleet``: the predictions stored in the configured database against its recorded
  failures.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from assetwatch.core.rollup import refresh_rollup_range
from assetwatch.core.scratch import fresh_database

#: the simulated world's operating signal and its regimes (stopped, part load, full load)
SIM_OPERATING_SIGNAL = "speed"
SIM_REGIMES = 3

__all__ = ["SIM_OPERATING_SIGNAL", "SIM_REGIMES", "load_simulated_fleet", "register",
           "run_fleet_benchmark", "run_scoring_benchmark"]


_SCALE_ASSETS_SQL = """
INSERT INTO asset (asset_tag, site_id, model_id, commissioned_on)
SELECT 'X' || lpad(i::text, 6, '0'), 'S1', 'TP-1', DATE '2024-06-01'
FROM generate_series(1, %(n)s) AS i
"""
_SCALE_SENSORS_SQL = """
INSERT INTO sensor (asset_id, name, unit)
SELECT a.asset_id, n.name, 'u' FROM asset a
CROSS JOIN unnest(%(sensors)s::text[]) AS n(name)
WHERE a.asset_tag LIKE 'X%%'
"""
_SCALE_COMPONENTS_SQL = """
INSERT INTO installed_component (asset_id, component_type, serial_no, valid_from)
SELECT asset_id, 'bearing', asset_tag || '-0',
       %(start)s::timestamptz - random() * INTERVAL '30 days'
FROM asset WHERE asset_tag LIKE 'X%%'
"""
_SCALE_TELEMETRY_SQL = """
INSERT INTO telemetry (time, asset_id, sensor_id, value)
SELECT t, s.asset_id, s.sensor_id,
       CASE s.name WHEN 'temp' THEN 50 ELSE 2 END + random()
FROM sensor s
JOIN asset a ON a.asset_id = s.asset_id AND a.asset_tag LIKE 'X%%'
CROSS JOIN generate_series(%(start)s::timestamptz, %(end)s::timestamptz - %(step)s::interval,
                           %(step)s::interval) AS t
"""


def run_scoring_benchmark(settings: Any, *, assets: int = 10_000, days: int = 8,
                          step: timedelta = timedelta(hours=1),
                          extra_sensors: int = 6) -> dict[str, Any]:
    """Train on a small synthetic fleet, add ``assets`` assets with ``days`` of telemetry every
    ``step`` (the two sensors the model reads plus ``extra_sensors`` others), then time
    ``score_assets`` (the function the ``score`` flow calls) and the flow itself."""
    from assetwatch.models.prediction.scoring import score_assets
    from assetwatch.models.prediction.synthetic import START, seed_fleet
    from assetwatch.models.prediction.training import TrainOptions, train_models

    scratch = fresh_database(settings, "bench_score")
    end = START + timedelta(days=60)
    with psycopg.connect(scratch.db_url, autocommit=True) as conn:
        seed_fleet(conn, assets=20, days=60)
    trained = train_models(scratch, horizons=(7, 30),
                           options=TrainOptions(history=timedelta(days=60)))
    sensors = ["temp", "vib", *[f"aux{i}" for i in range(extra_sensors)]]
    started = time.perf_counter()
    with psycopg.connect(scratch.db_url, autocommit=True) as conn:
        conn.execute(_SCALE_ASSETS_SQL, {"n": assets})
        conn.execute(_SCALE_SENSORS_SQL, {"sensors": sensors})
        conn.execute(_SCALE_COMPONENTS_SQL, {"start": end - timedelta(days=days)})
        readings = conn.execute(_SCALE_TELEMETRY_SQL, {
            "start": end - timedelta(days=days), "end": end, "step": step}).rowcount
        conn.execute("ANALYZE telemetry")
    loaded = time.perf_counter()
    rows = score_assets(scratch, as_of=end)
    scored = time.perf_counter()
    # the same through the score flow, on a temporary local Prefect server (its start counted)
    from assetwatch.flows.commands import prefect_environment

    os.environ["ASSETWATCH_DB_URL"] = scratch.db_url
    prefect_environment(scratch)
    from assetwatch.flows.score import score_flow

    flow_rows = score_flow(as_of=end)
    flowed = time.perf_counter()
    return {"assets": assets + 20, "readings": readings, "prediction_rows": rows,
            "flow_rows": flow_rows, "model": [(r.component_type, r.kind, r.version)
                                              for r in trained],
            "load_s": loaded - started, "score_s": scored - loaded, "flow_s": flowed - scored,
            "database": scratch.db_url}


def load_simulated_fleet(conn: psycopg.Connection, *, sites: int, assets_per_site: int,
                         days: float, sample_interval_s: float, seed: int,
                         start: datetime) -> dict[str, Any]:
    """Register a :func:`~assetwatch.sim.fleet.build_fleet` fleet with the sample master data
    (its datasheet lives are the failure models' priors) and write what its simulator
    produces (readings by binary COPY, events into ``asset_event``). Asset models with the
    simulator's operating signal (``speed``) get operating regimes, so training normalises
    their sensors per load level."""
    from assetwatch.core.asset_registry import AssetSpec, register_fleet
    from assetwatch.core.source import Sample
    from assetwatch.service.masterdata_load import load_sample_masterdata
    from assetwatch.sim.fleet import build_fleet
    from assetwatch.sim.simulator import FleetSimulator

    fleet = build_fleet(sites, assets_per_site, seed=seed, start=start)
    ids = register_fleet(conn, list(fleet.sites), fleet.models(), [
        AssetSpec(a.asset_tag, a.site_id, a.model_id, a.sensors, a.serial_no,
                  a.commissioned_on, a.criticality) for a in fleet.assets])
    load_sample_masterdata(conn)
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO component_type (component_type) VALUES (%s)"
                        " ON CONFLICT DO NOTHING",
                        sorted({(c.component_type,) for a in fleet.assets
                                for c in a.components}))
        cur.executemany(
            "INSERT INTO installed_component (asset_id, component_type, serial_no, valid_from)"
            " VALUES (%s, %s, %s, %s)",
            [(ids[a.asset_tag], c.component_type, c.serial_no, c.installed_at)
             for a in fleet.assets for c in a.components])
    # the simulator's operating signal, where its models have one: regimes per asset model
    conn.execute("INSERT INTO asset_model_regime (model_id, signals, regimes)"
                 " SELECT DISTINCT a.model_id, ARRAY[%s], %s FROM asset a"
                 " JOIN sensor s ON s.asset_id = a.asset_id AND s.name = %s"
                 " ON CONFLICT (model_id) DO NOTHING",
                 (SIM_OPERATING_SIGNAL, SIM_REGIMES, SIM_OPERATING_SIGNAL))
    sensor_ids = {(a, n): s for s, a, n in conn.execute(
        "SELECT sensor_id, asset_id, name FROM sensor")}
    simulator = FleetSimulator(fleet, days=days, sample_interval_s=sample_interval_s)
    events: list[tuple[Any, ...]] = []
    readings = 0
    with conn.cursor() as cur, cur.copy(
            "COPY telemetry (time, asset_id, sensor_id, value) FROM STDIN (FORMAT BINARY)") as cp:
        cp.set_types(["timestamptz", "integer", "integer", "double precision"])
        while not simulator.exhausted:
            for item in simulator.poll(100_000, 0.0):
                asset_id = ids[item.asset]
                if isinstance(item, Sample):
                    at = datetime.fromtimestamp(item.ts_ms / 1000, tz=UTC)
                    for name, value in item.values:
                        cp.write_row((at, asset_id, sensor_ids[asset_id, name], value))
                    readings += len(item.values)
                else:
                    e = item.event
                    events.append((e.event_id, asset_id,
                                   datetime.fromtimestamp(e.ts_ms / 1000, tz=UTC), e.kind,
                                   e.component_type, e.part_no, e.code))
    # loaded without the ingest ledger: the hourly rollup learns of the readings here
    refresh_rollup_range(conn, start, start + timedelta(days=days + 1))
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO asset_event (event_id, asset_id, time, kind, component_type, part_no,"
            " code) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING", events)
    failures = sum(1 for e in events if e[3] == "failure")
    return {"assets": len(ids), "readings": readings, "events": len(events),
            "failures": failures}


def run_fleet_benchmark(settings: Any, *, sites: int = 3, assets_per_site: int = 10,
                        days: float = 180, sample_interval_s: float = 1800, seed: int = 11,
                        warmup_days: float = 90, step_days: float = 14,
                        threshold: float = 0.5) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Simulate a fleet into a scratch database, then walk forward: every ``step_days`` train
    on what was known (default flow options; no RUL regressors, they do not change the
    alarms), predict the next ``step_days``, score against the simulator's failures."""
    from assetwatch.models.prediction.backtest import walk_forward
    from assetwatch.models.prediction.evaluation import alarm_metrics
    from assetwatch.models.prediction.features import build_feature_frame
    from assetwatch.models.prediction.lives import component_lives
    from assetwatch.models.prediction.training import TrainOptions
    from assetwatch.models.prediction.validation import classification_metrics

    started = time.perf_counter()
    scratch = fresh_database(settings, "bench_fleet")
    start = datetime(2025, 1, 1, tzinfo=UTC)
    options = replace(TrainOptions(), fit_rul=False)
    with psycopg.connect(scratch.db_url) as conn:
        info = load_simulated_fleet(conn, sites=sites, assets_per_site=assets_per_site,
                                    days=days, sample_interval_s=sample_interval_s,
                                    seed=seed, start=start)
        conn.commit()
        loaded = time.perf_counter()
        as_of = start + timedelta(days=days)
        frame = build_feature_frame(conn, options.spec, as_of=as_of,
                                    first_snapshot=start + options.spec.history)
        lives = component_lives(conn)
    featurised = time.perf_counter()
    predicted = walk_forward(frame, options, lives=lives,
                             start=start + timedelta(days=warmup_days),
                             step=timedelta(days=step_days))
    rows = []
    for h in options.horizons:
        remaining = (as_of - pd_to_datetime(predicted["snapshot_at"])).dt.total_seconds() / 86400
        known = (predicted["days_to_failure"] < h) | (remaining >= h)
        part = predicted[known.to_numpy()]
        for component in [*sorted(part["component_type"].unique()), None]:
            sel = part if component is None else part[part["component_type"] == component]
            probability = sel[f"prob_{h}"].to_numpy()
            m = alarm_metrics(sel, probability, horizon_days=h, threshold=threshold)
            labels = (sel["days_to_failure"].fillna(1e9) < h).to_numpy()
            ap = classification_metrics(labels, probability)["average_precision"]
            rows.append({"horizon": h, "component": component or "all", "metrics": m,
                         "ap": ap, "learned": float((sel["model"] != "weibull_prior").mean())
                         if len(sel) else 0.0})
    info.update(load_s=loaded - started, features_s=featurised - loaded,
                backtest_s=time.perf_counter() - featurised, snapshots=len(frame))
    return rows, info


def pd_to_datetime(values: Any) -> Any:
    import pandas as pd

    return pd.to_datetime(values, utc=True)


def register(benches: argparse._SubParsersAction) -> None:
    parser = benches.add_parser(
        "pdm", help="Azure PdM sample (48 h failure alarms) or --fleet ground truth")
    parser.add_argument("--data", default="../shared/data/azure-pdm", type=Path,
                        help="folder with the PdM_*.csv files (default: %(default)s)")
    parser.add_argument("--fleet", action="store_true",
                        help="instead: evaluate the predictions stored in the configured "
                             "database against its recorded failures")
    parser.add_argument("--horizon-days", type=int, default=7,
                        help="with --fleet: the horizon to evaluate (default: %(default)s)")
    parser.add_argument("--threshold", type=float, default=0.5,
                        help="with --fleet/--simulate: the alarm threshold "
                             "(default: %(default)s)")
    parser.add_argument("--simulate", action="store_true",
                        help="instead: simulate a fleet, retrain every 14 days walking "
                             "forward, score against the simulator's recorded failures")
    parser.add_argument("--scale", type=int, metavar="ASSETS",
                        help="instead: time scoring this many synthetic assets (e.g. 10000)")
    parser.add_argument("--valid-fraction", type=float, default=1 / 3, metavar="F",
                        help="Azure sample: the newest share of the period that validates "
                             "(default: a third)")
    parser.add_argument("--retrain-days", type=float, metavar="DAYS",
                        help="Azure sample: walk the validation period forward, retraining "
                             "every DAYS days (default: one split)")
    parser.set_defaults(func=_run)


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _run(settings: Any, args: argparse.Namespace) -> int:
    if args.fleet:
        return _run_fleet(settings, args)
    if args.simulate:
        return _run_simulated(settings, args)
    if args.scale:
        info = run_scoring_benchmark(settings, assets=args.scale)
        print(f"scored {info['assets']} assets ({info['readings']} readings in the window, "
              f"8 sensors each) -> {info['prediction_rows']} prediction rows: "
              f"score_assets {info['score_s']:.1f} s, score flow {info['flow_s']:.1f} s "
              f"(with Prefect's start; target < 60 s); model {info['model']}")
        return 0
    return _run_azure(settings, args)


def _run_azure(settings: Any, args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from assetwatch.bench.azure import run_azure_benchmark

    if not 0 < args.valid_fraction < 1:
        raise SystemExit(f"--valid-fraction must be between 0 and 1, not {args.valid_fraction}")
    if args.retrain_days is not None and args.retrain_days <= 0:
        raise SystemExit(f"--retrain-days must be positive, not {args.retrain_days}")
    every = timedelta(days=args.retrain_days) if args.retrain_days else None
    results, info = run_azure_benchmark(settings, args.data, valid_fraction=args.valid_fraction,
                                        retrain_every=every)
    protocol = (f"retrained every {args.retrain_days:g} days" if every else "one time split")
    table = Table(title=f"Azure PdM sample: 'fails within 48 h', validation from "
                        f"{info['validation_from']:%Y-%m-%d %H:%M} ({protocol})")
    for column in ("component", "label", "thr", "snap. P", "snap. R", "AP", "warnings true",
                   "warning P", "failures warned", "warning R", "mean lead (h)"):
        table.add_column(column, justify="left" if column == "component" else "right")
    met = []
    for r in results:
        m = r.metrics
        labels = sorted({f"{f.label_days * 24} h" for f in r.folds})
        thresholds = sorted({f.threshold for f in r.folds})
        table.add_row(r.component_type, "/".join(labels),
                      "/".join(_fmt(t) for t in thresholds), _fmt(m.precision), _fmt(m.recall),
                      _fmt(r.average_precision), f"{m.true_warnings}/{m.warnings}",
                      _fmt(m.warning_precision), f"{m.failures_warned}/{m.failures}",
                      _fmt(m.warning_recall), _fmt(m.mean_lead_hours, 1))
        met.append((m.warning_precision or 0) >= 0.8 and (m.warning_recall or 0) >= 0.8)
    Console(width=130).print(table)
    print("snap. P/R, AP: per 3-hour snapshot (positive: the component fails within 48 h); "
          "warnings: alarms of a machine less than 48 h apart form one, true if the component "
          "failed within 48 h after one of its alarms; label and thr: the training label and "
          "alarm threshold chosen on the training data")
    print(f"target recall >= 0.80 at precision >= 0.80 (warnings): "
          f"{sum(met)} of {len(met)} components")
    print(f"{info['assets']} machines, {info['readings']} readings, {info['events']} events, "
          f"{info['snapshots']} snapshots, {info['folds']} validation fold(s); ingest "
          f"{info['ingest_s']:.1f} s, SQL features {info['features_s']:.1f} s, "
          f"train+evaluate {info['train_s']:.1f} s")
    return 0


def _run_simulated(settings: Any, args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    rows, info = run_fleet_benchmark(settings, threshold=args.threshold)
    table = Table(title=f"Simulated fleet, walk-forward (retrain every 14 days), threshold "
                        f"{args.threshold}")
    for column in ("horizon", "component", "snap. P", "snap. R", "AP", "warnings true",
                   "failures warned", "mean lead (h)", "learned"):
        table.add_column(column, justify="left" if column == "component" else "right")
    for r in rows:
        m = r["metrics"]
        table.add_row(f"{r['horizon']} d", r["component"], _fmt(m.precision), _fmt(m.recall),
                      _fmt(r["ap"]), f"{m.true_warnings}/{m.warnings}",
                      f"{m.failures_warned}/{m.failures}", _fmt(m.mean_lead_hours, 0),
                      f"{r['learned']:.0%}")
    Console(width=120).print(table)
    print("snap. P/R, AP: per daily snapshot; warnings: alarms of an asset's component less "
          "than a horizon apart form one, true if it failed within the horizon after one")
    print(f"{info['assets']} assets, {info['readings']} readings, {info['failures']} failures, "
          f"{info['snapshots']} snapshots; load {info['load_s']:.0f} s, features "
          f"{info['features_s']:.0f} s, backtest {info['backtest_s']:.0f} s")
    return 0


def _run_fleet(settings: Any, args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from assetwatch.core.db import connect
    from assetwatch.models.prediction.evaluation import evaluate_stored_predictions

    with connect(settings) as conn:
        components = [r[0] for r in conn.execute(
            "SELECT DISTINCT component_type FROM failure_prediction ORDER BY 1")]
        table = Table(title=f"Stored predictions vs recorded failures, horizon "
                            f"{args.horizon_days} d, threshold {args.threshold}")
        for column in ("component", "snapshots", "precision", "recall", "warnings true",
                       "failures warned", "mean lead (h)"):
            table.add_column(column, justify="left" if column == "component" else "right")
        for component in [*components, None]:
            m = evaluate_stored_predictions(conn, horizon_days=args.horizon_days,
                                            threshold=args.threshold,
                                            component_type=component)
            table.add_row(component or "all", str(m.snapshots), _fmt(m.precision),
                          _fmt(m.recall), f"{m.true_warnings}/{m.warnings}",
                          f"{m.failures_warned}/{m.failures}", _fmt(m.mean_lead_hours, 1))
    Console().print(table)
    return 0
