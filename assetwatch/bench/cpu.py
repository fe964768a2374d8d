"""Where the CPU went during a benchmark phase, per process group, from ``/proc`` (Linux).

:class:`CpuMeter` samples every process's CPU time (user + system) every second during a
phase (so processes that start or end inside it, such as autovacuum workers, are counted up
to their last sample) and the machine's busy and idle time at its start and end, and sorts
the CPU spent into groups: the benchmark's own processes and the broker by pid, PostgreSQL by
command line (the connections to the benchmark's database; the cluster's background
processes), and the rest of the machine. Divided by the readings of the phase it says how many
microseconds of CPU each group spent per reading, and how many were left idle, which is
what decides whether one machine can go faster.

Works only where the servers run on this machine (the local stack); elsewhere the database
and broker rows stay empty and are reported as not measured.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CpuMeter", "CpuUse", "available"]

_PROC = Path("/proc")
_PG_BACKENDS = "PostgreSQL, benchmark's connections"
_PG_REST = "PostgreSQL, background (WAL, checkpoints, autovacuum)"
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def available() -> bool:
    """Whether this machine has a ``/proc`` to read CPU times from."""
    return (_PROC / "stat").exists()


@dataclass
class CpuUse:
    """CPU seconds per group over one phase, the phase's wall time and the machine's size."""

    seconds: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0
    cores: int = 1
    machine_busy_s: float = 0.0

    @property
    def capacity_s(self) -> float:
        return self.wall_s * self.cores

    def per_reading_us(self, readings: int) -> dict[str, float]:
        """Microseconds of CPU per reading by group, plus 'other processes' and 'idle'."""
        out = {name: s / readings * 1e6 for name, s in self.seconds.items()}
        out["other processes"] = max(0.0, self.machine_busy_s - sum(self.seconds.values())
                                     ) / readings * 1e6
        out["idle"] = max(0.0, self.capacity_s - self.machine_busy_s) / readings * 1e6
        return out


@dataclass
class _Snapshot:
    at: float
    processes: dict[tuple[int, str], tuple[str, float]]  # (pid, start) -> (command, cpu s)
    machine_busy_s: float


class CpuMeter:
    """Measures one phase: ``start()``, run the phase, ``stop()`` returns a :class:`CpuUse`.

    Parameters
    ----------
    groups:
        Group name -> pids of the benchmark's own processes (workers, publisher, itself,
        the broker). Pids may be added later with :meth:`add` (a process started during the
        phase).
    database:
        Name of the benchmark's database: its connections' backends form one group.
    """

    def __init__(self, groups: dict[str, Iterable[int]], database: str,
                 interval_s: float = 1.0) -> None:
        self.groups = {name: set(pids) for name, pids in groups.items()}
        self.database = database
        self.interval_s = interval_s
        self._first: _Snapshot | None = None
        self._seen: dict[tuple[int, str], tuple[str, float, float]] = {}  # -> (cmd, first, last)
        self._commands: dict[tuple[int, str], str] = {}
        self._done = threading.Event()
        self._sampler: threading.Thread | None = None

    def add(self, group: str, pid: int) -> None:
        self.groups.setdefault(group, set()).add(pid)

    def start(self) -> None:
        self._first, self._seen = None, {}
        self._first = self._sample()
        self._done.clear()
        self._sampler = threading.Thread(target=self._run, name="cpu-meter", daemon=True)
        self._sampler.start()

    def stop(self) -> CpuUse:
        assert self._first is not None and self._sampler is not None, "start() first"
        self._done.set()
        self._sampler.join()
        last = self._sample()
        use = CpuUse(wall_s=last.at - self._first.at, cores=os.cpu_count() or 1,
                     machine_busy_s=last.machine_busy_s - self._first.machine_busy_s)
        totals: dict[str, float] = {name: 0.0 for name in self.groups}
        totals.update({_PG_BACKENDS: 0.0, _PG_REST: 0.0})
        for (pid, _), (command, first, latest) in self._seen.items():
            group = next((name for name, pids in self.groups.items() if pid in pids), None)
            group = group or self._server_group(command)
            if group is not None and latest > first:
                totals[group] += latest - first
        use.seconds = totals
        return use

    def _run(self) -> None:
        while not self._done.wait(self.interval_s):
            self._sample()

    def _sample(self) -> _Snapshot:
        snapshot = _snapshot(self._commands)
        first = self._first is None
        for key, (command, cpu) in snapshot.processes.items():
            known = self._seen.get(key)
            if known is None:  # started during the phase: all its CPU counts
                self._seen[key] = (command, cpu if first else 0.0, cpu)
            else:
                self._seen[key] = (command, known[1], cpu)
        return snapshot

    def _server_group(self, command: str) -> str | None:
        program = command.split(" ", 1)[0]
        if command.startswith("postgres: "):
            if "(" not in command:  # WAL writer, checkpointer, autovacuum, ...
                return _PG_REST
            if f" {self.database} " in command:
                return _PG_BACKENDS
            return None  # a client of another database: other work on this machine
        if program.endswith("/postgres"):
            return _PG_REST
        return None


def _snapshot(commands: dict[tuple[int, str], str]) -> _Snapshot:
    """CPU seconds of every process now; ``commands`` caches command lines by process."""
    processes: dict[tuple[int, str], tuple[str, float]] = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rfind(")") + 2:].split()
            key = (int(entry.name), fields[19])
            command = commands.get(key)
            if command is None:  # PostgreSQL's titles change with its state; the start stays
                command = commands[key] = (entry / "cmdline").read_bytes().replace(
                    b"\0", b" ").decode("utf-8", "replace").strip()
        except OSError:
            continue
        processes[key] = (command, (int(fields[11]) + int(fields[12])) / _TICK)
    with (_PROC / "stat").open() as f:
        cpu = [int(x) for x in f.readline().split()[1:]]
    idle = cpu[3] + (cpu[4] if len(cpu) > 4 else 0)
    busy = sum(cpu[:8]) - idle  # user nice system idle iowait irq softirq steal
    return _Snapshot(time.time(), processes, busy / _TICK)
