"""docker-compose.yml, checked without a Docker engine: structure, start order, secrets, files.

Covers what ``docker compose config`` and a first ``up`` would find: every service has an image
or a build, long-running services have healthchecks, ``depends_on`` names existing services with
conditions they can meet, named volumes are declared, every bind-mounted or copied file exists,
no password has a default, and every ``assetwatch`` command a container runs parses.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from assetwatch.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
ONE_SHOT = {"migrate", "fleet-setup"}
REQUIRED = {"timescaledb", "mosquitto", "grafana", "prefect-server", "ingest", "detector-0",
            "detector-1", "flow-worker", "site-sim", "migrate", "fleet-setup"}
_VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(:?[-?])?([^}]*)\}")


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def test_every_service_of_the_deployment_is_there() -> None:
    assert set(SERVICES) >= REQUIRED
    for name, service in SERVICES.items():
        assert "image" in service or "build" in service, name


def test_official_images_are_pinned() -> None:
    assert SERVICES["timescaledb"]["image"].startswith("timescale/timescaledb:2.")
    assert "-oss" not in SERVICES["timescaledb"]["image"]  # Timescale licence, not Apache-only
    assert SERVICES["mosquitto"]["image"].startswith("eclipse-mosquitto:2.")
    assert SERVICES["grafana"]["image"].startswith("grafana/grafana-oss:11.")
    for service in SERVICES.values():
        if "image" in service and "build" not in service:
            assert ":" in service["image"] and not service["image"].endswith(":latest")


def test_long_running_services_have_healthchecks() -> None:
    for name, service in SERVICES.items():
        check = service.get("healthcheck", {})
        if name in ONE_SHOT:
            assert service.get("restart") == "no", name
            continue
        assert not check.get("disable"), name
        assert check.get("test") and check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert service.get("restart") in ("unless-stopped", "on-failure"), name


def test_start_order_conditions_can_be_met() -> None:
    for name, service in SERVICES.items():
        for dependency, rule in service.get("depends_on", {}).items():
            assert dependency in SERVICES, (name, dependency)
            condition = rule["condition"]
            if condition == "service_healthy":
                assert not SERVICES[dependency].get("healthcheck", {}).get("disable")
            elif condition == "service_completed_successfully":
                assert dependency in ONE_SHOT, (name, dependency)
            else:
                assert condition == "service_started", (name, condition)
    order = _start_order()
    assert order.index("timescaledb") < order.index("migrate") < order.index("fleet-setup")
    assert order.index("fleet-setup") < order.index("mosquitto") < order.index("ingest")
    assert order.index("mosquitto") < order.index("site-sim")
    assert order.index("prefect-server") < order.index("flow-worker")
    assert order.index("migrate") < order.index("grafana")


def _start_order() -> list[str]:
    order: list[str] = []
    pending = dict(SERVICES)
    while pending:
        ready = [n for n, s in pending.items() if set(s.get("depends_on", {})) <= set(order)]
        assert ready, f"dependency cycle among {sorted(pending)}"
        for name in sorted(ready):
            order.append(name)
            del pending[name]
    return order


def test_ingest_scales_with_the_scale_flag() -> None:
    ingest = SERVICES["ingest"]
    assert "container_name" not in ingest and "ports" not in ingest
    assert ingest["command"][:3] == ["assetwatch", "ingest", "run"]


def test_named_volumes_are_declared_and_mounted_files_exist() -> None:
    declared = set(COMPOSE.get("volumes", {}))
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), (name, source)
            else:
                assert source in declared, (name, source)
        build = service.get("build")
        if build:
            assert (ROOT / build["context"] / build["dockerfile"]).is_file()


def test_files_the_containers_read_exist() -> None:
    dockerfile = (ROOT / "deploy/Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
    mounts = {"/assetwatch": ROOT / "deploy", "/app/deploy": ROOT / "deploy",
              "/etc/grafana/provisioning": ROOT / "deploy/grafana/provisioning"}
    referenced = [SERVICES["mosquitto"]["entrypoint"][-1], "/assetwatch/mosquitto/mosquitto.conf",
                  SERVICES["fleet-setup"]["command"][-1]]
    conf = (ROOT / "deploy/mosquitto/mosquitto.conf").read_text()
    referenced += re.findall(r"^include_dir (\S+)", conf, re.MULTILINE)
    for path in referenced:
        prefix = next(p for p in mounts if path.startswith(p + "/"))
        assert (mounts[prefix] / path[len(prefix) + 1:]).exists(), path
    for name in ("dashboards/assetwatch.yaml", "datasources/assetwatch.yaml"):
        assert (ROOT / "deploy/grafana/provisioning" / name).is_file()
    home = SERVICES["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (ROOT / "deploy/grafana/dashboards" / Path(home).name).is_file()


def test_no_password_has_a_default_and_env_example_lists_every_variable() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    used = {m[0]: (m[1], m[2]) for m in _VARIABLE.findall(text)}
    for name, (operator, _) in used.items():
        if "PASSWORD" in name:
            assert operator == ":?", f"{name} must be required, not defaulted"
    example = dict(line.split("=", 1) for line in
                   (ROOT / "deploy/env.example").read_text().splitlines()
                   if line and not line.startswith("#"))
    assert set(used) <= set(example), set(used) - set(example)
    assert all(value == "" for key, value in example.items() if "PASSWORD" in key)
    for name, service in SERVICES.items():
        for key, value in _env(service).items():
            if "PASSWORD" in key or "DB_URL" in key:
                assert "${" in value, (name, key)


def _assetwatch_commands() -> list[tuple[str, list[str]]]:
    found = []
    for name, service in SERVICES.items():
        command = service.get("command") or []
        if command[:2] == ["sh", "-c"]:
            for part in command[2].split("&&"):
                words = shlex.split(re.sub(r"\$\$?\{?\w+\}?", "1", part))
                words = words[1:] if words[:1] == ["exec"] else words
                if words[:1] == ["assetwatch"]:
                    found.append((name, words[1:]))
        elif command[:1] == ["assetwatch"]:
            found.append((name, command[1:]))
        health = service.get("healthcheck", {}).get("test", [])
        if health[1:2] == ["assetwatch"]:
            found.append((name, health[2:]))
    return found


@pytest.mark.parametrize(("service", "argv"), _assetwatch_commands(),
                         ids=[f"{s}:{' '.join(a[:2])}" for s, a in _assetwatch_commands()])
def test_container_commands_parse(service: str, argv: list[str]) -> None:
    parser = build_parser()
    registered = set(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    if argv[0] not in registered:
        pytest.skip(f"'assetwatch {argv[0]}' is not part of this checkout yet")
    args = parser.parse_args(argv)
    assert callable(args.func)


def _compose_config(tmp_path: Path, overrides: dict[str, str]) -> subprocess.CompletedProcess:
    example = (ROOT / "deploy/env.example").read_text().splitlines()
    values = dict(line.split("=", 1) for line in example if line and not line.startswith("#"))
    env_file = tmp_path / "compose.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in {**values, **overrides}.items()))
    clean = {k: v for k, v in os.environ.items() if not k.endswith("PASSWORD")}
    return subprocess.run(["docker-compose", "--env-file", str(env_file), "-f",
                           str(ROOT / "docker-compose.yml"), "config"], cwd=ROOT, env=clean,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(shutil.which("docker-compose") is None,
                    reason="docker-compose (Debian package) is not installed")
def test_compose_validates_against_the_compose_schema(tmp_path: Path) -> None:
    passwords = {name: f"pw-{name.lower()}" for name in
                 ("POSTGRES_PASSWORD", "ASSETWATCH_READER_PASSWORD", "MQTT_INGEST_PASSWORD",
                  "GRAFANA_ADMIN_PASSWORD")}
    done = _compose_config(tmp_path, passwords)
    assert done.returncode == 0, done.stderr
    resolved = yaml.safe_load(done.stdout)
    grafana = resolved["services"]["grafana"]["environment"]
    assert grafana["GF_SECURITY_ADMIN_PASSWORD"] == "pw-grafana_admin_password"
    assert "pw-postgres_password@timescaledb" in \
        resolved["services"]["ingest"]["environment"]["ASSETWATCH_DB_URL"]


@pytest.mark.skipif(shutil.which("docker-compose") is None,
                    reason="docker-compose (Debian package) is not installed")
def test_compose_refuses_to_start_without_passwords(tmp_path: Path) -> None:
    done = _compose_config(tmp_path, {})
    assert done.returncode != 0
    assert "PASSWORD" in done.stderr and "in .env" in done.stderr
