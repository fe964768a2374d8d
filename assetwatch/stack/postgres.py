"""A project-local PostgreSQL cluster with TimescaleDB preloaded."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from assetwatch.core.settings import Settings
from assetwatch.stack.system import (
    StackError,
    as_service_user,
    chown_tree,
    ensure_postgres,
    ensure_timescaledb,
    service_home,
)

__all__ = ["LocalPostgres"]

_CONF = """\
# Written by assetwatch stack; local development and test cluster.
listen_addresses = '{host}'
port = {port}
unix_socket_directories = '{socket_dir}'
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = off
max_connections = 200
shared_buffers = 512MB
work_mem = 32MB
maintenance_work_mem = 256MB
wal_level = minimal
max_wal_senders = 0
max_wal_size = 4GB
synchronous_commit = on
fsync = on
log_min_messages = warning
"""

_HBA = """\
# Written by assetwatch stack: trust on loopback and the cluster's own socket only.
local all all trust
host  all all 127.0.0.1/32 trust
host  all all ::1/128 trust
"""


class LocalPostgres:
    """The cluster under ``<data_dir>/postgres``, listening where ``settings.db_url`` points."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        url = urlsplit(settings.db_url)
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or 5432
        self.user = url.username or "assetwatch"
        self.database = (url.path or "/assetwatch").lstrip("/") or "assetwatch"
        self.root = service_home(settings.data_dir.resolve(), "postgres", "postgres")
        self.pgdata = self.root / "data"
        self.socket_dir = self.root / "run"
        self.logfile = self.root / "postgres.log"

    def status(self) -> str:
        if not (self.pgdata / "PG_VERSION").exists():
            return "not initialised"
        return "running" if self._running() else "stopped"

    def up(self) -> None:
        """Install what is missing, initialise the cluster once, start it, create the database."""
        bin_dir = ensure_postgres()
        ensure_timescaledb(bin_dir)
        if not self._running():
            self._check_port_free()
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb(bin_dir)
        if not self._running():
            self._run(bin_dir, ["pg_ctl", "-D", str(self.pgdata), "-l", str(self.logfile),
                                "-w", "-t", "60", "start"], "start PostgreSQL")
        self._create_role_and_database(bin_dir)

    def down(self) -> None:
        if self._running():
            self._run(ensure_postgres(), ["pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w",
                                          "stop"], "stop PostgreSQL")

    def _initdb(self, bin_dir: Path) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        chown_tree(self.root, "postgres")
        self._run(bin_dir, ["initdb", "-D", str(self.pgdata), "-U", "postgres", "-E", "UTF8",
                            "--locale=C.UTF-8", "-A", "trust"], "initialise the cluster")
        conf = _CONF.format(host=self.host, port=self.port, socket_dir=self.socket_dir)
        (self.pgdata / "conf.d").mkdir(exist_ok=True)
        with (self.pgdata / "postgresql.conf").open("a") as f:
            f.write("\ninclude_dir = 'conf.d'\n")
        (self.pgdata / "conf.d" / "assetwatch.conf").write_text(conf)
        (self.pgdata / "pg_hba.conf").write_text(_HBA)
        chown_tree(self.root, "postgres")

    def _create_role_and_database(self, bin_dir: Path) -> None:
        psql = ["psql", "-h", str(self.socket_dir), "-p", str(self.port), "-U", "postgres",
                "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qAt", "-c"]
        role = self._run(bin_dir, [*psql, f"SELECT 1 FROM pg_roles WHERE rolname = '{self.user}'"],
                         "look up the database role")
        if not role.strip():
            self._run(bin_dir, [*psql, f'CREATE ROLE "{self.user}" LOGIN SUPERUSER'],
                      "create the database role")
        have = self._run(bin_dir, [*psql, f"SELECT 1 FROM pg_database WHERE datname = "
                                          f"'{self.database}'"], "look up the database")
        if not have.strip():
            self._run(bin_dir, [*psql, f'CREATE DATABASE "{self.database}" OWNER "{self.user}"'],
                      "create the database")

    def _running(self) -> bool:
        pid_file = self.pgdata / "postmaster.pid"
        if not pid_file.exists():
            return False
        try:
            pid = int(pid_file.read_text().splitlines()[0])
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            return state != "Z"  # a killed postmaster nobody reaped yet is not running
        except (ValueError, IndexError, FileNotFoundError, PermissionError):
            return False

    def _check_port_free(self) -> None:
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex((self.host, self.port)) == 0:
                raise StackError(
                    f"port {self.port} on {self.host} is in use by another program; "
                    "choose another port in ASSETWATCH_DB_URL"
                )

    def _run(self, bin_dir: Path, argv: list[str], what: str) -> str:
        cmd = as_service_user("postgres", [str(bin_dir / argv[0]), *argv[1:]])
        done = subprocess.run(cmd, capture_output=True, text=True, cwd="/")
        if done.returncode != 0:
            detail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or ["?"]
            hint = f"; see {self.logfile}" if what.startswith("start") else ""
            raise StackError(f"cannot {what}: {detail[0]}{hint}")
        return done.stdout
