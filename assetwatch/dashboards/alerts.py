"""Alert rules as code: one list, provisioned into Grafana and evaluated by the notifier.

Each :class:`AlertRule` is a SQL query on the ``v_*`` views that returns one row per subject
in trouble, with the columns ``subject`` (text: an asset tag, ``part@site`` or ``ingest``),
``asset_tag`` (text, empty when the subject is not an asset) and ``value`` (a number), and a
threshold on ``value``. :func:`alerting_provisioning` turns the list into Grafana's alerting
file provisioning (a rule group in the *assetwatch* folder, each rule with a runbook line
and a link to its dashboard); the pipeline's own notifier
(:mod:`assetwatch.fleet.notifier`) runs the very same queries, so the product alerts where
Grafana is not used, and both agree on what is an alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from assetwatch.dashboards.catalog import FOLDER_UID
from assetwatch.dashboards.sql_query import DATASOURCE_TYPE, DATASOURCE_UID

__all__ = ["ALERT_RULES", "AlertRule", "alerting_provisioning"]

#: Columns every rule's query returns.
RULE_COLUMNS = ("subject", "asset_tag", "value")


@dataclass(frozen=True)
class AlertRule:
    """One alert rule (see the module docstring)."""

    uid: str
    title: str
    sql: str
    threshold: float
    severity: Literal["critical", "warning"]
    runbook: str
    dashboard_uid: str
    pending: str = "0s"  # how long the condition must hold in Grafana before it fires
    kind: str = ""  # the notifier's dedup kind (default: the uid)

    def fires(self, value: float | None) -> bool:
        return value is not None and value > self.threshold


ALERT_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        uid="aw-anomaly-critical", title="Anomaly event critical", severity="critical",
        sql="SELECT asset_tag AS subject, asset_tag, max(peak_score) AS value\n"
            "FROM v_anomaly_event WHERE is_open AND kind = 'anomaly' AND NOT acknowledged\n"
            "GROUP BY asset_tag",
        threshold=0.95, dashboard_uid="aw-asset-detail",
        runbook="An open anomaly event peaked above 0.95 (rarer than 1 in 10,000 of the "
                "asset's own normal behaviour). Open Asset detail, look at the contributing "
                "sensors, acknowledge with 'assetwatch detect ack' once someone owns it (an "
                "acknowledged event no longer fires this rule)."),
    AlertRule(
        uid="aw-asset-stale", title="Asset stopped reporting", severity="warning",
        sql="SELECT asset_tag AS subject, asset_tag, silent_s AS value\n"
            "FROM v_asset_staleness WHERE stale",
        threshold=0, dashboard_uid="aw-pipeline-health",
        runbook="No reading for longer than the asset's own reporting interval plus its "
                "site's grace period. Check the gateway's power and link; the edge agent "
                "keeps what it samples, so data arrive once the link is back."),
    AlertRule(
        uid="aw-failure-risk", title="Failure risk high", severity="warning",
        sql="SELECT asset_tag || ' ' || component_type AS subject, asset_tag,\n"
            "       max(failure_probability) AS value\n"
            "FROM v_failure_risk GROUP BY asset_tag, component_type",
        threshold=0.8, dashboard_uid="aw-failure-risk",
        runbook="A component's predicted probability of failing within a horizon exceeds "
                "80 %. Check that a service ticket with the parts kit is open and scheduled."),
    AlertRule(
        uid="aw-stockout-risk", title="Stock-out risk", severity="warning",
        sql="SELECT part_no || '@' || site_id AS subject, '' AS asset_tag,\n"
            "       stockout_probability AS value\n"
            "FROM v_inventory_policy WHERE stockout_risk",
        threshold=0, dashboard_uid="aw-parts-demand",
        runbook="Stock on hand plus on order is below the reorder point for the predicted "
                "demand. Order or transfer the part before the lead time runs out."),
    AlertRule(
        uid="aw-ingest-lag", title="Ingest falling behind", severity="critical",
        sql="SELECT 'ingest' AS subject, '' AS asset_tag, max(avg_queue_s) AS value\n"
            "FROM v_ingest_rate WHERE minute > now() - interval '10 minutes'\n"
            "HAVING count(*) > 0",
        threshold=60, dashboard_uid="aw-pipeline-health", pending="5m",
        runbook="Messages wait more than a minute between the broker and their commit. Look "
                "at the Ingest workers panel (a worker down?) and the database's load."),
    AlertRule(
        uid="aw-dead-letters", title="Messages dead-lettered", severity="warning",
        sql="SELECT 'ingest' AS subject, '' AS asset_tag, sum(dead_letters) AS value\n"
            "FROM v_dead_letter_rate WHERE minute > now() - interval '1 hour'\n"
            "HAVING count(*) > 0",
        threshold=0, dashboard_uid="aw-pipeline-health",
        runbook="Ingest refused messages in the last hour and kept them with the reason. "
                "Read the reasons on Pipeline health; fix the device or the registry, then "
                "'assetwatch ingest replay-dead-letters'."),
)


def alerting_provisioning(rules: tuple[AlertRule, ...] = ALERT_RULES) -> dict[str, Any]:
    """Grafana's alerting provisioning document: one rule group in the assetwatch folder."""
    return {"apiVersion": 1, "groups": [{
        "orgId": 1, "name": "assetwatch", "folder": "assetwatch", "interval": "1m",
        "rules": [_rule(rule) for rule in rules]}]}


def _rule(rule: AlertRule) -> dict[str, Any]:
    query = {"refId": "A", "datasource": {"type": DATASOURCE_TYPE, "uid": DATASOURCE_UID},
             "rawSql": rule.sql, "format": "table", "rawQuery": True, "editorMode": "code"}
    threshold = {"refId": "B", "type": "threshold", "expression": "A",
                 "datasource": {"type": "__expr__", "uid": "__expr__"},
                 "conditions": [{"evaluator": {"type": "gt", "params": [rule.threshold]}}]}
    return {
        "uid": rule.uid, "title": rule.title, "condition": "B",
        "folderUID": FOLDER_UID,
        "data": [
            {"refId": "A", "relativeTimeRange": {"from": 600, "to": 0},
             "datasourceUid": DATASOURCE_UID, "model": query},
            {"refId": "B", "relativeTimeRange": {"from": 0, "to": 0},
             "datasourceUid": "__expr__", "model": threshold},
        ],
        "noDataState": "OK", "execErrState": "Error", "for": rule.pending,
        "annotations": {"summary": f"{rule.title}: {{{{ $labels.subject }}}}",
                        "runbook": rule.runbook,
                        "__dashboardUid__": rule.dashboard_uid},
        "labels": {"severity": rule.severity, "source": "assetwatch"},
        "isPaused": False,
    }
