"""The packages form layers: none imports a package above it, the gateway side stays small.

Read from the source (``import`` statements anywhere in a module, lazy ones included), so a
new import that breaks the layering fails here before it breaks a gateway install.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import assetwatch

ROOT = Path(assetwatch.__file__).parent
#: Lower ranks are imported by higher ones, never the other way round.
RANK = {"errors": 0, "core": 1,
        "edge_agent": 2, "sim": 2, "stack": 2, "ingest": 2, "models": 2, "dashboards": 2,
        "report": 2,
        "service": 3, "fleet": 4, "flows": 5, "demo": 6, "bench": 6, "cli": 7}
#: What the gateway side (and the simulated world it loads by name) may use of the server.
GATEWAY_MAY_IMPORT = {"assetwatch.core.wire", "assetwatch.core.source", "assetwatch.errors"}


def _imports() -> dict[str, set[str]]:
    """``package -> {imported assetwatch module}``."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in ROOT.rglob("*.py"):
        package = path.relative_to(ROOT).parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            found[package].update(n for n in names if n.startswith("assetwatch."))
    return found


def test_every_package_has_a_rank() -> None:
    packages = {p.name.removesuffix(".py") for p in ROOT.iterdir()
                if (p.is_dir() and (p / "__init__.py").exists()) or p.suffix == ".py"}
    assert packages - {"__init__", "__main__"} <= set(RANK)


def test_no_package_imports_one_above_it() -> None:
    wrong = [(package, module) for package, modules in _imports().items() for module in modules
             if module.split(".")[1] != package and RANK[module.split(".")[1]] >= RANK[package]]
    assert not wrong


def test_gateway_and_simulated_world_import_only_the_wire_contracts() -> None:
    imports = _imports()
    for package in ("edge_agent", "sim"):
        outside = {m for m in imports[package] if not m.startswith(f"assetwatch.{package}")}
        assert outside <= GATEWAY_MAY_IMPORT, (package, outside - GATEWAY_MAY_IMPORT)
    assert not any(m.startswith("assetwatch.sim") for m in imports["edge_agent"])


def test_dashboards_and_report_read_only_core() -> None:
    imports = _imports()
    for package in ("dashboards", "report"):
        outside = {m.split(".")[1] for m in imports[package]} - {package, "core", "errors"}
        assert not outside, (package, outside)


def test_only_the_simulated_world_and_the_benchmarks_read_the_ground_truth() -> None:
    """The product learns about the fleet from telemetry and master data, never from the
    simulator's truth (its lives, operation, sensor faults or the truth module)."""
    truth = ("assetwatch.sim.truth", "assetwatch.sim.lifecycle", "assetwatch.sim.operation",
             "assetwatch.sim.sensor_faults", "assetwatch.sim.world")
    readers = {package for package, modules in _imports().items()
               if any(m.startswith(truth) for m in modules)}
    assert readers <= {"sim", "bench"}, readers - {"sim", "bench"}
