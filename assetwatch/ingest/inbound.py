"""One message taken from the broker, decoded and checked as far as the wire format allows.

Telemetry is decoded into columns (:mod:`assetwatch.ingest.columns`), status and events with
:mod:`assetwatch.core.wire`. Decoding happens as a message arrives (on the MQTT network
thread), so the writer only sees messages that are either decoded or already carry the reason
they will be dead-lettered with.
Checks that need the registry (is the asset known, is the topic's site its site) are the
writer's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from assetwatch.core.wire import (
    AssetEvent,
    AssetStatus,
    TopicAddress,
    WireError,
    decode_event,
    decode_status,
    parse_topic,
)
from assetwatch.ingest.columns import ColumnBatch, decode_columns

__all__ = ["Inbound", "classify"]

Body = ColumnBatch | AssetStatus | AssetEvent


@dataclass(slots=True)
class Inbound:
    """A message with what decoding made of it: ``body`` when valid, else ``error``.

    ``mid``/``qos``/``generation`` identify the MQTT delivery to acknowledge after commit.
    """

    topic: str
    payload: bytes
    received_at: float
    address: TopicAddress | None = None
    body: Body | None = None
    error: str | None = None
    mid: int = 0
    qos: int = 0
    generation: int = 0


def classify(topic: str, payload: bytes, prefix: str, *, received_at: float | None = None,
             now_ms: int | None = None) -> Inbound:
    """Decode ``payload`` by its topic's kind; never raises for bad input (see ``error``).

    Rules beyond the wire format: ``config`` topics are server to edge and not ingested, and
    a telemetry batch must name the asset of its topic.
    """
    message = Inbound(topic, payload, time.time() if received_at is None else received_at)
    try:
        address = parse_topic(topic, prefix)
        message.address = address
        if address.kind == "telemetry":
            batch = decode_columns(payload, now_ms)
            if batch.asset != address.asset:
                raise WireError(f"topic asset {address.asset!r} does not match the batch's "
                                f"asset {batch.asset!r}")
            message.body = batch
        elif address.kind == "status":
            message.body = decode_status(payload, now_ms)
        elif address.kind == "events":
            message.body = decode_event(payload, now_ms)
        else:
            raise WireError(f"topic {topic!r}: {address.kind} is a server-to-edge topic")
    except WireError as e:
        message.error = str(e)
    return message
