"""State hooks every assetwatch flow carries: each state change of a flow run is recorded in
``flow_run_state`` (see :mod:`assetwatch.dashboards.flow_runs`), which the pipeline-health
dashboard reads through ``v_flow_run``."""

from __future__ import annotations

from typing import Any

from assetwatch.dashboards.flow_runs import flow_run_hook

__all__ = ["STATE_HOOKS"]

#: Keyword arguments for ``@flow(...)``.
STATE_HOOKS: dict[str, Any] = {
    hook: [flow_run_hook]
    for hook in ("on_running", "on_completion", "on_failure", "on_crashed", "on_cancellation")
}
