"""The pipeline's own notifier: alert rules evaluated, people told, deliveries recorded.

:func:`evaluate` runs every alert rule of :mod:`assetwatch.dashboards.alerts` (the queries
Grafana runs too) and keeps one ``alert`` row per (rule, subject) while the condition holds:
opened when it starts, touched while it lasts, resolved when it stops. :func:`notify` tells
people about open alerts that were never notified or whose last notification is older than
the re-notify interval (one message per alert and channel, not one per evaluation: a lasting
condition does not page again until it is due), and once when a notified alert resolves.

Channels: a webhook (JSON ``POST``; connection errors and 5xx answers are retried with
back-off, 4xx answers are final) and e-mail through SMTP when a server and recipients are
configured. Every delivery is recorded in ``notification_delivery``: ``delivered``, or
``failed`` with the reason after its retries (a dead letter, shown on the pipeline-health
dashboard through ``v_notification_delivery``); a failed delivery never stops the others.
"""

from __future__ import annotations

import json
import logging
import smtplib
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from assetwatch.core.db import connect
from assetwatch.core.settings import Settings
from assetwatch.dashboards.alerts import ALERT_RULES, AlertRule

__all__ = ["Channels", "NotifyReport", "evaluate", "notify", "run_alerts"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Channels:
    """Where notifications go (both optional) and how hard to try."""

    webhook_url: str | None = None
    email_to: tuple[str, ...] = ()
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "assetwatch@localhost"
    smtp_starttls: bool = False
    smtp_user: str | None = None
    smtp_password: str | None = None
    attempts: int = 3
    backoff_s: float = 0.5
    timeout_s: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Channels:
        """The channels the ``ASSETWATCH_ALERT_*`` and ``ASSETWATCH_SMTP_*`` settings name."""
        to = tuple(a.strip() for a in (settings.alert_email_to or "").split(",") if a.strip())
        return cls(webhook_url=settings.alert_webhook_url, email_to=to,
                   smtp_host=settings.smtp_host, smtp_port=settings.smtp_port,
                   smtp_from=settings.smtp_from, smtp_starttls=settings.smtp_starttls,
                   smtp_user=settings.smtp_user, smtp_password=settings.smtp_password)

    @property
    def configured(self) -> list[tuple[str, str]]:
        """``(channel, target)`` of every configured channel."""
        out = []
        if self.webhook_url:
            out.append(("webhook", self.webhook_url))
        if self.smtp_host and self.email_to:
            out.append(("email", ", ".join(self.email_to)))
        return out


@dataclass
class NotifyReport:
    """What one evaluation and notification round did."""

    opened: int = 0
    resolved: int = 0
    open_alerts: int = 0
    delivered: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def run_alerts(settings: Settings, channels: Channels | None = None) -> NotifyReport:
    """One round: evaluate every rule, then notify what is due (the ``alerts`` flow and
    ``assetwatch alerts run``)."""
    channels = channels or Channels.from_settings(settings)
    with connect(settings, autocommit=True) as conn:
        report = evaluate(conn)
        return notify(conn, channels, renotify=timedelta(hours=settings.alert_renotify_hours),
                      report=report)


def evaluate(conn: psycopg.Connection, rules: tuple[AlertRule, ...] = ALERT_RULES, *,
             report: NotifyReport | None = None) -> NotifyReport:
    """Run every rule's query; open, touch and resolve ``alert`` rows (one transaction)."""
    report = report or NotifyReport()
    with conn.transaction():
        for rule in rules:
            firing = {}
            for subject, asset_tag, value in conn.execute(rule.sql):
                if rule.fires(None if value is None else float(value)):
                    firing[str(subject)] = (asset_tag or None, float(value))
            open_now = {s: i for i, s in conn.execute(
                "SELECT alert_id, subject FROM alert WHERE rule_uid = %s AND resolved_at IS NULL",
                (rule.uid,))}
            for subject, (asset_tag, value) in firing.items():
                summary = f"{rule.title}: {subject} ({value:g} > {rule.threshold:g})"
                if subject in open_now:
                    conn.execute("UPDATE alert SET last_seen_at = now(), value = %s, summary = %s"
                                 " WHERE alert_id = %s", (value, summary, open_now[subject]))
                    continue
                conn.execute(
                    "INSERT INTO alert (rule_uid, subject, asset_id, severity, value, summary)"
                    " SELECT %s, %s, (SELECT asset_id FROM asset WHERE asset_tag = %s), %s, %s,"
                    " %s", (rule.uid, subject, asset_tag, rule.severity, value, summary))
                report.opened += 1
            gone = [i for s, i in open_now.items() if s not in firing]
            if gone:
                conn.execute("UPDATE alert SET resolved_at = now() WHERE alert_id = ANY(%s)",
                             (gone,))
                report.resolved += len(gone)
    report.open_alerts = int(conn.execute(
        "SELECT count(*) FROM alert WHERE resolved_at IS NULL").fetchone()[0])
    return report


def notify(conn: psycopg.Connection, channels: Channels, *, renotify: timedelta,
           rules: tuple[AlertRule, ...] = ALERT_RULES,
           report: NotifyReport | None = None) -> NotifyReport:
    """Notify open alerts that are due and notified alerts that resolved (see module)."""
    report = report or NotifyReport()
    by_uid = {rule.uid: rule for rule in rules}
    due = conn.execute(
        "SELECT al.alert_id, al.rule_uid, al.subject, a.asset_tag, a.site_id, al.severity,"
        " al.value, al.summary, al.first_seen_at, al.resolved_at"
        " FROM alert al LEFT JOIN asset a USING (asset_id)"
        " WHERE (al.resolved_at IS NULL AND (al.notified_at IS NULL"
        "        OR al.notified_at < now() - %s))"
        "    OR (al.resolved_at IS NOT NULL AND al.notified_at IS NOT NULL"
        "        AND al.notified_at < al.resolved_at)"
        " ORDER BY al.alert_id", (renotify,)).fetchall()
    for row in due:
        alert_id, uid, subject, asset_tag, site_id, severity, value, summary, first, resolved = row
        rule = by_uid.get(uid)
        payload = {
            "state": "resolved" if resolved else "firing", "rule": uid,
            "title": rule.title if rule else uid, "severity": severity, "subject": subject,
            "asset_tag": asset_tag, "site_id": site_id, "value": value,
            "threshold": rule.threshold if rule else None, "summary": summary,
            "first_seen_at": _iso(first), "resolved_at": _iso(resolved),
            "runbook": rule.runbook if rule else None,
            "dashboard_uid": rule.dashboard_uid if rule else None,
        }
        for channel, target in channels.configured:
            attempts, error = _deliver(channel, channels, payload)
            with conn.transaction():
                conn.execute(
                    "INSERT INTO notification_delivery (alert_id, channel, target, state,"
                    " attempts, error, payload) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    (alert_id, channel, target, "failed" if error else "delivered", attempts,
                     error, Jsonb(payload)))
            if error:
                report.failed += 1
                report.errors.append(f"{channel} {target}: {error}")
                log.warning("notification of alert %s (%s) by %s failed: %s", alert_id,
                            subject, channel, error)
            else:
                report.delivered += 1
        with conn.transaction():
            conn.execute("UPDATE alert SET notified_at = now(), notifications = notifications"
                         " + 1 WHERE alert_id = %s", (alert_id,))
    return report


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def _deliver(channel: str, channels: Channels, payload: dict[str, Any]) -> tuple[int, str | None]:
    """``(attempts, error or None)`` of one delivery with its retries."""
    send = _post_webhook if channel == "webhook" else _send_email
    error: str | None = None
    for attempt in range(1, channels.attempts + 1):
        try:
            send(channels, payload)
            return attempt, None
        except _Final as e:
            return attempt, str(e)
        except (OSError, smtplib.SMTPException, _Retry) as e:
            error = str(e) or type(e).__name__
        if attempt < channels.attempts:
            time.sleep(channels.backoff_s * 2 ** (attempt - 1))
    return channels.attempts, error


class _Retry(Exception):
    """A delivery failed in a way worth another try (5xx)."""


class _Final(Exception):
    """A delivery was refused for good (4xx)."""


def _post_webhook(channels: Channels, payload: dict[str, Any]) -> None:
    assert channels.webhook_url
    request = urllib.request.Request(
        channels.webhook_url, data=json.dumps(payload).encode(), method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "assetwatch-notifier"})
    try:
        with urllib.request.urlopen(request, timeout=channels.timeout_s) as answer:
            answer.read()
    except urllib.error.HTTPError as e:
        text = f"HTTP {e.code} {e.reason}"
        raise (_Retry(text) if e.code >= 500 else _Final(text)) from None
    except urllib.error.URLError as e:
        raise _Retry(f"cannot reach {channels.webhook_url}: {e.reason}") from None


def _send_email(channels: Channels, payload: dict[str, Any]) -> None:
    assert channels.smtp_host
    message = EmailMessage()
    state = "RESOLVED" if payload["state"] == "resolved" else payload["severity"].upper()
    message["Subject"] = f"[assetwatch {state}] {payload['summary']}"
    message["From"] = channels.smtp_from
    message["To"] = ", ".join(channels.email_to)
    message.set_content(
        f"{payload['summary']}\n\nstate: {payload['state']}\nsite: {payload['site_id'] or '-'}"
        f"\nfirst seen: {payload['first_seen_at']}\n\nWhat to do: {payload['runbook']}\n"
        f"Dashboard: {payload['dashboard_uid']}\n")
    with smtplib.SMTP(channels.smtp_host, channels.smtp_port,
                      timeout=channels.timeout_s) as smtp:
        if channels.smtp_starttls:
            smtp.starttls()
        if channels.smtp_user:
            smtp.login(channels.smtp_user, channels.smtp_password or "")
        smtp.send_message(message)
