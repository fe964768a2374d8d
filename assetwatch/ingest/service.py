"""Running ingest workers: one in this process, or N processes in the shared group."""

from __future__ import annotations

import logging
import multiprocessing as mp
import signal
from typing import Any

from assetwatch.core.settings import Settings
from assetwatch.ingest.consumer import IngestWorker, default_client_id

__all__ = ["run_worker_process", "run_workers"]

log = logging.getLogger(__name__)


def run_worker_process(settings_doc: dict[str, Any], client_id: str, ready: Any = None,
                       leave_group: bool = False) -> None:
    """Entry point of one worker process (``settings_doc`` is ``Settings.model_dump()``)."""
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent forwards SIGTERM
    settings = Settings(**settings_doc)
    IngestWorker(settings, client_id, on_ready=ready.set if ready is not None else None,
                 leave_group=leave_group).run()


def run_workers(settings: Settings, *, workers: int = 1, client_id: str | None = None,
                leave_group: bool = False) -> int:
    """Run ``workers`` consumers until SIGTERM/SIGINT; return an exit code."""
    if workers <= 1:
        worker = IngestWorker(settings, client_id or default_client_id(settings),
                              leave_group=leave_group)
        signal.signal(signal.SIGINT, lambda signum, frame: worker.stop())
        worker.run()
        return 0
    ctx = mp.get_context("spawn")
    doc = settings.model_dump()
    processes = [
        ctx.Process(target=run_worker_process, name=f"ingest-{i}",
                    args=(doc, f"{client_id}-{i}" if client_id else
                          default_client_id(settings, i), None, leave_group))
        for i in range(workers)
    ]
    for p in processes:
        p.start()

    def forward(signum: int, frame: Any) -> None:
        for p in processes:
            if p.is_alive() and p.pid is not None:
                p.terminate()  # SIGTERM: each worker finishes its in-flight work

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for p in processes:
        p.join()
    failed = [p.name for p in processes if p.exitcode not in (0, -signal.SIGTERM)]
    if failed:
        log.error("ingest workers failed: %s", ", ".join(failed))
        return 1
    return 0
