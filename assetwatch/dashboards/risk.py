"""Failure risk: the riskiest assets and components within each horizon, and the models."""

from __future__ import annotations

from assetwatch.dashboards.spec import DashboardSpec, PanelSpec, VariableSpec

__all__ = ["dashboard"]


def dashboard() -> DashboardSpec:
    return DashboardSpec(
        uid="aw-failure-risk",
        title="Failure risk",
        description="Top assets by risk (the highest failure probability over the "
                    "horizons, as on the fleet overview); components within each horizon; "
                    "the model versions in use and their validation metrics.",
        variables=(VariableSpec("horizon", "Horizon (days)",
                                "SELECT DISTINCT horizon_days FROM v_failure_risk ORDER BY 1",
                                multi=True, include_all=True),),
        panels=(
            PanelSpec(
                "Top assets by risk", "table", width=12, height=10,
                description="Ten riskiest assets by their riskiest component. Risk is the "
                            "highest failure probability over the horizons (the longest "
                            "horizon's), the same risk the fleet overview and the report rank "
                            "by; the shortest horizon's probability beside it.",
                sql="SELECT asset_tag, site_id, component_type, risk, risk_horizon_days,\n"
                    "       short_horizon_days, short_horizon_probability,\n"
                    "       rul_days, rul_low_days, rul_high_days\n"
                    "FROM (SELECT DISTINCT ON (asset_id) * FROM v_component_risk\n"
                    "      ORDER BY asset_id, risk DESC, component_type) r\n"
                    "ORDER BY risk DESC, asset_tag LIMIT 10",
                columns=("asset_tag", "site_id", "component_type", "risk", "risk_horizon_days",
                         "short_horizon_days", "short_horizon_probability", "rul_days",
                         "rul_low_days", "rul_high_days"),
                asset_link="asset_tag",
                column_units=(("risk", "percentunit"), ("short_horizon_probability",
                                                         "percentunit"), ("rul_days", "d"),
                              ("rul_low_days", "d"), ("rul_high_days", "d"))),
            PanelSpec(
                "Components by risk within each horizon", "table", width=12, height=10,
                description="Across the fleet: expected failures (sum of probabilities), the "
                            "highest probability and how many assets are above 50 %.",
                sql="SELECT horizon_days, component_type,\n"
                    "       sum(failure_probability) AS expected_failures,\n"
                    "       max(failure_probability) AS max_probability,\n"
                    "       count(*) FILTER (WHERE failure_probability >= 0.5) AS assets_at_risk,\n"
                    "       min(rul_days) AS min_rul_days\n"
                    "FROM v_failure_risk WHERE horizon_days IN ($horizon)\n"
                    "GROUP BY horizon_days, component_type\n"
                    "ORDER BY horizon_days, expected_failures DESC",
                columns=("horizon_days", "component_type", "expected_failures",
                         "max_probability", "assets_at_risk", "min_rul_days"),
                column_units=(("max_probability", "percentunit"), ("min_rul_days", "d"))),
            PanelSpec(
                "Expected failures by component", "barchart", width=12, height=8,
                sql="SELECT component_type || ' (' || horizon_days || ' d)' AS component,\n"
                    "       sum(failure_probability) AS expected_failures\n"
                    "FROM v_failure_risk WHERE horizon_days IN ($horizon)\n"
                    "GROUP BY component_type, horizon_days ORDER BY horizon_days, 2 DESC",
                columns=("component", "expected_failures")),
            PanelSpec(
                "Riskiest assets", "bargauge", width=12, height=8, unit="percentunit",
                max_value=1, thresholds=((None, "green"), (0.2, "orange"), (0.5, "red")),
                description="Risk as everywhere: the highest probability over the horizons.",
                sql="SELECT asset_tag, max(risk) AS risk\n"
                    "FROM v_component_risk GROUP BY asset_tag ORDER BY 2 DESC, 1 LIMIT 10",
                columns=("asset_tag", "risk")),
            PanelSpec(
                "Model versions in use", "table", width=12, height=8,
                sql="SELECT m.model_name, m.component_type, m.version, m.trained_at,\n"
                    "       m.train_from, m.train_to,\n"
                    "       (SELECT count(*) FROM v_failure_risk r\n"
                    "        WHERE r.model_version_id = m.model_version_id) AS predictions\n"
                    "FROM v_model_version m\n"
                    "WHERE m.is_current OR EXISTS (SELECT 1 FROM v_failure_risk r\n"
                    "                              WHERE r.model_version_id = m.model_version_id)\n"
                    "ORDER BY m.model_name, m.component_type, m.version DESC",
                columns=("model_name", "component_type", "version", "trained_at",
                         "train_from", "train_to", "predictions")),
            PanelSpec(
                "Validation metrics", "table", width=12, height=8,
                description="Numeric metrics recorded with each current model version.",
                sql="SELECT m.model_name, m.component_type, m.version, metric.key AS metric,\n"
                    "       CASE WHEN jsonb_typeof(metric.value) = 'number'\n"
                    "            THEN (metric.value #>> '{}')::double precision END AS value\n"
                    "FROM v_model_version m, jsonb_each(m.metrics) AS metric\n"
                    "WHERE m.is_current\n"
                    "ORDER BY m.model_name, m.component_type, metric.key",
                columns=("model_name", "component_type", "version", "metric", "value")),
            PanelSpec(
                "Champions and challengers", "table", width=12, height=8,
                description="A challenger is scored in shadow and compared with the champion "
                            "on live outcomes (mean average precision over the horizons).",
                sql="SELECT component_type, version, stage, kind, score AS fold_score,\n"
                    "       shadow_until, outcomes, challenger_score, champion_score,\n"
                    "       last_decision\n"
                    "FROM v_model_version WHERE stage IN ('champion', 'challenger')\n"
                    "ORDER BY component_type, stage",
                columns=("component_type", "version", "stage", "kind", "fold_score",
                         "shadow_until", "outcomes", "challenger_score", "champion_score",
                         "last_decision")),
            PanelSpec(
                "Model audit trail", "table", width=12, height=8,
                description="Who or what changed a champion, and why.",
                sql="SELECT at, component_type, version, action, actor, reason, "
                    "previous_version\n"
                    "FROM v_model_audit WHERE $__timeFilter(at)\n"
                    "ORDER BY at DESC LIMIT 200",
                columns=("at", "component_type", "version", "action", "actor", "reason",
                         "previous_version")),
        ),
    )
