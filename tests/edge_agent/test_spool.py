"""The spool: seq assigned at sealing, journal, acknowledgement, dropping the oldest."""

from __future__ import annotations

import json
import time

from assetwatch.edge_agent.spool import SealedBatch, Spool, SpoolMessage

TS = 1_767_225_600_000


def _readings(n: int, t0: int = TS) -> list[list]:
    return [[t0 + i, "flow", float(i)] for i in range(n)]


def test_seq_is_assigned_when_sealed_and_survives_reopening(tmp_path) -> None:
    spool = Spool(tmp_path / "s.db")
    spool.commit(sealed=[SealedBatch("A", _readings(3)), SealedBatch("A", _readings(2))],
                 messages=[SpoolMessage("A", "events", b"{}")], checkpoint="c1")
    spool.close()
    spool = Spool(tmp_path / "s.db")
    assert (spool.messages, spool.readings) == (3, 5)
    assert spool.get_meta("source_checkpoint") == "c1"
    spool.commit(sealed=[SealedBatch("A", _readings(1)), SealedBatch("B", _readings(1))])
    rows = spool.fetch("A", 0, None, 10)
    base = spool.seq_base
    assert abs((base >> 20) - time.time()) < 60
    assert [(r.kind, r.seq) for r in rows] == [("telemetry", base), ("telemetry", base + 1),
                                              ("events", None), ("telemetry", base + 2)]
    assert json.loads(rows[0].payload) == {"asset": "A", "seq": base,
                                           "readings": _readings(3)}
    assert [r.seq for r in spool.fetch("B", 0, None, 10)] == [base]
    assert spool.acknowledge([rows[0].id, rows[0].id, 999]) == 1
    assert spool.readings == 4


def test_journal_holds_open_readings_until_sealed(tmp_path) -> None:
    spool = Spool(tmp_path / "s.db")
    spool.commit(appended={"A": _readings(2)})
    spool.commit(appended={"A": _readings(2, TS + 10)})
    assert Spool(tmp_path / "s.db").load_journal() == {"A": _readings(2) + _readings(2, TS + 10)}
    spool.commit(sealed=[SealedBatch("A", _readings(3))], reopened={"A": _readings(1, TS + 11)})
    assert spool.load_journal() == {"A": _readings(1, TS + 11)}


def test_drop_oldest_keeps_events_and_counts(tmp_path) -> None:
    spool = Spool(tmp_path / "s.db")
    for k in range(10):
        spool.commit(sealed=[SealedBatch("A", _readings(100, TS + k * 100))],
                     messages=[SpoolMessage("A", "events", b'{"e":1}')])
    dropped = spool.drop_oldest(spool.size_bytes // 2)
    assert dropped >= 400 and dropped % 100 == 0
    assert spool.get_meta("dropped_readings") == str(dropped)
    kinds = [r.kind for r in spool.fetch("A", 0, None, 100)]
    assert kinds.count("events") == 10
    first = next(r for r in spool.fetch("A", 0, None, 100) if r.kind == "telemetry")
    assert first.seq == spool.seq_base + dropped // 100


def test_a_new_spool_continues_the_seq_of_an_old_one(tmp_path) -> None:
    old = Spool(tmp_path / "old.db")
    old.commit(sealed=[SealedBatch("A", _readings(1)) for _ in range(5)])
    time.sleep(1.1)
    new = Spool(tmp_path / "new.db")
    new.commit(sealed=[SealedBatch("A", _readings(1))])
    assert new.fetch("A", 0, None, 1)[0].seq > old.fetch("A", 0, None, 10)[-1].seq
    assert new.last_id == 1 and Spool(tmp_path / "old.db").last_id == 5


def test_a_spool_serves_one_topic_prefix(tmp_path) -> None:
    import pytest
    from edge_support import CountingSource

    from assetwatch.edge_agent.agent import AgentOptions, EdgeAgent
    from assetwatch.edge_agent.errors import AgentConfigError
    from assetwatch.edge_agent.link import MqttEndpoint

    Spool(tmp_path / "s.db").set_meta("topic_prefix", "plant-a")
    agent = EdgeAgent(CountingSource("A", "s", 1), AgentOptions(
        endpoint=MqttEndpoint(), spool_path=tmp_path / "s.db", prefix="plant-b"))
    with pytest.raises(AgentConfigError, match="'plant-a', not 'plant-b'"):
        agent.run()


def test_an_unreadable_spool_is_a_clear_error(tmp_path) -> None:
    import pytest
    from edge_support import CountingSource

    from assetwatch.edge_agent.agent import AgentOptions, EdgeAgent
    from assetwatch.edge_agent.errors import EdgeError
    from assetwatch.edge_agent.link import MqttEndpoint

    (tmp_path / "s.db").write_bytes(b"this is not a database" * 100)
    agent = EdgeAgent(CountingSource("A", "s", 1), AgentOptions(
        endpoint=MqttEndpoint(), spool_path=tmp_path / "s.db"))
    with pytest.raises(EdgeError, match=r"s\.db: file is not a database"):
        agent.run()
