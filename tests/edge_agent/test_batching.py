"""Open batches: sealed by count (split exactly), bytes or age; journal bookkeeping."""

from __future__ import annotations

from assetwatch.edge_agent.batching import Batcher
from assetwatch.edge_agent.remote_config import AssetSettings

VALUES = [("flow", 1.0), ("temp", 2.0), ("vib", 3.0)]


def test_count_limit_splits_exactly_and_keeps_the_rest_open() -> None:
    b = Batcher(["A", "B"], {"A": AssetSettings(batch_max_readings=4),
                             "B": AssetSettings(batch_max_readings=100)})
    b.add("A", 1, VALUES, now=0.0)
    b.add("B", 1, VALUES, now=0.0)
    work = b.take()
    assert not work.sealed and work.appended == {"A": [[1, "flow", 1.0], [1, "temp", 2.0],
                                                       [1, "vib", 3.0]],
                                                 "B": work.appended["B"]}
    b.add("A", 2, VALUES, now=0.1)
    work = b.take()
    assert [len(s.readings) for s in work.sealed] == [4]
    assert work.reopened == {"A": [[2, "temp", 2.0], [2, "vib", 3.0]]}
    assert "A" not in work.appended
    assert (b.readings, b.batches) == (9, 1)


def test_age_limit_and_enabled_sensors() -> None:
    settings = {"A": AssetSettings(batch_max_age_s=5.0, sensors_enabled=frozenset({"vib"}))}
    b = Batcher(["A"], settings)
    assert b.add("A", 1, VALUES, now=0.0) == 1
    b.seal_due(now=4.9)
    assert not b.take().sealed
    b.seal_due(now=5.0)
    work = b.take()
    assert [s.readings for s in work.sealed] == [[[1, "vib", 3.0]]]
    assert work.reopened == {"A": []}


def test_restored_journal_is_sealed_with_new_readings() -> None:
    b = Batcher(["A"], {"A": AssetSettings(batch_max_readings=5)})
    b.restore({"A": [[1, "flow", 1.0]] * 3, "gone": [[1, "x", 0.0]]}, now=0.0)
    b.add("A", 2, VALUES, now=0.0)
    assert [len(s.readings) for s in b.take().sealed] == [5]
    b.seal_all()
    assert [len(s.readings) for s in b.take().sealed] == [1]
