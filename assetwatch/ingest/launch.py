"""Running ingest workers: one in this process, or a supervised pool of N processes."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from typing import Any

from assetwatch.core.settings import Settings
from assetwatch.errors import AssetwatchError
from assetwatch.ingest.consumer import IngestWorker
from assetwatch.ingest.mqtt_session import default_client_id
from assetwatch.ingest.pool import WorkerPool

__all__ = ["run_worker_process", "run_workers"]

log = logging.getLogger(__name__)

#: How often a worker process checks that its parent is still there.
PARENT_CHECK_S = 1.0


def run_worker_process(settings_doc: dict[str, Any], client_id: str, ready: Any = None,
                       leave_group: bool = False) -> None:
    """Entry point of one worker process (``settings_doc`` is ``Settings.model_dump()``).

    The worker stops (gracefully) when its parent process is gone. An expected failure
    (broker or database refusing us) is logged as one line and ends the process with the
    error's exit code.
    """
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent forwards SIGTERM
    settings = Settings(**settings_doc)
    worker = IngestWorker(settings, client_id,
                          on_ready=ready.set if ready is not None else None,
                          leave_group=leave_group)
    _stop_when_orphaned(worker)
    try:
        worker.run()
    except AssetwatchError as e:
        log.error("ingest worker %s: %s", client_id, e)
        sys.exit(e.exit_code)


def _stop_when_orphaned(worker: IngestWorker) -> None:
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        log.warning("ingest worker %s: its parent process is gone; stopping", worker.client_id)
        worker.stop()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def run_workers(settings: Settings, *, workers: int = 1, client_id: str | None = None,
                leave_group: bool = False) -> int:
    """Run ``workers`` consumers until SIGTERM/SIGINT; return an exit code.

    One worker runs in this process; more run as a supervised :class:`WorkerPool`
    (restarted with the same client id when they die).
    """
    if workers <= 1:
        worker = IngestWorker(settings, client_id or default_client_id(settings),
                              leave_group=leave_group)
        signal.signal(signal.SIGINT, lambda signum, frame: worker.stop())
        worker.run()
        return 0
    client_ids = [f"{client_id}-{i}" if client_id else default_client_id(settings, i)
                  for i in range(workers)]
    return WorkerPool(settings, client_ids, leave_group=leave_group).run()
