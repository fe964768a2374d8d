"""The Grafana files docker-compose mounts are the ones the code builds (no drift)."""

from __future__ import annotations

from pathlib import Path

from assetwatch.dashboards.provisioning import DatasourceOptions, write_dashboards

ROOT = Path(__file__).resolve().parents[2]


def test_deploy_grafana_is_up_to_date(tmp_path: Path) -> None:
    built = write_dashboards(tmp_path, DatasourceOptions(host="timescaledb:5432"))
    for path in built:
        committed = ROOT / "deploy/grafana" / path.relative_to(tmp_path)
        assert committed.is_file(), f"{committed} missing: run assetwatch dashboards build " \
                                    "--out deploy/grafana"
        assert committed.read_bytes() == path.read_bytes(), (
            f"{committed} is stale: run assetwatch dashboards build --out deploy/grafana")
    on_disk = {p.relative_to(ROOT / "deploy/grafana") for p in (ROOT / "deploy/grafana").rglob("*")
               if p.is_file()}
    assert on_disk == {p.relative_to(tmp_path) for p in built}
