"""``assetwatch flows run NAME`` in a fresh process, against a temporary Prefect server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg

from assetwatch.core.settings import Settings
from assetwatch.models.prediction.synthetic import seed_fleet


def _run(settings: Settings, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ASSETWATCH_DB_URL": settings.db_url,
           "ASSETWATCH_DATA_DIR": str(tmp_path)}
    for name in list(env):
        if name.startswith("PREFECT_"):
            del env[name]
    return subprocess.run([sys.executable, "-m", "assetwatch.cli", "flows", "run", *args],
                          capture_output=True, text=True, env=env, timeout=240)


def test_flows_run_score_and_bad_parameter(fresh_settings: Settings, tmp_path: Path) -> None:
    with psycopg.connect(fresh_settings.db_url, autocommit=True) as conn:
        seed_fleet(conn, assets=3, days=5, failures=False)
    done = _run(fresh_settings, tmp_path, "score")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("flow score: 6")
    assert (tmp_path / "prefect").is_dir()

    bad = _run(fresh_settings, tmp_path, "score", "-p", "nonsense")
    assert bad.returncode == 1
    assert bad.stderr.strip() == ("assetwatch: error: bad parameter 'nonsense':"
                                  " expected KEY=VALUE")
