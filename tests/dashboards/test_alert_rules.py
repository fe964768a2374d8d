"""Alert rules as code: every rule's query runs as the read-only role and is provisioned."""

from __future__ import annotations

import psycopg
import pytest
import yaml

from assetwatch.core.settings import Settings
from assetwatch.dashboards.alerts import ALERT_RULES, RULE_COLUMNS, alerting_provisioning
from assetwatch.dashboards.catalog import dashboards
from assetwatch.dashboards.provisioning import write_dashboards


@pytest.mark.integration
@pytest.mark.parametrize("rule", ALERT_RULES, ids=[r.uid for r in ALERT_RULES])
def test_rule_query_runs_as_the_reader(seeded_settings: Settings, rule) -> None:
    with psycopg.connect(seeded_settings.db_url) as conn, conn.transaction(), \
            conn.cursor() as cur:
        cur.execute("SET LOCAL ROLE assetwatch_reader")
        cur.execute(rule.sql.encode())
        assert tuple(c.name for c in cur.description or []) == RULE_COLUMNS
        cur.fetchall()


def test_rules_link_real_dashboards_and_carry_a_runbook() -> None:
    uids = {spec.uid for spec in dashboards()}
    assert len({r.uid for r in ALERT_RULES}) == len(ALERT_RULES)
    for rule in ALERT_RULES:
        assert rule.dashboard_uid in uids, rule.uid
        assert len(rule.runbook) > 40
    kinds = {r.uid for r in ALERT_RULES}
    assert {"aw-anomaly-critical", "aw-asset-stale", "aw-failure-risk", "aw-stockout-risk",
            "aw-ingest-lag", "aw-dead-letters"} <= kinds


def test_provisioning_file_holds_one_group_with_every_rule(tmp_path) -> None:
    write_dashboards(tmp_path)
    document = yaml.safe_load((tmp_path / "provisioning" / "alerting" / "assetwatch.yaml")
                              .read_text())
    assert document == alerting_provisioning()
    (group,) = document["groups"]
    assert group["folder"] == "assetwatch"
    for rule, provisioned in zip(ALERT_RULES, group["rules"], strict=True):
        assert provisioned["uid"] == rule.uid and provisioned["condition"] == "B"
        query, threshold = provisioned["data"]
        assert query["model"]["rawSql"] == rule.sql
        assert threshold["model"]["conditions"][0]["evaluator"]["params"] == [rule.threshold]
        assert provisioned["annotations"]["__dashboardUid__"] == rule.dashboard_uid
