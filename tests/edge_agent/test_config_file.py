"""The agent configuration file: a plug-in source, MQTT 3.1.1, password file, errors."""

from __future__ import annotations

import json

import pytest
from edge_support import Collector

from assetwatch.edge_agent.agent import EdgeAgent
from assetwatch.edge_agent.config_file import load_agent_config
from assetwatch.edge_agent.errors import AgentConfigError
from assetwatch.stack.mosquitto import LocalMosquitto, device_password


@pytest.mark.integration
def test_plugin_source_over_mqtt_311_with_a_password_file(settings, tmp_path) -> None:
    tag, site = "PLG-001", "site-plg"
    LocalMosquitto(settings).write_auth([(site, tag)])
    (tmp_path / "passwords.txt").write_text(f"# gateway\n{tag}:{device_password(settings, tag)}\n")
    (tmp_path / "agent.json").write_text(json.dumps({
        "prefix": settings.topic_prefix,
        "broker": {"host": settings.mqtt_host, "port": settings.mqtt_port,
                   "protocol": "3.1.1"},
        "credentials": {"password_file": "passwords.txt"},
        "spool": {"path": "spool/agent.db", "sync": "full"},
        "batch": {"max_readings": 100},
        "source": {"type": "plugin", "class": "edge_support:CountingSource",
                   "options": {"asset": tag, "site_id": site, "count": 1234}},
    }))
    setup = load_agent_config(tmp_path / "agent.json")
    assert setup.options.spool_path == tmp_path / "spool" / "agent.db"
    collector = Collector(settings)
    try:
        summary = EdgeAgent(setup.source, setup.options).run(drain_timeout_s=20)
        assert summary.drained and summary.acked_readings == 1234
        assert collector.wait_for(lambda: sum(map(len, collector.batches.values())) == 1234, 10)
        base = min(seq for _, seq in collector.batches)
        assert sorted(collector.batches) == [(tag, base + k) for k in range(13)]
    finally:
        collector.close()


@pytest.mark.parametrize(("doc", "message"), [
    ({}, "source: missing"),
    ({"source": {"type": "radio"}}, "source.type"),
    ({"source": {"type": "plugin", "class": "nowhere"}}, "module:Class"),
    ({"source": {"type": "plugin", "class": "json:JSONDecoder"}}, "not a Source"),
    ({"source": {"type": "csv", "path": "missing.csv", "asset": "A", "site_id": "s"}},
     "missing.csv: cannot open"),
    ({"credentials": {"passwords": {}}, "spool": {"full_policy": "panic"},
      "source": {"type": "simulator", "days": 1}}, "spool.full_policy"),
])
def test_bad_configuration_files_name_the_key(tmp_path, doc: dict, message: str) -> None:
    path = tmp_path / "agent.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(Exception, match=message) as caught:
        load_agent_config(path)
    assert isinstance(caught.value, AgentConfigError) or "cannot open" in str(caught.value)
    assert str(path) in str(caught.value) or "cannot open" in str(caught.value)


@pytest.mark.integration
def test_refused_credentials_fail_with_a_clear_message(settings, tmp_path) -> None:
    from assetwatch.edge_agent.errors import EdgeError

    (tmp_path / "agent.json").write_text(json.dumps({
        "prefix": settings.topic_prefix,
        "broker": {"host": settings.mqtt_host, "port": settings.mqtt_port,
                   "backoff_min_s": 0.2, "backoff_max_s": 0.5},
        "credentials": {"passwords": {"NOBODY-1": "wrong"}},
        "source": {"type": "plugin", "class": "edge_support:CountingSource",
                   "options": {"asset": "NOBODY-1", "site_id": "nowhere", "count": 10}},
        "spool": {"path": "spool.db"},
    }))
    setup = load_agent_config(tmp_path / "agent.json")
    with pytest.raises(EdgeError, match="refuses the credentials of NOBODY-1"):
        EdgeAgent(setup.source, setup.options).run(drain_timeout_s=30)
