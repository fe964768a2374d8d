"""State hooks every assetwatch flow carries: each state change of a flow run is recorded in
``flow_run_state``, which the pipeline-health dashboard reads through ``v_flow_run``.

:data:`STATE_HOOKS` holds the keyword arguments for ``@flow(...)``; :func:`flow_run_hook` is
the hook itself (``(flow, flow_run, state)``); each state change upserts one row per flow
run. A failing hook logs a warning and never fails the flow.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from assetwatch.core.db import connect
from assetwatch.core.settings import Settings, load_settings

__all__ = ["STATE_HOOKS", "flow_run_hook", "record_flow_run"]

log = logging.getLogger(__name__)

_UPSERT = """
INSERT INTO flow_run_state (flow_run_id, flow_name, deployment, state, state_name, started_at,
                            ended_at, message, updated_at)
VALUES (%(id)s, %(flow)s, %(deployment)s, %(state)s, %(state_name)s, %(started_at)s,
        %(ended_at)s, %(message)s, now())
ON CONFLICT (flow_run_id) DO UPDATE SET
    flow_name = EXCLUDED.flow_name,
    deployment = coalesce(EXCLUDED.deployment, flow_run_state.deployment),
    state = EXCLUDED.state, state_name = EXCLUDED.state_name,
    started_at = coalesce(EXCLUDED.started_at, flow_run_state.started_at),
    ended_at = EXCLUDED.ended_at, message = EXCLUDED.message, updated_at = now()"""


def record_flow_run(settings: Settings, flow_run_id: str, flow_name: str, state: str, *,
                    state_name: str | None = None, started_at: datetime | None = None,
                    ended_at: datetime | None = None, message: str | None = None,
                    deployment: str | None = None) -> None:
    """Upsert the newest state (a Prefect state type such as ``COMPLETED``) of one flow run."""
    with connect(settings) as conn, conn.transaction():
        conn.execute(_UPSERT, {"id": flow_run_id, "flow": flow_name, "deployment": deployment,
                               "state": state.upper(), "state_name": state_name,
                               "started_at": started_at, "ended_at": ended_at,
                               "message": (message or None) and message[:2000]})


def flow_run_hook(flow: Any, flow_run: Any, state: Any, *,
                  settings: Settings | None = None) -> None:
    """A Prefect state hook ``(flow, flow_run, state)`` that calls :func:`record_flow_run`."""
    try:
        state_type = getattr(state.type, "value", state.type)
        final = bool(getattr(state, "is_final", lambda: False)())
        record_flow_run(
            settings or load_settings(), str(flow_run.id), str(flow.name), str(state_type),
            state_name=getattr(state, "name", None),
            started_at=getattr(flow_run, "start_time", None) or getattr(state, "timestamp", None),
            ended_at=(getattr(flow_run, "end_time", None) or getattr(state, "timestamp", None))
            if final else None,
            message=getattr(state, "message", None),
            deployment=str(flow_run.deployment_id) if getattr(flow_run, "deployment_id", None)
            else None)
    except Exception as e:  # a dashboard record must never fail the flow it describes
        log.warning("cannot record flow run state: %s", e)


#: Keyword arguments for ``@flow(...)``.
STATE_HOOKS: dict[str, Any] = {
    hook: [flow_run_hook]
    for hook in ("on_running", "on_completion", "on_failure", "on_crashed", "on_cancellation")
}
