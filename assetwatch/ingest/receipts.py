"""Commit receipts: what ingest tells each device after its messages were committed.

After a group's transaction commits, the worker publishes one receipt per asset on
``<prefix>/v1/<site>/<asset>/receipt`` (:func:`assetwatch.core.wire.encode_receipt`) naming
the telemetry batches (by ``seq``) and events (by ``event_id``) of the group that are now
accounted for: stored, found stored before (a re-sent copy), or kept as dead letters (counted
in ``dead_letters``, so the device does not send them for ever). The edge agent deletes a
spooled message only when a receipt names it; a receipt that is lost only makes the device
send the message again, which the (asset, seq) ledger and the event ids turn into a no-op.

Status messages get no receipt (they are retained state that every birth supersedes), nor
do messages whose topic names no asset.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

import orjson

from assetwatch.core.wire import AssetEvent, Receipt, encode_receipt, topic_for
from assetwatch.ingest.columns import ColumnBatch
from assetwatch.ingest.inbound import Inbound

__all__ = ["receipts_for"]

_DEAD = "dead_letter"


def receipts_for(group: Sequence[Inbound], outcomes: Sequence[str], prefix: str,
                 now_ms: int | None = None) -> Iterator[tuple[str, bytes]]:
    """``(topic, payload)`` of the receipts for a committed ``group``.

    ``outcomes[i]`` is what became of ``group[i]`` (``stored``, ``duplicate`` or
    ``dead_letter``, as :class:`assetwatch.ingest.writer.GroupResult` says).
    """
    at = int(time.time() * 1000) if now_ms is None else now_ms
    receipts: dict[tuple[str, str], Receipt] = {}
    for message, outcome in zip(group, outcomes, strict=True):
        address = message.address
        if address is None or address.kind not in ("telemetry", "events"):
            continue
        seq, event_id = _identity(message)
        if seq is None and event_id is None:
            continue
        receipt = receipts.setdefault((address.site, address.asset), Receipt(ts_ms=at))
        if seq is not None:
            receipt.seqs.append(seq)
        if event_id is not None:
            receipt.events.append(event_id)
        if outcome == _DEAD:
            receipt.dead_letters += 1
    for (site, asset), receipt in receipts.items():
        yield topic_for(prefix, site, asset, "receipt"), encode_receipt(receipt)


def _identity(message: Inbound) -> tuple[int | None, str | None]:
    """The ``seq`` of a telemetry batch or the ``event_id`` of an event; for a message that
    did not decode, whatever of them its payload still names."""
    body = message.body
    if isinstance(body, ColumnBatch):
        return body.seq, None
    if isinstance(body, AssetEvent):
        return None, body.event_id
    try:
        doc = orjson.loads(message.payload)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(doc, dict):
        return None, None
    seq, event_id = doc.get("seq"), doc.get("event_id")
    seq = seq if type(seq) is int and 0 <= seq < 2**63 else None
    event_id = event_id if isinstance(event_id, str) and 0 < len(event_id) <= 64 else None
    if message.address is not None and message.address.kind == "events":
        seq = None
    else:
        event_id = None
    return seq, event_id
