"""The notifier end to end: a local HTTP receiver and a local SMTP server get the alerts.

The database is the seeded fleet (an open anomaly event peaking at 0.97, failure risks,
stock-out flags, dead letters), so several rules fire; the receivers are real servers on
loopback.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import psycopg
import pytest
from aiosmtpd.controller import Controller
from seeded_fleet import seed_fleet

from assetwatch.core.settings import Settings
from assetwatch.fleet.notifier import Channels, evaluate, notify

pytestmark = pytest.mark.integration


class Receiver:
    """An HTTP server on loopback answering every POST with ``status``; records bodies."""

    def __init__(self, status: int = 200) -> None:
        self.status, self.bodies = status, []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


class Mailbox:
    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.content.decode())
        return "250 OK"

    def __init__(self) -> None:
        self.messages: list[str] = []


@pytest.fixture
def seeded(fresh_settings: Settings) -> Iterator[psycopg.Connection]:
    with psycopg.connect(fresh_settings.db_url, autocommit=True) as conn:
        with conn.transaction():
            seed_fleet(conn)
        yield conn


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_alerts_reach_a_webhook_and_a_mailbox_once_then_again_when_due(seeded) -> None:
    conn = seeded
    receiver, mailbox = Receiver(), Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    smtp.start()
    channels = Channels(webhook_url=receiver.url, email_to=("oncall@example.com",),
                        smtp_host="127.0.0.1", smtp_port=smtp.port)
    try:
        report = notify(conn, channels, renotify=timedelta(hours=12), report=evaluate(conn))
        assert report.opened >= 2 and report.failed == 0
        firing = {b["rule"] for b in receiver.bodies}
        assert {"aw-anomaly-critical", "aw-failure-risk"} <= firing
        assert len(receiver.bodies) == report.open_alerts == len(mailbox.messages)
        anomaly = next(b for b in receiver.bodies if b["rule"] == "aw-anomaly-critical")
        assert anomaly["state"] == "firing" and anomaly["asset_tag"] and anomaly["runbook"]
        assert any("aw-anomaly-critical" not in m and "[assetwatch" in m
                   for m in mailbox.messages)
        # the same conditions again: nothing new is sent (deduplicated per rule and subject)
        again = notify(conn, channels, renotify=timedelta(hours=12), report=evaluate(conn))
        assert again.opened == 0 and again.delivered == 0
        # past the re-notify interval the lasting alerts are sent once more
        time.sleep(0.05)
        later = notify(conn, channels, renotify=timedelta(milliseconds=10), report=evaluate(conn))
        assert later.delivered == 2 * report.open_alerts
        # the anomaly event ends: the alert resolves and a resolved message goes out once
        conn.execute("UPDATE anomaly_event SET ended_at = now() WHERE ended_at IS NULL")
        sent = len(receiver.bodies)
        resolved = notify(conn, channels, renotify=timedelta(hours=12), report=evaluate(conn))
        assert resolved.resolved >= 1
        states = [b["state"] for b in receiver.bodies[sent:]
                  if b["rule"] == "aw-anomaly-critical"]
        assert states and set(states) == {"resolved"}
        assert notify(conn, channels, renotify=timedelta(hours=12),
                      report=evaluate(conn)).delivered == 0
    finally:
        smtp.stop()
        receiver.close()


def test_a_refusing_webhook_is_retried_then_dead_lettered(seeded) -> None:
    conn = seeded
    failing = Receiver(status=503)
    try:
        channels = Channels(webhook_url=failing.url, attempts=3, backoff_s=0.01)
        report = notify(conn, channels, renotify=timedelta(hours=12), report=evaluate(conn))
        assert report.delivered == 0 and report.failed == report.open_alerts > 0
        assert len(failing.bodies) == 3 * report.open_alerts  # every delivery tried 3 times
        rows = conn.execute("SELECT state, attempts, error FROM v_notification_delivery"
                            ).fetchall()
        assert {r[0] for r in rows} == {"failed"}
        assert {r[1] for r in rows} == {3} and "HTTP 503" in rows[0][2]
    finally:
        failing.close()
    refused = Receiver(status=404)  # a wrong URL is final: no retries
    try:
        conn.execute("UPDATE alert SET notified_at = NULL")
        report = notify(conn, Channels(webhook_url=refused.url, backoff_s=0.01),
                        renotify=timedelta(hours=12))
        assert len(refused.bodies) == report.failed
    finally:
        refused.close()
