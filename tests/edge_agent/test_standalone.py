"""The edge agent and the simulated world run with paho-mqtt and the standard library alone."""

from __future__ import annotations

import subprocess
import sys
import textwrap

BLOCKED = ("psycopg", "psycopg_pool", "pydantic", "pydantic_settings", "numpy", "pandas",
           "river", "sklearn", "scipy", "prefect", "pyarrow", "rich", "yaml", "grafana_client")

MODULES = ("assetwatch.edge_agent." + m for m in (
    "agent", "batching", "commands", "config_file", "credentials", "csv_replay", "errors",
    "link", "plugin", "publisher", "remote_config", "simulate", "spool"))
MODULES = (*MODULES, *("assetwatch.sim." + m for m in (
    "catalogue", "fleet", "lifecycle", "operation", "sensor_faults", "simulator", "site",
    "truth", "world")))


def test_edge_modules_import_without_server_packages() -> None:
    script = textwrap.dedent(f"""
        import sys
        BLOCKED = {BLOCKED!r}

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ImportError(f"{{name}} is not available on the edge")
                return None

        sys.meta_path.insert(0, Block())
        import importlib
        for m in {MODULES!r}:
            importlib.import_module(m)
        from assetwatch.edge_agent.__main__ import main
        try:
            main(["run", "--config", "/nonexistent/agent.json"])
        except SystemExit:
            raise AssertionError("the edge entry point did not parse")
        from assetwatch.edge_agent.config_file import SIMULATOR
        from assetwatch.edge_agent.plugin import load_plugin
        sim = load_plugin(SIMULATOR, dict(sites=1, assets_per_site=2, seed=1, days=1,
                                          sample_interval_s=3600,
                                          start="2026-01-01T00:00:00+00:00"))
        assert sim.poll(100, 0)
        loaded = sorted(n.split(".")[0] for n in sys.modules if n.split(".")[0] in BLOCKED)
        assert not loaded, loaded
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("ok")
