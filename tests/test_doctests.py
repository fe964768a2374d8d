"""Every ``>>>`` example in the package runs, as the docstring promises (like river does)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import assetwatch

MODULES = sorted(m.name for m in pkgutil.walk_packages(assetwatch.__path__, "assetwatch.")
                 if not m.name.endswith("__main__"))


def _with_examples() -> list[str]:
    names = []
    for name in MODULES:
        spec = importlib.util.find_spec(name)
        if spec and spec.origin and spec.origin.endswith(".py"):
            with open(spec.origin, encoding="utf-8") as f:
                if ">>>" in f.read():
                    names.append(name)
    return names


@pytest.mark.parametrize("name", _with_examples())
def test_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name}: no example was run"
    assert result.failed == 0, f"{name}: {result.failed} example(s) failed"


def test_the_examples_are_found() -> None:
    assert len(_with_examples()) >= 10
