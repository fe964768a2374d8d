"""Installed-base changes of one asset are serialised: concurrent writers never collide."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime

import psycopg
import pytest
from ingest_support import SITE, Fleet, register

from assetwatch.core import installed_base
from assetwatch.core.settings import Settings
from assetwatch.core.wire import (
    AssetEvent,
    AssetStatus,
    encode_event,
    encode_status,
    topic_for,
)
from assetwatch.ingest import records, writer
from assetwatch.ingest.inbound import Inbound, classify
from assetwatch.ingest.writer import DEAD, STORED, BatchWriter, GroupResult
from assetwatch.service.configuration import replace_component

T0 = int(time.time() * 1000) - 3_600_000


@pytest.fixture
def fleet(fresh_settings: Settings) -> Fleet:
    return register(fresh_settings, ["P-1"], broker=False)


def _birth(s: Settings, ts: int, serial: str) -> Inbound:
    status = AssetStatus("online", ts, "1.0", "fw", "h",
                         [{"component_type": "bearing", "serial_no": serial}])
    return classify(topic_for(s.topic_prefix, SITE, "P-1", "status"), encode_status(status),
                    s.topic_prefix)


def _replaced(s: Settings, ts: int, serial: str) -> Inbound:
    event = AssetEvent(f"ev-{ts}-{serial}", ts, "part_replaced", "bearing",
                       serial_installed=serial)
    return classify(topic_for(s.topic_prefix, SITE, "P-1", "events"), encode_event(event),
                    s.topic_prefix)


class HeldTransaction:
    """A writer whose transaction stays open (after applying its group) until released."""

    def __init__(self, settings: Settings, group: list[Inbound]) -> None:
        self.applied, self.release = threading.Event(), threading.Event()
        self.result: GroupResult | None = None
        self.thread = threading.Thread(target=self._run, args=(settings, group))
        self.thread.start()
        assert self.applied.wait(10)

    def _run(self, settings: Settings, group: list[Inbound]) -> None:
        def hold(*args: object) -> None:
            self.applied.set()
            self.release.wait(10)

        with psycopg.connect(settings.db_url) as conn:
            self.result = BatchWriter(conn).write(group, hold)

    def finish(self) -> GroupResult:
        self.release.set()
        self.thread.join(10)
        assert self.result is not None
        return self.result


def _race(s: Settings, first: Inbound, second: Inbound) -> tuple[GroupResult, GroupResult]:
    """``first`` applied and held open while ``second`` starts on another connection."""
    held = HeldTransaction(s, [first])
    results: list[GroupResult] = []

    def write_second() -> None:
        with psycopg.connect(s.db_url) as conn:
            results.append(BatchWriter(conn).write([second]))

    other = threading.Thread(target=write_second)
    other.start()
    time.sleep(0.5)  # the second one is now waiting (for the lock, or for a row)
    first_result = held.finish()
    other.join(20)
    return first_result, results[0]


def _history(s: Settings) -> list[tuple[str, bool]]:
    with psycopg.connect(s.db_url) as conn:
        return [(r[0], r[1]) for r in conn.execute(
            "SELECT serial_no, valid_to IS NULL FROM installed_component"
            " ORDER BY valid_from, installed_id")]


def test_a_part_replaced_event_waits_for_a_birth_in_flight(fleet: Fleet) -> None:
    s = fleet.settings
    with psycopg.connect(s.db_url) as conn:
        BatchWriter(conn).write([_birth(s, T0, "B-1")])
    first, second = _race(s, _birth(s, T0 + 1000, "B-2"), _replaced(s, T0 + 2000, "B-3"))
    assert first.outcomes == [STORED] and second.outcomes == [STORED], second.reasons
    assert _history(s) == [("B-1", False), ("B-2", False), ("B-3", True)]


def test_without_the_lock_the_same_race_dead_letters(fleet: Fleet, monkeypatch) -> None:
    """The race above is real: without the lock the event collides with the birth."""
    s = fleet.settings
    for module in (writer, records, installed_base):
        monkeypatch.setattr(module, "lock_installed_base", lambda cur, ids: None)
    with psycopg.connect(s.db_url) as conn:
        BatchWriter(conn).write([_birth(s, T0, "B-1")])
    _, second = _race(s, _birth(s, T0 + 1000, "B-2"), _replaced(s, T0 + 2000, "B-3"))
    assert second.outcomes == [DEAD]
    assert "installed_component_current" in (second.reasons[0] or "")


def test_a_closed_ticket_waits_for_a_birth_in_flight(fleet: Fleet) -> None:
    s = fleet.settings
    with psycopg.connect(s.db_url) as conn:
        BatchWriter(conn).write([_birth(s, T0, "B-1")])
    held = HeldTransaction(s, [_birth(s, T0 + 1000, "B-2")])
    errors: list[BaseException] = []

    def close_ticket() -> None:
        try:
            with psycopg.connect(s.db_url) as conn:
                replace_component(conn, fleet.assets["P-1"], "bearing", serial_installed="T-9",
                                  at=datetime.fromtimestamp((T0 + 2000) / 1000, UTC))
        except BaseException as e:  # reported below
            errors.append(e)

    ticket = threading.Thread(target=close_ticket)
    ticket.start()
    time.sleep(0.5)
    assert held.finish().outcomes == [STORED]
    ticket.join(20)
    assert not errors
    assert _history(s) == [("B-1", False), ("B-2", False), ("T-9", True)]


def test_two_workers_interleaving_births_and_replacements_never_dead_letter(
        fleet: Fleet) -> None:
    s = fleet.settings
    messages = []
    for k in range(240):  # serials change with every message; two workers take turns
        ts = T0 + k * 100
        messages.append(_birth(s, ts, f"S-{k}") if k % 3 else _replaced(s, ts, f"S-{k}"))
    shares = [messages[0::2], messages[1::2]]
    results: list[GroupResult] = []

    def work(share: list[Inbound], seed: int) -> None:
        rng = random.Random(seed)
        with psycopg.connect(s.db_url) as conn:
            w = BatchWriter(conn)
            i = 0
            while i < len(share):
                n = rng.randint(1, 3)
                results.append(w.write(share[i:i + n]))
                i += n

    threads = [threading.Thread(target=work, args=(share, seed))
               for seed, share in enumerate(shares)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    outcomes = [o for r in results for o in r.outcomes]
    assert outcomes.count(DEAD) == 0, [r.reasons for r in results if DEAD in r.outcomes]
    with psycopg.connect(s.db_url) as conn:
        assert conn.execute("SELECT count(*) FROM installed_component WHERE valid_to IS NULL"
                            ).fetchone() == (1,)
        overlaps = conn.execute(
            "SELECT count(*) FROM installed_component a JOIN installed_component b"
            " ON a.asset_id = b.asset_id AND a.component_type = b.component_type"
            " AND a.installed_id < b.installed_id"
            " AND tstzrange(a.valid_from, a.valid_to) && tstzrange(b.valid_from, b.valid_to)"
        ).fetchone()
        assert overlaps == (0,)
        assert conn.execute("SELECT count(*) FROM dead_letter").fetchone() == (0,)
