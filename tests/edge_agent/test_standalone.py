"""The edge agent runs with paho-mqtt and the standard library alone."""

from __future__ import annotations

import subprocess
import sys
import textwrap

BLOCKED = ("psycopg", "psycopg_pool", "pydantic", "pydantic_settings", "numpy", "pandas",
           "river", "sklearn", "scipy", "prefect", "pyarrow", "rich", "yaml", "grafana_client")

MODULES = ("agent", "batching", "catalogue", "commands", "config_file", "credentials", "csv_replay",
           "errors", "fleet", "lifecycle", "link", "publisher", "remote_config", "simulate",
           "simulator", "source", "spool")


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
            importlib.import_module("assetwatch.edge_agent." + m)
        from assetwatch.edge_agent.__main__ import main
        try:
            main(["run", "--config", "/nonexistent/agent.json"])
        except SystemExit:
            raise AssertionError("the edge entry point did not parse")
        from datetime import datetime, timezone
        from assetwatch.edge_agent.fleet import build_fleet
        from assetwatch.edge_agent.simulator import FleetSimulator
        sim = FleetSimulator(build_fleet(1, 2, 1, datetime(2026, 1, 1, tzinfo=timezone.utc)),
                             1, 3600)
        assert sim.poll(100, 0)
        loaded = sorted(n.split(".")[0] for n in sys.modules if n.split(".")[0] in BLOCKED)
        assert not loaded, loaded
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("ok")
