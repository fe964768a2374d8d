"""Remote configuration: validated like config.v1.json, applied over the local defaults."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from assetwatch.edge_agent.errors import RemoteConfigError
from assetwatch.edge_agent.remote_config import (
    AssetSettings,
    apply_remote_config,
    parse_remote_config,
)

SCHEMA = json.loads((Path(__file__).parents[2] / "assetwatch/core/wire_schema/config.v1.json")
                    .read_text())
SENSORS = ("flow", "vibration_rms")


@pytest.mark.parametrize("doc", [
    {}, {"sampling_interval_s": 5}, {"batch_max_readings": 20000, "batch_max_age_s": 0.5},
    {"sensors_enabled": ["flow"]}, {"batch_max_bytes": 4096},
])
def test_good_configs_pass_both_checks(doc: dict) -> None:
    jsonschema.validate(doc, SCHEMA)
    assert parse_remote_config(json.dumps(doc).encode(), SENSORS) == doc


@pytest.mark.parametrize(("payload", "reason"), [
    (b"{not json", "not JSON"), (b"[1]", "JSON object"), (b'{"colour": 1}', "unknown key"),
    (b'{"sampling_interval_s": 0}', "sampling_interval_s"),
    (b'{"sampling_interval_s": "fast"}', "sampling_interval_s"),
    (b'{"batch_max_readings": 20001}', "batch_max_readings"),
    (b'{"batch_max_readings": 1.5}', "batch_max_readings"),
    (b'{"sensors_enabled": "flow"}', "sensors_enabled"),
    (b'{"sensors_enabled": ["flux"]}', "unknown sensor"),
])
def test_bad_configs_are_rejected_with_a_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(RemoteConfigError, match=reason):
        parse_remote_config(payload, SENSORS)


def test_apply_overrides_only_what_is_given() -> None:
    base = AssetSettings(batch_max_readings=100)
    got = apply_remote_config(base, {"sensors_enabled": ["flow"], "batch_max_age_s": 1})
    assert got.sensors_enabled == frozenset({"flow"}) and got.batch_max_readings == 100
    assert got.batch_max_age_s == 1
