"""Loading a source plug-in named in the agent's configuration (``"package.module:Class"``)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from assetwatch.core.source import Source
from assetwatch.edge_agent.errors import AgentConfigError

__all__ = ["load_plugin"]


def load_plugin(spec: str, options: Mapping[str, Any]) -> Source:
    """Instantiate the source class named ``"package.module:Class"`` with ``options``."""
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise AgentConfigError(f"source.class: {spec!r} must look like 'package.module:Class'")
    try:
        module = importlib.import_module(module_name)
        cls = getattr(module, class_name)
    except (ImportError, AttributeError) as e:
        raise AgentConfigError(f"source.class: cannot load {spec!r} ({e})") from None
    if not (isinstance(cls, type) and issubclass(cls, Source)):
        raise AgentConfigError(f"source.class: {spec!r} is not a Source subclass")
    try:
        return cls(**dict(options))
    except (TypeError, ValueError) as e:
        raise AgentConfigError(f"source.options: {spec!r} does not accept them ({e})") from None
