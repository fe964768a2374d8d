"""The reference rows of ``bench service``: what bounds the pipeline from above and below.

``oracle`` (upper bound)
    Knows when every component in service will fail (the simulator's truth): probability 1
    within a horizon that reaches the failure, 0 otherwise, and the exact remaining life.
    No monitoring system can do better; it is never the product.
``calendar`` (lower bound)
    No monitoring: age-based replacement. A component is due for replacement at
    ``replace_fraction`` of its datasheet characteristic life (master data
    ``component_life``), so it is predicted to fail with certainty within any horizon that
    reaches that age; before it, the risk is its age's conditional failure probability under
    the datasheet life (the product's
    :class:`~assetwatch.models.prediction.estimators.WeibullPrior`). Its stock follows the
    naive policy.

Both write ``failure_prediction`` rows under a model version of their own, so the same
ticket, demand and policy code runs on them as on the pipeline's predictions.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import psycopg
from psycopg.types.json import Jsonb

from assetwatch.bench.service_truth import BenchTruth

__all__ = ["HORIZONS", "ReferenceSignals"]

HORIZONS = (7, 30, 90)
#: Age-based replacement at this fraction of the datasheet characteristic life (eta); chosen
#: on the seed-11 world (see the package README), not on the reported one.
REPLACE_FRACTION = 1.0
#: the oracle's remaining life of a part that never fails
_NEVER_DAYS = 3650.0
_COLUMNS = ("predicted_at, asset_id, component_type, horizon_days, failure_probability,"
            " rul_days, rul_low_days, rul_high_days, model_version_id")


class ReferenceSignals:
    """Predictions of the ``oracle`` or ``calendar`` reference for every component."""

    def __init__(self, conn: psycopg.Connection, kind: str, truth: BenchTruth,
                 ids: dict[str, int], *, replace_fraction: float = REPLACE_FRACTION) -> None:
        if kind not in ("oracle", "calendar"):
            raise ValueError(f"unknown reference {kind!r}")
        self.kind = kind
        self.replace_fraction = replace_fraction
        self.truth = truth
        self.ids = ids
        self.tags = {v: k for k, v in ids.items()}
        row = conn.execute("INSERT INTO model_version (model_name, version, is_current, params)"
                           " VALUES (%s, 1, false, %s) RETURNING model_version_id",
                           (f"bench-{kind}", Jsonb({"reference": kind}))).fetchone()
        assert row is not None
        self.model_version_id = int(row[0])

    def advance(self, conn: psycopg.Connection, t: datetime) -> None:
        """Store the predictions at ``t`` (older ones are dropped: only the newest counts)."""
        conn.execute("DELETE FROM failure_prediction WHERE predicted_at < %s", (t,))
        rows = self._oracle(t) if self.kind == "oracle" else self._calendar(conn, t)
        with conn.cursor() as cur, cur.copy(f"COPY failure_prediction ({_COLUMNS})"
                                            " FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def _oracle(self, t: datetime) -> list[tuple]:
        rows = []
        for tag, asset_id in self.ids.items():
            for component_type in self.truth.component_types(tag):
                failed = self.truth.failure_of_part_in_service(tag, component_type, t)
                remaining = _NEVER_DAYS if failed is None else max(
                    0.0, (failed - t).total_seconds() / 86400.0)
                for h in HORIZONS:
                    rows.append((t, asset_id, component_type, h, float(remaining <= h),
                                 remaining, remaining, remaining, self.model_version_id))
        return rows

    def _calendar(self, conn: psycopg.Connection, t: datetime) -> list[tuple]:
        from assetwatch.models.prediction.estimators import WeibullPrior
        from assetwatch.models.prediction.lives import component_lives

        installed = pd.DataFrame(conn.execute(
            "SELECT i.asset_id, i.component_type, a.model_id,"
            " extract(epoch FROM %s - i.valid_from) / 86400.0"
            " FROM installed_component i JOIN asset a USING (asset_id)"
            " WHERE i.valid_from <= %s AND (i.valid_to IS NULL OR i.valid_to > %s)",
            (t, t, t)).fetchall(),
            columns=["asset_id", "component_type", "model_id", "component_age_days"])
        lives = component_lives(conn)
        rows = []
        for component_type, group in installed.groupby("component_type"):
            prior = WeibullPrior(str(component_type), HORIZONS,
                                 by_model=lives.get(str(component_type), {}))
            group = group.astype({"component_age_days": float})
            predicted = prior.predict(group)
            for model_id, age, asset_id, row in zip(
                    group["model_id"], group["component_age_days"], group["asset_id"],
                    predicted.itertuples(index=False), strict=True):
                values = row._asdict()
                _, eta = prior.by_model.get(model_id, prior.default)
                due = max(0.0, self.replace_fraction * eta - age)
                for h in HORIZONS:
                    p = 1.0 if due <= h else float(values[f"prob_{h}"])
                    rows.append((t, int(asset_id), str(component_type), h, p, due, due,
                                 float(values["rul_high_days"]), self.model_version_id))
        return rows
