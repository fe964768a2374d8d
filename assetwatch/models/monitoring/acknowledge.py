"""Acknowledging an alarm event: who knows about it, and what they noted.

An acknowledged event that is still open stays open while its deviation persists, but raises
no new alarm until the deviation changes (see :mod:`assetwatch.models.monitoring.events`); the
detection service picks the acknowledgment up in its next round for the asset.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from assetwatch.core.db import connect
from assetwatch.core.settings import Settings
from assetwatch.models.monitoring.errors import DetectionError

__all__ = ["AcknowledgeError", "Acknowledgment", "acknowledge_event"]


class AcknowledgeError(DetectionError):
    """The event cannot be acknowledged (unknown, not an anomaly, already acknowledged)."""


@dataclass(frozen=True)
class Acknowledgment:
    """An acknowledged event: its asset, whether it is still open, when, and the note."""

    event_id: int
    asset_tag: str
    is_open: bool
    acknowledged_at: datetime
    note: str | None


def acknowledge_event(settings: Settings, event_id: int, note: str | None = None
                      ) -> Acknowledgment:
    """Acknowledge anomaly event ``event_id`` with an optional note, in one transaction.

    Raises :class:`AcknowledgeError` (and changes nothing) for an unknown event, a staleness
    event (those end by themselves when readings flow again) or one already acknowledged.
    """
    with connect(settings) as conn, conn.transaction():
        row = conn.execute(
            "SELECT e.kind, e.acknowledged_at, a.asset_tag FROM anomaly_event e"
            " JOIN asset a USING (asset_id) WHERE e.anomaly_event_id = %s FOR UPDATE OF e",
            (event_id,),
        ).fetchone()
        if row is None:
            raise AcknowledgeError(f"no anomaly event {event_id}")
        kind, acknowledged_at, asset_tag = row
        if kind != "anomaly":
            raise AcknowledgeError(
                f"event {event_id} of {asset_tag} is a {kind} event; it ends by itself")
        if acknowledged_at is not None:
            raise AcknowledgeError(
                f"event {event_id} of {asset_tag} was already acknowledged at "
                f"{acknowledged_at:%Y-%m-%d %H:%M:%S %Z}")
        done = conn.execute(
            "UPDATE anomaly_event SET acknowledged_at = now(), ack_note = %s"
            " WHERE anomaly_event_id = %s RETURNING acknowledged_at, ended_at IS NULL",
            (note, event_id),
        ).fetchone()
        assert done is not None
    return Acknowledgment(event_id, asset_tag, done[1], done[0], note)
