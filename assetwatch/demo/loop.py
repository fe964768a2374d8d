"""The demo closes the loop: what a month of operating the fleet looks like, in a few steps.

Each step drives the product's own code against the demo's real servers:

* **remote configuration** (:func:`push_configs`, before the fleet streams): one document is
  stored and pushed to an asset's agent, which applies it and reports its hash in its birth
  message; a bad one is refused by the server with the agent's own reason, and nothing is
  published;
* **malformed messages** (:func:`send_malformed`, while ingest runs): a device publishes three
  messages ingest cannot store; they are kept as dead letters with the reason;
* **housekeeping** (the ``housekeeping`` flow): the hourly rollup is refreshed;
* **technician feedback** (:func:`close_tickets`): open tickets are closed with resolution codes,
  so the replacements reach the installed base and the next training has labels;
* **a silent asset** (its link is cut hours before the end of the simulated window): the
  ``alerts`` flow opens its connectivity ticket and notifies a webhook receiver running in the
  demo (:class:`WebhookReceiver`), together with the other alerts that fire.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from assetwatch.core.db import connect
from assetwatch.core.settings import Settings
from assetwatch.core.wire import topic_for
from assetwatch.errors import AssetwatchError

__all__ = ["ConfigOutcome", "WebhookReceiver", "close_tickets", "push_configs",
           "send_malformed", "webhook_receiver"]

#: A document the agent applies (smaller batches for one asset).
GOOD_CONFIG = {"batch_max_readings": 500, "batch_max_age_s": 2.0}
#: A document it would reject: a sensor its model does not have.
BAD_CONFIG = {"sensors_enabled": ["flow", "warp_core_temperature"]}

#: Resolution codes given to the most urgent open equipment tickets, in order.
RESOLUTIONS = ("confirmed_failure", "no_fault_found", "preventive_replacement")


@dataclass(frozen=True)
class ConfigOutcome:
    """What happened to one configuration push."""

    asset_tag: str
    document: dict[str, Any]
    outcome: str   # pushed | refused
    detail: str


def push_configs(demo: Settings, good_asset: str, bad_asset: str) -> list[ConfigOutcome]:
    """Set and push :data:`GOOD_CONFIG` to ``good_asset``; try :data:`BAD_CONFIG` on
    ``bad_asset`` (refused by the server's check, nothing stored or published)."""
    from assetwatch.fleet.errors import FleetError
    from assetwatch.fleet.remote_config import push, set_desired

    outcomes = []
    with connect(demo, autocommit=True) as conn:
        digest = set_desired(conn, good_asset, GOOD_CONFIG, set_by="demo")
        push(demo, conn, good_asset)
        outcomes.append(ConfigOutcome(good_asset, GOOD_CONFIG, "pushed", f"hash {digest}"))
        try:
            set_desired(conn, bad_asset, BAD_CONFIG, set_by="demo")
        except FleetError as e:
            outcomes.append(ConfigOutcome(bad_asset, BAD_CONFIG, "refused", str(e)))
        else:
            raise AssetwatchError(f"{bad_asset}: a bad configuration was accepted")
    return outcomes


def send_malformed(demo: Settings, site_id: str, asset_tag: str, password: str) -> int:
    """Publish three messages ingest must dead-letter, with the device's own credentials;
    return how many the broker took."""
    topic = topic_for(demo.topic_prefix, site_id, asset_tag, "telemetry")
    payloads = [
        b"{this is not json",
        json.dumps({"asset": asset_tag, "seq": 10**9,
                    "readings": [[1_700_000_000_000, "warp_core_temperature", 1.0]]}).encode(),
        json.dumps({"asset": asset_tag, "seq": 10**9 + 1,
                    "readings": [["yesterday", "flow", 1.0]]}).encode(),
    ]
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{asset_tag}-demo-faulty",
                         protocol=mqtt.MQTTv5)
    client.username_pw_set(asset_tag, password)
    client.connect(demo.mqtt_host, demo.mqtt_port)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos=1) for payload in payloads]
        for info in infos:
            info.wait_for_publish(timeout=10)
        return sum(info.is_published() for info in infos)
    finally:
        client.loop_stop()
        client.disconnect()


def close_tickets(demo: Settings) -> list[tuple[int, str, str, str]]:
    """Close the most urgent open equipment tickets with :data:`RESOLUTIONS`, as a technician
    would; return ``(ticket, asset, failure mode, resolution)`` per closed ticket."""
    from assetwatch.service.orders import cover_shortage
    from assetwatch.service.ticket_lifecycle import close_ticket

    closed = []
    with connect(demo, autocommit=True) as conn:
        tickets = conn.execute(
            "SELECT ticket_id, asset_tag, failure_mode FROM v_service_ticket"
            " WHERE status <> 'closed' AND kind = 'equipment'"
            " ORDER BY priority, risk DESC, ticket_id LIMIT %s", (len(RESOLUTIONS),)).fetchall()
        for (ticket_id, asset_tag, mode), code in zip(tickets, RESOLUTIONS, strict=False):
            if code in ("confirmed_failure", "preventive_replacement"):
                cover_shortage(conn, ticket_id)   # transfer or expedite what is short
            close_ticket(conn, ticket_id, resolution_code=code,
                         note="closed in the demo by the field technician")
            closed.append((ticket_id, asset_tag, mode, code))
    return closed


@dataclass
class WebhookReceiver:
    """An HTTP server on loopback that records every JSON body POSTed to it."""

    bodies: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""


@contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A :class:`WebhookReceiver` serving on a free loopback port while in the block."""
    receiver = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            receiver.bodies.append(json.loads(self.rfile.read(length) or b"{}"))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_port}/assetwatch-alerts"
    thread = threading.Thread(target=server.serve_forever, name="webhook", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        thread.join(5)
