"""The demo's stages, in order, each a call into the stage's own public functions.

Stages: local services -> a fresh demo database -> fleet and master data registered -> ingest
workers started -> a remote configuration pushed (and a bad one refused) -> the simulated fleet
streamed through the edge agent (one asset's link cut hours before the end) -> malformed
messages -> ingest caught up -> anomaly detection -> Prefect flows (train, then score / demand /
tickets, replenish) -> housekeeping -> tickets closed by the technician -> the parts story
(:mod:`assetwatch.demo.parts`) -> alerts flow (the silent asset's
connectivity ticket, notifications to a webhook receiver) -> a field crew planned by the
dispatch flow and one visit closed out -> dashboards and report (see
:mod:`assetwatch.demo.loop` for the steps that close the loop).

The demo database is ``<database>_demo`` beside the configured one, recreated each run;
its topic prefix is new each run, so nothing a broker kept from an earlier run can leak in.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import psycopg
from rich.console import Console

from assetwatch.core.asset_registry import AssetSpec, register_fleet
from assetwatch.core.db import connect
from assetwatch.core.migrate import migrate
from assetwatch.core.scratch import fresh_database
from assetwatch.core.settings import Settings
from assetwatch.demo import loop
from assetwatch.demo.crew import plan_with_crew
from assetwatch.demo.options import DemoOptions
from assetwatch.demo.parts import run_parts_story
from assetwatch.demo.summary import DemoSummary, read_silent_asset, read_summary
from assetwatch.errors import AssetwatchError
from assetwatch.sim.fleet import Fleet, build_fleet

__all__ = ["run_demo"]

T = TypeVar("T")

#: Hours before the end of the simulated window from which the silent asset's link is down:
#: past its site's default grace (15 min) and connectivity ticket time (2 h).
SILENT_HOURS = 3.0


class DemoError(AssetwatchError):
    """A demo stage could not run."""


def run_demo(settings: Settings, options: DemoOptions, console: Console | None = None
             ) -> DemoSummary:
    """Run every stage on a simulated fleet and return what the database holds afterwards."""
    console = console or Console()
    run_id = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    out_dir = (options.out_dir or settings.output_dir / "demo").resolve()
    timings: dict[str, float] = {}

    def stage(name: str, work: Callable[[], T]) -> T:
        started = time.monotonic()
        with console.status(f"[bold]{name}[/bold] ..."):
            result = work()
        timings[name] = time.monotonic() - started
        console.print(f"[green]done[/green] {name} ({timings[name]:.1f} s)")
        return result

    stage("local services", lambda: _services_up(settings))
    demo = stage("fresh demo database", lambda: fresh_database(
        settings, "demo", topic_prefix=f"{settings.topic_prefix}-demo-{run_id}"))
    end = datetime.now(UTC).replace(microsecond=0)
    fleet = build_fleet(options.sites, options.assets_per_site, options.seed,
                        start=end - timedelta(days=options.days))
    stage("fleet and master data registered", lambda: _register(demo, fleet))
    tags = [a.asset_tag for a in fleet.assets]
    silent = tags[-1] if len(tags) > 2 else None
    with _ingest_workers(demo, options.ingest_workers):
        configs = stage("remote configuration pushed, a bad one refused",
                        lambda: loop.push_configs(demo, tags[0], tags[min(1, len(tags) - 1)]))
        published = stage(
            f"simulated {options.days:g} days of {len(fleet.assets)} assets streamed "
            "through the edge agent", lambda: _simulate(demo, fleet, options, out_dir, silent))
        stage("malformed messages sent by a faulty device", lambda: _malformed(demo, fleet))
        stage("ingest caught up", lambda: _wait_for_ingest(demo, published))
    stage("anomaly detection", lambda: _detect(demo))
    stage("flows: train, score, demand, tickets", lambda: _flows(demo))
    stage("housekeeping flow: hourly rollup", _housekeeping)
    closed = stage("tickets closed by the technician", lambda: loop.close_tickets(demo))
    story = stage("parts: shortage, replenishment, two-bin, warranty, repair, no fault found",
                  lambda: run_parts_story(demo))
    notified = stage("alerts flow: connectivity tickets, notifications", _alerts)
    plan, closeout = stage("field service: a crew, the dispatch plan, a close-out",
                           lambda: plan_with_crew(demo, options.seed))
    dashboards_dir, report = stage("dashboards and report", lambda: _outputs(demo, out_dir))
    summary = read_summary(demo)
    summary.configs, summary.closed_tickets, summary.silent_asset = configs, closed, silent
    summary.notifications_received = notified
    summary.parts, summary.parts_tickets_closed = story.steps, story.tickets_closed
    summary.dispatch, summary.closeout = plan, closeout
    read_silent_asset(demo, summary)
    summary.dashboards_dir, summary.report_path = dashboards_dir, report
    summary.ground_truth_path = out_dir / "ground_truth.jsonl"
    summary.stage_seconds = timings
    summary.database_url = demo.db_url
    return summary


def _services_up(settings: Settings) -> None:
    if settings.manage_services:
        from assetwatch.stack.mosquitto import LocalMosquitto
        from assetwatch.stack.postgres import LocalPostgres

        LocalPostgres(settings).up()
        LocalMosquitto(settings).up()
    migrate(settings)


def _register(demo: Settings, fleet: Fleet) -> None:
    """Register sites and assets (the installed base at the fleet's start), master data,
    and the devices' broker credentials."""
    from assetwatch.service.masterdata_load import load_sample_masterdata

    with connect(demo) as conn, conn.transaction():
        ids = register_fleet(
            conn,
            [(s.site_id, s.name, s.customer, s.sla_hours) for s in fleet.sites],
            fleet.models(),
            [AssetSpec(a.asset_tag, a.site_id, a.model_id, a.sensors, a.serial_no,
                       a.commissioned_on, a.criticality) for a in fleet.assets],
        )
        load_sample_masterdata(conn)  # after the sites, so site lead times apply
        _register_installed_base(conn, fleet, ids)
    if demo.manage_services:
        from assetwatch.stack.mosquitto import LocalMosquitto

        LocalMosquitto(demo).write_auth(fleet.devices())


def _register_installed_base(conn: psycopg.Connection, fleet: Fleet,
                             ids: dict[str, int]) -> None:
    rows = [(ids[a.asset_tag], c.component_type, c.serial_no, c.part_no, c.installed_at)
            for a in fleet.assets for c in a.components]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO installed_component (asset_id, component_type, serial_no, part_no,"
            " valid_from, warranty_end)"
            " SELECT %s, %s, %s, %s, %s,"
            " (%s::timestamptz + make_interval(months => p.warranty_months))::date"
            " FROM part p WHERE p.part_no = %s",
            [(a, ct, sn, pn, at, at, pn) for a, ct, sn, pn, at in rows],
        )


@contextmanager
def _ingest_workers(demo: Settings, count: int) -> Iterator[None]:
    from assetwatch.ingest.consumer import IngestWorker
    from assetwatch.ingest.mqtt_session import default_client_id

    # client ids under the run's own topic prefix: two demos started in the same second must
    # not take over each other's broker sessions (and so each other's readings)
    workers = [IngestWorker(demo, client_id=default_client_id(demo, i), session_expiry_s=60)
               for i in range(count)]
    threads = [threading.Thread(target=w.run, name=f"ingest-{i}", daemon=True)
               for i, w in enumerate(workers)]
    for thread in threads:
        thread.start()
    for worker in workers:
        if not worker.ready.wait(30):
            raise DemoError("an ingest worker did not connect to the broker within 30 s")
    try:
        yield
    finally:
        for worker in workers:
            worker.stop()
        for thread in threads:
            thread.join(30)


def _simulate(demo: Settings, fleet: Fleet, options: DemoOptions, out_dir: Path,
              silent: str | None) -> int:
    """Stream the fleet through the edge agent; return the number of batches published.
    ``silent``'s link is down for the last :data:`SILENT_HOURS` of the window."""
    from assetwatch.edge_agent.link import MqttEndpoint
    from assetwatch.edge_agent.simulate import run_simulation
    from assetwatch.stack.mosquitto import device_password

    out_dir.mkdir(parents=True, exist_ok=True)
    spool = out_dir / "edge-spool.sqlite"
    for leftover in out_dir.glob("edge-spool.sqlite*"):
        leftover.unlink()
    result = run_simulation(
        {"sites": options.sites, "assets_per_site": options.assets_per_site,
         "seed": fleet.seed, "days": options.days, "sample_interval_s": options.sample_interval_s,
         "start": fleet.start.isoformat(), "ground_truth": str(out_dir / "ground_truth.jsonl"),
         "silent": {silent: SILENT_HOURS} if silent else {}},
        mqtt=MqttEndpoint(host=demo.mqtt_host, port=demo.mqtt_port),
        passwords={a.asset_tag: device_password(demo, a.asset_tag) for a in fleet.assets},
        prefix=demo.topic_prefix,
        spool_path=spool,
    )
    return int(result.batches)


def _malformed(demo: Settings, fleet: Fleet) -> int:
    from assetwatch.stack.mosquitto import device_password

    asset = fleet.assets[0]
    return loop.send_malformed(demo, asset.site_id, asset.asset_tag,
                               device_password(demo, asset.asset_tag))


def _wait_for_ingest(demo: Settings, batches: int) -> None:
    from assetwatch.ingest.monitor import wait_idle

    wait_idle(demo, expected_batches=batches, timeout=600)
    wait_idle(demo, quiet_s=1.0, timeout=120)  # status and event messages


def _detect(demo: Settings) -> None:
    from assetwatch.models.monitoring.worker import score_pending

    score_pending(demo)


def _flows(demo: Settings) -> None:
    """Run the flows on a temporary local Prefect server, against the demo database."""
    from assetwatch.flows.commands import prefect_environment

    os.environ["ASSETWATCH_DB_URL"] = demo.db_url
    os.environ["ASSETWATCH_TOPIC_PREFIX"] = demo.topic_prefix
    prefect_environment(demo)
    from assetwatch.flows.pipeline import pipeline_flow

    pipeline_flow()


def _housekeeping() -> None:
    from assetwatch.flows.housekeeping import housekeeping_flow

    housekeeping_flow()


def _alerts() -> int:
    """Run the alerts flow with a webhook receiver of the demo's own; return what it got."""
    from assetwatch.flows.alerts import alerts_flow

    with loop.webhook_receiver() as receiver:
        os.environ["ASSETWATCH_ALERT_WEBHOOK_URL"] = receiver.url
        try:
            alerts_flow()
        finally:
            del os.environ["ASSETWATCH_ALERT_WEBHOOK_URL"]
    return len(receiver.bodies)


def _outputs(demo: Settings, out_dir: Path) -> tuple[Path, Path]:
    from assetwatch.dashboards.provisioning import write_dashboards
    from assetwatch.report.page import write_report

    dashboards_dir = out_dir / "dashboards"
    write_dashboards(dashboards_dir)
    return dashboards_dir, write_report(demo, out_dir / "report")
