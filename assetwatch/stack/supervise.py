"""The broker's supervisor: ``python -m assetwatch.stack.supervise <settings.json>``.

Detaches (double fork, own session), writes ``run/supervisor.pid``, and runs Mosquitto in
the foreground as its child. When the broker dies it is started again: after 0.25 s, and
when it keeps dying within :data:`STABLE_S` of its start, after twice the previous wait up to
:data:`MAX_BACKOFF_S`. Before each start the configuration and users file are regenerated
from the device registry (under the registry's lock, so no device added meanwhile is lost).

``run/supervisor.json`` records what happened, for ``assetwatch stack status``: ``state``
(``running``, ``restarting``, ``held``, ``stopped``), ``restarts``, ``last_exit`` ("was
killed by SIGKILL", "exited with status 1"), ``last_restart_at`` and ``broker_pid``.

Signals: SIGTERM stops the broker (SIGTERM, it saves its state; SIGKILL after 30 s) and then
the supervisor; SIGUSR1 kills the broker with SIGKILL and holds it down (a controlled outage,
:meth:`LocalMosquitto.kill`); SIGUSR2 starts it again (:meth:`LocalMosquitto.start`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assetwatch.core.settings import Settings
from assetwatch.stack.mosquitto import LocalMosquitto

__all__ = ["MAX_BACKOFF_S", "STABLE_S", "Supervisor", "main"]

FIRST_BACKOFF_S = 0.25
MAX_BACKOFF_S = 30.0
#: A broker that ran this long before dying is restarted after FIRST_BACKOFF_S again.
STABLE_S = 30.0
_POLL_S = 0.05


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"was killed by {name}"
    return f"exited with status {returncode}"


class Supervisor:
    """Runs one broker and restarts it; see the module docstring."""

    def __init__(self, broker: LocalMosquitto) -> None:
        self.broker = broker
        self._child: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0
        self._next_start = 0.0
        self._quick_deaths = 0
        self._stop = self._hold = self._release = False
        self._held = False
        self.record: dict[str, Any] = {"state": "starting", "restarts": 0, "pid": os.getpid(),
                                       "started_at": _now()}

    def run(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "_stop", True))
        signal.signal(signal.SIGINT, lambda *_: setattr(self, "_stop", True))
        signal.signal(signal.SIGUSR1, lambda *_: setattr(self, "_hold", True))
        signal.signal(signal.SIGUSR2, lambda *_: setattr(self, "_release", True))
        self.broker.supervisor_pid_file.write_text(f"{os.getpid()}\n")
        try:
            while not self._stop:
                self._step()
                time.sleep(_POLL_S)
            self._stop_child()
            self._save(state="stopped", broker_pid=None)
        finally:
            if self.broker.supervisor_pid_file.read_text().strip() == str(os.getpid()):
                self.broker.supervisor_pid_file.unlink()

    def _step(self) -> None:
        if self._hold:
            self._hold, self._held = False, True
            if self._child is not None:
                self._child.kill()
                self._child.wait()
                self._child = None
                self._log("broker killed on request; holding it down")
            self._save(state="held", broker_pid=None)
        if self._release:
            self._release, self._held = False, False
            self._next_start = 0.0
        if self._child is None:
            if not self._held and time.monotonic() >= self._next_start:
                self._start_child()
            return
        returncode = self._child.poll()
        if returncode is None:
            return
        self._child = None
        lived = time.monotonic() - self._started_at
        self._quick_deaths = self._quick_deaths + 1 if lived < STABLE_S else 1
        wait = min(FIRST_BACKOFF_S * 2 ** (self._quick_deaths - 1), MAX_BACKOFF_S)
        self._next_start = time.monotonic() + wait
        self.record["last_exit"] = describe_exit(returncode)
        self._log(f"broker {self.record['last_exit']} after {lived:.1f} s; "
                  f"restarting in {wait:.2f} s")
        self._save(state="restarting", broker_pid=None, restart_in_s=wait)

    def _start_child(self) -> None:
        restarting = self.record["state"] == "restarting"
        self.broker.port_free(0.5)  # the last broker's connections may hold it a moment
        with self.broker.registry_lock():
            argv = self.broker.prepare()
            self._child = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
            self.broker.record_pid(self._child.pid)
        self._started_at = time.monotonic()
        if restarting:
            self.record["restarts"] += 1
            self.record["last_restart_at"] = _now()
            self._log(f"broker restarted (pid {self._child.pid})")
        self._save(state="running", broker_pid=self._child.pid, restart_in_s=None)

    def _stop_child(self) -> None:
        if self._child is None:
            return
        self._child.terminate()
        try:
            self._child.wait(30)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait()
        self._child = None

    def _save(self, **changes: Any) -> None:
        self.record.update(changes)
        path = self.broker.supervisor_state_file
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(self.record, indent=1) + "\n")
        tmp.replace(path)

    @staticmethod
    def _log(message: str) -> None:
        print(f"{_now()} supervisor: {message}", flush=True)


def _detach(log: Path) -> None:
    """Become a daemon: double fork, new session, stdio to ``log``."""
    if os.fork():
        os._exit(0)
    os.setsid()
    if os.fork():
        os._exit(0)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.chdir("/")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m assetwatch.stack.supervise <settings.json>", file=sys.stderr)
        return 2
    settings = Settings(**json.loads(Path(argv[0]).read_text()))
    broker = LocalMosquitto(settings)
    broker.run_dir.mkdir(parents=True, exist_ok=True)
    _detach(broker.run_dir / "supervisor.log")
    Supervisor(broker).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
