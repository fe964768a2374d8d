"""Set up the simulated site for docker-compose (the ``fleet-setup`` job).

1. Registers the site's fleet in the database, as the demo does: the sample master data
   (parts, BOM, lead times, stock), sites, asset models, assets with their sensors, and the
   installed base; everything is idempotent, so the job can run on every ``compose up``.
2. Writes the broker's users and access rules (Mosquitto's dynamic-security file, rules in
   ``assetwatch/stack/broker_access.py``): the ``ingest`` user with the password from
   ``ASSETWATCH_MQTT_PASSWORD`` and one user per asset, whose password derives from the device
   key in ``<data_dir>/secrets`` that the simulated site reads too. The file lands in
   ``<data_dir>/mosquitto/auth``; the broker's entrypoint copies it.

The fleet is ``SIM_SITES`` x ``SIM_ASSETS_PER_SITE`` assets with seed ``SIM_SEED``, the same
arguments the ``site-sim`` service passes to ``assetwatch edge simulate``. ``--broker-only``
skips the database (used by the tests).
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta

from assetwatch.core.settings import Settings, load_settings
from assetwatch.sim.fleet import Fleet, build_fleet
from assetwatch.stack.mosquitto import LocalMosquitto

_INSTALLED_BASE = (
    "INSERT INTO installed_component (asset_id, component_type, serial_no, part_no,"
    " valid_from, warranty_end)"
    " SELECT %s, %s, %s, %s, %s,"
    " (%s::timestamptz + make_interval(months => p.warranty_months))::date"
    " FROM part p WHERE p.part_no = %s"
    " ON CONFLICT DO NOTHING")


def register(settings: Settings, fleet: Fleet) -> int:
    """Register master data, the fleet and its installed base; return the number of assets."""
    from assetwatch.core.asset_registry import AssetSpec, register_fleet
    from assetwatch.core.db import connect
    from assetwatch.service.masterdata_load import load_sample_masterdata

    with connect(settings) as conn, conn.transaction():
        load_sample_masterdata(conn)
        ids = register_fleet(
            conn,
            [(s.site_id, s.name, s.customer, s.sla_hours) for s in fleet.sites],
            fleet.models(),
            [AssetSpec(a.asset_tag, a.site_id, a.model_id, a.sensors, a.serial_no,
                       a.commissioned_on, a.criticality) for a in fleet.assets])
        known = {row[0] for row in conn.execute(
            "SELECT DISTINCT asset_id FROM installed_component")}
        with conn.cursor() as cur:
            cur.executemany(_INSTALLED_BASE, [
                (ids[a.asset_tag], c.component_type, c.serial_no, c.part_no, c.installed_at,
                 c.installed_at, c.part_no)
                for a in fleet.assets if ids[a.asset_tag] not in known for c in a.components])
    return len(ids)


def write_broker_auth(settings: Settings, fleet: Fleet) -> None:
    """The ingest user (password from the settings) and one user per device, with their
    access rules."""
    secret = settings.secrets_dir / f"mqtt-{settings.mqtt_username}.password"
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text(f"{settings.mqtt_password}\n")
    secret.chmod(0o600)
    LocalMosquitto(settings).write_auth(fleet.devices(), reload=False)


def main(argv: list[str]) -> int:
    settings = load_settings()
    if not settings.mqtt_password:
        print("fleet-setup: set ASSETWATCH_MQTT_PASSWORD", file=sys.stderr)
        return 2
    days = float(os.environ.get("SIM_DAYS", "30"))
    fleet = build_fleet(int(os.environ.get("SIM_SITES", "1")),
                        int(os.environ.get("SIM_ASSETS_PER_SITE", "4")),
                        int(os.environ.get("SIM_SEED", "7")),
                        datetime.now(UTC) - timedelta(days=days))
    if "--broker-only" not in argv:
        print(f"fleet-setup: {register(settings, fleet)} assets registered")
    write_broker_auth(settings, fleet)
    print(f"fleet-setup: ingest user and {len(fleet.devices())} device users written")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
