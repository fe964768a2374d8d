"""A project-local Mosquitto broker: per-device users, access rules that cover subscriptions,
state saved as it changes, and a supervisor that restarts it.

Users and rules are in :mod:`assetwatch.stack.broker_access` (a device publishes only its own
``telemetry``/``status``/``events`` and subscribes only to its own ``config``/``receipt``;
the server user reads everything and may join the ingest group's shared subscriptions),
enforced by Mosquitto's dynamic-security plugin. Devices accumulate in
``<root>/auth/devices.tsv`` (prefix, site, asset), so several topic prefixes (test runs,
benchmarks) share one broker. The plugin's configuration file is generated from that list
before every start; devices added while the broker runs go through the plugin's API
(:class:`~assetwatch.stack.dynsec_admin.DynsecAdmin`), without a restart.

State (sessions, their subscriptions and queued messages, retained messages) is saved on
change: with Mosquitto 2.1 by the persist-sqlite plugin, each loop's changes committed at the
next loop, with 2.0 by rewriting the state file after every change
(``autosave_on_changes``), so a persistent ingest session and its queue survive a
``kill -9`` of the broker.

``up()`` starts the broker under a supervisor (:mod:`assetwatch.stack.supervise`) that
restarts it when it dies, with back-off when it dies in a loop; ``up(supervise=False)``
starts it alone (a private broker of a test). ``kill()`` and ``start()`` make a controlled
outage: SIGKILL without a restart, then start again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from assetwatch.core.settings import Settings
from assetwatch.stack.broker_access import (
    RegistryEntry,
    device_password,
    device_roles_commands,
    dynsec_document,
    server_password,
)
from assetwatch.stack.broker_build import MosquittoBuild, find_mosquitto
from assetwatch.stack.system import StackError, chown_tree, service_home

__all__ = ["DeviceIdentity", "LocalMosquitto", "device_password", "private_broker",
           "server_password"]

DeviceIdentity = tuple[str, str]  # (site_id, asset_tag)

_LIMITS = """\
max_inflight_messages 1000
set_tcp_nodelay true
max_queued_messages 1000000
max_queued_bytes 0
"""


def _alive(pid: int | None, marker: str) -> bool:
    """Whether ``pid`` runs (not a zombie) and its command line contains ``marker``."""
    if not pid:
        return False
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own child
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z" and marker in cmdline


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


class LocalMosquitto:
    """The broker under ``<data_dir>/mosquitto`` on ``settings.mqtt_port``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = service_home(settings.data_dir.resolve(), "mosquitto", "mosquitto")
        self.auth_dir = self.root / "auth"
        self.state_dir = self.root / "state"
        self.run_dir = self.root / "run"
        self.conf = self.root / "mosquitto.conf"
        self.registry = self.auth_dir / "devices.tsv"
        self.dynsec_file = self.auth_dir / "dynamic-security.json"
        self.pid_file = self.run_dir / "mosquitto.pid"
        self.log_file = self.run_dir / "mosquitto.log"
        self.supervisor_pid_file = self.run_dir / "supervisor.pid"
        self.supervisor_state_file = self.run_dir / "supervisor.json"
        self._build: MosquittoBuild | None = None

    # -- what runs --------------------------------------------------------------------------

    @property
    def build(self) -> MosquittoBuild:
        """The broker binary that ``settings.mosquitto`` chooses (built when missing)."""
        if self._build is None:
            self._build = find_mosquitto(self.settings.mosquitto)
        return self._build

    @property
    def pid(self) -> int | None:
        """The process id of the running broker, or None."""
        pid = _read_pid(self.pid_file)
        return pid if _alive(pid, "mosquitto") else None

    @property
    def supervisor_pid(self) -> int | None:
        pid = _read_pid(self.supervisor_pid_file)
        return pid if _alive(pid, "assetwatch.stack.supervise") else None

    def record_pid(self, pid: int) -> None:
        """Write the broker's pid file (the broker, running as its own user, rewrites it)."""
        self.pid_file.write_text(f"{pid}\n")
        chown_tree(self.run_dir, "mosquitto")

    def supervisor_state(self) -> dict[str, Any]:
        """The supervisor's record: restarts, last exit, last restart time, state."""
        try:
            return dict(json.loads(self.supervisor_state_file.read_text()))
        except (FileNotFoundError, ValueError):
            return {}

    def status(self) -> str:
        """One line: running or not, supervised or not, restarts and the last exit."""
        pid, supervisor = self.pid, self.supervisor_pid
        record = self.supervisor_state() if supervisor else {}
        restarts = int(record.get("restarts", 0))
        history = ""
        if restarts:
            when = record.get("last_restart_at", "?")
            history = (f", restarted {restarts} time{'s' if restarts != 1 else ''}, last at "
                       f"{when} after it {record.get('last_exit', 'exited')}")
        if pid and supervisor:
            return f"running (pid {pid}, supervised{history})"
        if pid:
            return f"running (pid {pid}, not supervised)"
        if supervisor and record.get("state") == "held":
            return f"down on request, supervisor waiting to start it{history}"
        if supervisor:
            return f"DOWN, supervisor restarting it{history}"
        return "stopped"

    # -- life cycle -------------------------------------------------------------------------

    def up(self, devices: Iterable[DeviceIdentity] = (), *, supervise: bool = True) -> None:
        """Register ``devices``, then start the broker unless it runs (under a supervisor
        unless ``supervise`` is false). A running broker whose configuration is not the one
        this stack would write (another version, older rules) is restarted first."""
        self.build  # noqa: B018  (resolve or build the binary first: fails before any change)
        for d in (self.auth_dir, self.state_dir, self.run_dir):
            d.mkdir(parents=True, exist_ok=True)
        if self.pid and self._config_outdated():
            self.down()
        self.write_auth(devices)
        if self.pid:
            return
        if self.supervisor_pid:
            self.start()
            return
        self._check_port_free()
        if supervise:
            self._spawn_supervisor()
        else:
            self._start_alone()
        try:
            self._wait_listening()
        except StackError:
            self.down()
            raise

    def down(self) -> None:
        """Stop the supervisor and the broker (SIGTERM; the broker saves its state)."""
        supervisor = self.supervisor_pid
        if supervisor:
            os.kill(supervisor, signal.SIGTERM)
            self._wait_until(lambda: not self.supervisor_pid, 40)
        pid = self.pid
        if pid:
            os.kill(pid, signal.SIGTERM)
            if not self._wait_until(lambda: not self.pid, 30):
                os.kill(pid, signal.SIGKILL)
                self._wait_until(lambda: not self.pid, 5)

    def kill(self) -> None:
        """SIGKILL the broker, as a crash would, without the supervisor restarting it."""
        supervisor = self.supervisor_pid
        if supervisor:
            os.kill(supervisor, signal.SIGUSR1)
            if not self._wait_until(lambda: self.supervisor_state().get("state") == "held", 10):
                raise StackError("the broker supervisor did not stop the broker")
        pid = self.pid
        if pid:
            os.kill(pid, signal.SIGKILL)
            self._wait_until(lambda: not self.pid, 5)

    def start(self) -> None:
        """Start the broker again after :meth:`kill` (or :meth:`down`), with its saved state;
        a supervisor that holds it starts it, otherwise it starts alone."""
        if self.pid:
            return
        supervisor = self.supervisor_pid
        if supervisor:
            os.kill(supervisor, signal.SIGUSR2)
        else:
            self._check_port_free()
            self._start_alone()
        self._wait_listening()

    # -- users and rules --------------------------------------------------------------------

    def write_auth(self, devices: Iterable[DeviceIdentity], *, reload: bool = True) -> None:
        """Add these devices (under ``settings.topic_prefix``) to the broker's users.

        A running broker learns new devices through its dynamic-security API at once (unless
        ``reload`` is false); a stopped one reads them from the file written here.
        """
        wanted = {(self.settings.topic_prefix, site, asset) for site, asset in devices}
        self.auth_dir.mkdir(parents=True, exist_ok=True)
        with self.registry_lock():
            known = self._registry()
            new = wanted - known
            if new:
                self._write_atomic(self.registry, "".join(
                    f"{p}\t{s}\t{a}\n" for p, s, a in sorted(known | new)))
            if not self.pid:
                if new or not self.dynsec_file.exists():
                    self._write_dynsec(known | new)
            elif new and reload:
                from assetwatch.stack.dynsec_admin import DynsecAdmin

                with DynsecAdmin(self.settings) as admin:
                    admin.run(device_roles_commands(self.settings, new))

    def config_text(self) -> str:
        """The broker configuration: plugins, persistence, limits and the listener."""
        build = self.build
        dynsec = build.plugin("dynamic_security")
        if build.version >= (2, 1, 0):
            plugins = f"global_plugin {dynsec}\nplugin_opt_config_file {self.dynsec_file}\n"
        else:
            plugins = (f"per_listener_settings false\nplugin {dynsec}\n"
                       f"plugin_opt_config_file {self.dynsec_file}\n")
        # payloads up to 2 MiB: 2.1 prefers a packet limit to a payload limit
        size_limit = ("max_packet_size 2200000" if build.version >= (2, 1, 0)
                      else "message_size_limit 2097152")
        return (f"# Written by assetwatch stack for {build.name} ({build.binary}).\n"
                f"allow_anonymous false\n{plugins}{self._persistence()}"
                f"pid_file {self.pid_file}\nlog_dest file {self.log_file}\n"
                f"log_type error\nlog_type warning\n{_LIMITS}{size_limit}\n"
                f"listener {self.settings.mqtt_port} {self.settings.mqtt_host}\n")

    def _persistence(self) -> str:
        if self.build.sqlite_persistence:
            return (f"persistence_location {self.state_dir}/\n"
                    f"global_plugin {self.build.plugin('persist_sqlite')}\n"
                    "plugin_opt_flush_period 0\nplugin_opt_sync normal\n")
        return (f"persistence true\npersistence_location {self.state_dir}/\n"
                "autosave_on_changes true\nautosave_interval 1\n")

    def prepare(self) -> list[str]:
        """Write the configuration and the users file from the registry; return the command
        that runs the broker in the foreground. Call with :meth:`registry_lock` held."""
        for d in (self.auth_dir, self.state_dir, self.run_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(self.config_text())
        self._write_dynsec(self._registry())
        chown_tree(self.root, "mosquitto")
        return [str(self.build.binary), "-c", str(self.conf)]

    @contextlib.contextmanager
    def registry_lock(self) -> Iterator[None]:
        """Exclusive use of the device registry and the users file (across processes)."""
        self.auth_dir.mkdir(parents=True, exist_ok=True)
        with (self.auth_dir / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _registry(self) -> set[RegistryEntry]:
        if not self.registry.exists():
            return set()
        return {(p, s, a) for p, s, a in (line.split("\t") for line in
                                          self.registry.read_text().splitlines()
                                          if line.count("\t") == 2)}

    def _write_dynsec(self, registry: set[RegistryEntry]) -> None:
        document = dynsec_document(self.settings, registry)
        self._write_atomic(self.dynsec_file, json.dumps(document, indent=1) + "\n", mode=0o600)
        chown_tree(self.auth_dir, "mosquitto")

    @staticmethod
    def _write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(text)
        tmp.chmod(mode)
        tmp.replace(path)

    def _config_outdated(self) -> bool:
        try:
            return self.conf.read_text() != self.config_text()
        except FileNotFoundError:
            return True

    # -- processes --------------------------------------------------------------------------

    def _spawn_supervisor(self) -> None:
        settings_file = self.run_dir / "settings.json"
        settings_file.write_text(self.settings.model_dump_json())
        settings_file.chmod(0o600)
        done = subprocess.run([sys.executable, "-m", "assetwatch.stack.supervise",
                               str(settings_file)], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["unknown error"])[-1]
            raise StackError(f"cannot start the broker supervisor: {tail}")

    def _start_alone(self) -> None:
        with self.registry_lock():
            argv = self.prepare()
            with contextlib.suppress(FileNotFoundError):
                self.pid_file.unlink()
            done = subprocess.run([argv[0], "-d", *argv[1:]], capture_output=True, text=True)
            if done.returncode != 0:
                raise StackError(f"cannot start mosquitto: "
                                 f"{done.stderr.strip() or done.stdout.strip()}; "
                                 f"see {self.log_file}")
            self._wait_until(lambda: self.pid is not None, 10)

    def port_free(self, timeout_s: float = 3.0) -> bool:
        """Whether the broker's port can be bound, waiting up to ``timeout_s``: the
        connections of a broker killed a moment ago may hold it for a few milliseconds."""
        host, port = self.settings.mqtt_host, self.settings.mqtt_port
        return self._wait_until(lambda: _bindable(host, port), timeout_s)

    def _check_port_free(self) -> None:
        if not self.port_free():
            raise StackError(
                f"port {self.settings.mqtt_port} is in use by another program; "
                "choose another with ASSETWATCH_MQTT_PORT"
            )

    def _wait_listening(self, timeout_s: float = 60) -> None:
        started = time.monotonic()
        restarts = int(self.supervisor_state().get("restarts", 0))
        while time.monotonic() < started + timeout_s:
            with socket.socket() as s:
                s.settimeout(0.2)
                if (s.connect_ex((self.settings.mqtt_host, self.settings.mqtt_port)) == 0
                        and s.getsockname()[1] != self.settings.mqtt_port):  # not to itself
                    return
            if time.monotonic() > started + 2 and not self.supervisor_pid and not self.pid:
                break  # nothing is starting it
            if int(self.supervisor_state().get("restarts", 0)) >= restarts + 2:
                break  # it dies as soon as it starts
            time.sleep(0.05)
        raise StackError(f"mosquitto did not start listening on port {self.settings.mqtt_port}"
                         f": {self._last_log_line()}")

    def _last_log_line(self) -> str:
        """The broker's last error line (or last line) in its log or the supervisor's."""
        for log in (self.log_file, self.run_dir / "supervisor.log"):
            with contextlib.suppress(FileNotFoundError):
                lines = [ln for ln in log.read_text(errors="replace").splitlines()[-40:]
                         if ln.strip()]
                errors = [ln for ln in lines if "Error" in ln]
                if errors or lines:
                    return f"{(errors or lines)[-1]} (see {log})"
        return f"see {self.log_file}"

    @staticmethod
    def _wait_until(predicate: Any, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return bool(predicate())


def _bindable(host: str, port: int) -> bool:
    """Whether a listener could bind ``host:port`` now (as the broker does)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    """A free loopback port below the kernel's ephemeral range, so that no client connection
    takes it as its own port while the broker is down (an outage in a test)."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 32768)
        if _bindable("127.0.0.1", port):
            return port
    raise StackError("no free port between 20000 and 32767 on 127.0.0.1")


def private_broker(settings: Settings, data_dir: Path, port: int | None = None
                   ) -> LocalMosquitto:
    """A broker of its own for a test: ``data_dir``, a free loopback port, the stack's
    binary, configuration and rules; not started (``up(devices, supervise=False)``,
    ``kill()``, ``start()``, ``down()``). Its settings are ``broker.settings``."""
    if port is None:
        port = _free_port()
    own = settings.model_copy(update={"data_dir": data_dir, "mqtt_port": port,
                                      "mqtt_host": "127.0.0.1", "mqtt_password": None})
    return LocalMosquitto(own)
