"""Write the broker's password file and ACL for docker-compose (the ``broker-auth`` job).

Users: ``ingest`` with the password from ``ASSETWATCH_MQTT_PASSWORD``, and one user per asset
of the simulated site (``SIM_SITES`` x ``SIM_ASSETS_PER_SITE`` with ``SIM_SEED``), whose
passwords derive from the device key in ``<data_dir>/secrets`` that the site also reads. The
files land in ``<data_dir>/mosquitto/auth``; the broker's entrypoint copies them.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime

from assetwatch.core.settings import load_settings
from assetwatch.edge_agent.fleet import build_fleet
from assetwatch.stack.mosquitto import LocalMosquitto


def main() -> int:
    settings = load_settings()
    password = settings.mqtt_password
    if not password:
        print("broker-auth: set ASSETWATCH_MQTT_PASSWORD", file=sys.stderr)
        return 2
    secret = settings.secrets_dir / f"mqtt-{settings.mqtt_username}.password"
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text(password + "\n")
    secret.chmod(0o600)
    fleet = build_fleet(int(os.environ.get("SIM_SITES", "1")),
                        int(os.environ.get("SIM_ASSETS_PER_SITE", "4")),
                        int(os.environ.get("SIM_SEED", "7")), datetime.now(UTC))
    LocalMosquitto(settings).write_auth(fleet.devices(), reload=False)
    print(f"broker-auth: ingest user and {len(fleet.devices())} device users written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
