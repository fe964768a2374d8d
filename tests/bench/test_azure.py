"""The Azure PdM protocol on a small sample written in the Microsoft format.

The sample follows the pattern of the real one: a component's sensor shifts 48 h before the
component fails and its controller error comes 24 h before; the same shifts also happen
without a failure (and without the error). The benchmark must load it through the database,
choose the 24 h training label on the training data alone, and warn of the validation
failures without the false alarms the shifts alone would raise.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest

from assetwatch.bench.azure import ingest_azure, read_sample, run_azure_benchmark
from assetwatch.core.settings import Settings
from assetwatch.models.prediction.errors import PredictionError

START = datetime(2015, 1, 1, 6)
SENSORS = ("volt", "rotate", "pressure", "vibration")
#: component -> (sensor index, shift, error code)
SIGNATURE = {"comp1": (0, 25.0, "error1"), "comp2": (2, 30.0, "error4")}
#: a smaller forest than the product's, for a test-sized run
SMALL_FOREST = {"n_estimators": 60, "min_samples_leaf": 3, "n_jobs": 1, "random_state": 0}


def write_sample(folder: Path, *, machines: int = 6, days: int = 56, seed: int = 3) -> dict:
    """Write PdM_*.csv into ``folder``; return the failures and the shifts without one."""
    rng = np.random.default_rng(seed)
    hours = days * 24
    values = rng.normal([170, 450, 100, 40], [6, 20, 4, 2], size=(machines, hours, 4))
    failures, decoys, errors = [], [], []
    for m in range(machines):
        for component, (sensor, shift, code) in SIGNATURE.items():
            # failures 7-16 days apart (component age alone does not tell), and a decoy
            # shift at a random time between two failures
            day = int(rng.integers(11, 18))
            while day < days - 2:
                at = day * 24 + int(rng.integers(-2, 3)) * 3
                values[m, at - 48:at, sensor] += shift
                failures.append((at, m + 1, component))
                errors.append((at - 24, m + 1, code))
                gap = int(rng.integers(7, 17))
                decoy = at + int(rng.integers(72, max(73, gap * 24 - 96)))
                if decoy < hours:
                    values[m, decoy - 48:decoy, sensor] += shift
                    decoys.append((decoy, m + 1, component))
                day += gap
        for _ in range(days // 7):      # unrelated errors
            errors.append((int(rng.integers(24, hours)), m + 1, f"error{rng.integers(2, 4)}"))

    def stamp(hour: int) -> str:
        return (START + timedelta(hours=hour)).strftime("%Y-%m-%d %H:%M:%S")

    def write(name: str, header: list[str], rows: list) -> None:
        with (folder / name).open("w", newline="") as handle:
            out = csv.writer(handle)
            out.writerow(header)
            out.writerows(rows)

    write("PdM_machines.csv", ["machineID", "model", "age"],
          [[m + 1, f"model{1 + m % 2}", 5 + m] for m in range(machines)])
    write("PdM_telemetry.csv", ["datetime", "machineID", *SENSORS],
          [[stamp(h), m + 1, *values[m, h]] for m in range(machines) for h in range(hours)])
    write("PdM_errors.csv", ["datetime", "machineID", "errorID"],
          [[stamp(h), m, code] for h, m, code in sorted(errors)])
    write("PdM_maint.csv", ["datetime", "machineID", "comp"],
          [[stamp(h), m, c] for h, m, c in failures]
          + [["2014-12-01 06:00:00", m + 1, c] for m in range(machines) for c in SIGNATURE])
    write("PdM_failures.csv", ["datetime", "machineID", "failure"],
          [[stamp(h), m, c] for h, m, c in failures])
    return {"failures": failures, "decoys": decoys}


def test_ingest_through_the_tables(tmp_path: Path, make_database: Callable[[], Settings]
                                   ) -> None:
    sample = write_sample(tmp_path, machines=2, days=20)
    settings = make_database()
    with psycopg.connect(settings.db_url) as conn:
        counts = ingest_azure(conn, read_sample(tmp_path))
        assert counts["assets"] == 2 and counts["readings"] == 2 * 20 * 24 * 4
        kinds = dict(conn.execute(
            "SELECT kind, count(*) FROM asset_event GROUP BY kind").fetchall())
        assert kinds["failure"] == len(sample["failures"])
        # each replacement starts an installed-base record and ends the one before
        open_records = conn.execute(
            "SELECT count(*) FROM installed_component WHERE valid_to IS NULL").fetchone()
        assert open_records == (2 * len(SIGNATURE),)


def test_warnings_on_a_sample_with_decoy_shifts(tmp_path: Path,
                                                make_database: Callable[[], Settings]) -> None:
    write_sample(tmp_path)
    settings = make_database()
    results, info = run_azure_benchmark(settings, tmp_path, forest=SMALL_FOREST,
                                        database=settings)
    assert info["folds"] == 1 and [r.component_type for r in results] == list(SIGNATURE)
    for r in results:
        m = r.metrics
        assert m.failures >= 3
        # the 48 h label would alarm on the decoys too; the training data picks 24 h
        assert [f.label_days for f in r.folds] == [1]
        assert m.warning_recall == 1.0 and m.warning_precision is not None
        assert m.warning_precision >= 0.8
        # warnings come with the error, a day ahead; the day before it carries no signal
        assert 15 <= m.mean_lead_hours <= 27
        assert m.recall is not None and m.recall <= 0.7


def test_missing_files_are_named(tmp_path: Path, base_settings: Settings) -> None:
    (tmp_path / "PdM_machines.csv").write_text("machineID,model,age\n")
    with pytest.raises(PredictionError, match=r"PdM_telemetry\.csv"):
        run_azure_benchmark(base_settings, tmp_path)


@pytest.mark.parametrize(("file", "edit", "message"), [
    ("PdM_telemetry.csv", lambda text: text.replace("vibration", "vib", 1),
     r"PdM_telemetry\.csv: no column vibration in the header"),
    ("PdM_telemetry.csv", lambda text: text.replace("\n2015-01-01 07:00:00,1,",
                                                     "\n2015-01-01 07:00:00,1,x", 1),
     r"PdM_telemetry\.csv line 3: volt is 'x.+', not a number"),
    ("PdM_failures.csv", lambda text: text + "yesterday,1,comp1\n",
     r"PdM_failures\.csv line \d+: datetime is 'yesterday', not a date and time"),
    ("PdM_machines.csv", lambda text: text + "7,model1\n",
     r"PdM_machines\.csv line 8: age is missing"),
])
def test_a_malformed_file_is_named_and_nothing_is_loaded(
        tmp_path: Path, base_settings: Settings, file: str, edit: Callable[[str], str],
        message: str) -> None:
    write_sample(tmp_path, machines=6, days=12)
    path = tmp_path / file
    path.write_text(edit(path.read_text()))
    with pytest.raises(PredictionError, match=message):
        run_azure_benchmark(base_settings, tmp_path)
