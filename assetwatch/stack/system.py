"""Finding and installing what the local services need, with the machine's package manager.

Which Mosquitto runs is chosen in :mod:`assetwatch.stack.broker_build`.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import subprocess
from importlib import resources
from pathlib import Path

from assetwatch.errors import AssetwatchError

__all__ = [
    "StackError",
    "apt_install",
    "as_service_user",
    "chown_tree",
    "ensure_postgres",
    "ensure_timescaledb",
    "service_home",
]


class StackError(AssetwatchError):
    """A local service cannot be installed, started or stopped."""

    exit_code = 3


def _is_root() -> bool:
    return os.geteuid() == 0


def apt_install(*packages: str) -> None:
    if not shutil.which("apt-get"):
        raise StackError(f"please install {' '.join(packages)} (no apt-get on this machine)")
    if not _is_root():
        raise StackError(f"please install {' '.join(packages)} (installing needs root)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, capture_output=True)
    done = subprocess.run(["apt-get", "install", "-y", "-qq", *packages], env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise StackError(f"apt-get install {' '.join(packages)} failed: "
                         f"{done.stderr.strip().splitlines()[-1:]}")


def ensure_postgres() -> Path:
    """The bin directory of the newest installed PostgreSQL server, installing 15 if none."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if not found:
        apt_install("postgresql-15")
        found = list(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        if not found:
            raise StackError("PostgreSQL server binaries not found after installing postgresql-15")
    return found[-1].parent


def ensure_timescaledb(pg_bin: Path) -> None:
    """Install TimescaleDB for this PostgreSQL: a package if one exists, else a source build."""
    pg_config = pg_bin / "pg_config"
    sharedir = subprocess.run([str(pg_config), "--sharedir"], capture_output=True, text=True)
    if sharedir.returncode == 0 and (
        Path(sharedir.stdout.strip()) / "extension" / "timescaledb.control"
    ).exists():
        return
    script = resources.files("assetwatch.stack").joinpath("install_timescaledb.sh")
    env = {**os.environ, "PG_CONFIG": str(pg_config), "PG_MAJOR": pg_bin.parent.name}
    done = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise StackError(f"cannot install TimescaleDB for PostgreSQL {pg_bin.parent.name}: {tail}")


def as_service_user(user: str, argv: list[str]) -> list[str]:
    """Wrap ``argv`` to run as ``user`` when we are root (PostgreSQL refuses to run as root)."""
    if not _is_root():
        return argv
    try:
        pwd.getpwnam(user)
    except KeyError:
        raise StackError(f"user {user!r} does not exist; install the server package") from None
    return ["runuser", "-u", user, "--", *argv]


def chown_tree(path: Path, user: str) -> None:
    """Give ``path`` and everything below it to ``user`` (only when we are root)."""
    if not _is_root():
        return
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def service_home(data_dir: Path, name: str, user: str) -> Path:
    """Where a local server keeps its files: ``<data_dir>/<name>``, if ``user`` can reach it.

    Servers started as root drop to their own user (``postgres``, ``mosquitto``); a data
    directory below a folder that user may not enter (a private home or CI workspace) would
    make them fail, so their files then live in ``/var/lib/assetwatch/<hash>/<name>``.
    """
    preferred = data_dir / name
    if not _is_root():
        return preferred
    probe = data_dir if data_dir.exists() else data_dir.parent
    reachable = subprocess.run(as_service_user(user, ["test", "-x", str(probe)]),
                               capture_output=True).returncode == 0
    if reachable:
        return preferred
    digest = hashlib.sha1(str(data_dir).encode()).hexdigest()[:12]
    return Path("/var/lib/assetwatch") / digest / name
