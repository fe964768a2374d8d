"""Which Mosquitto broker the local stack runs: Debian's package, the project's build, or a path.

``ASSETWATCH_MOSQUITTO`` chooses:

- ``current`` (the default): Mosquitto :data:`CURRENT_SERIES` built from Debian's own source
  package by ``install_mosquitto.sh`` into ``/opt/assetwatch/mosquitto-<version>``; built
  when missing (needs root and about a minute and a half, as TimescaleDB);
- ``debian``: the machine's package (Debian 12: 2.0.11), installed when missing;
- a path to a ``mosquitto`` binary; its plugins are looked up next to it (``../lib``).

Why the current release is the default (docs/architecture.md, "The broker", has the
figures): Debian 12's 2.0.11 lacks five years of fixes, among them "$share subscriptions not
being recovered for durable clients that reconnect" (2.0.12), inflight quota management
(2.0.13), a crash on subscribe (2.0.18) and mismatched normal/shared unsubscribes (2.0.19);
its only persistence rewrites the whole state file on every save, while 2.1's persist-sqlite
plugin writes each change as it happens.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from assetwatch.stack.system import StackError, apt_install

__all__ = ["CURRENT_SERIES", "MosquittoBuild", "find_mosquitto"]

CURRENT_SERIES = "2.1"
CURRENT_VERSION = "2.1.2"
PREFIX_ROOT = Path(os.environ.get("ASSETWATCH_MOSQUITTO_PREFIX_ROOT", "/opt/assetwatch"))
_VERSION = re.compile(r"mosquitto version (\d+)\.(\d+)\.(\d+)")


@dataclass(frozen=True)
class MosquittoBuild:
    """One broker binary, its version and where its plugins are."""

    binary: Path
    version: tuple[int, int, int]
    plugin_dir: Path

    @property
    def name(self) -> str:
        return "Mosquitto " + ".".join(map(str, self.version))

    def plugin(self, name: str) -> Path:
        """Path of plugin ``name`` (``dynamic_security``, ``persist_sqlite``)."""
        path = self.plugin_dir / f"mosquitto_{name}.so"
        if not path.exists():
            raise StackError(f"{self.name} at {self.binary} has no {name} plugin "
                             f"(looked for {path})")
        return path

    @property
    def sqlite_persistence(self) -> bool:
        """Whether this broker persists with the persist-sqlite plugin (2.1 and later)."""
        return self.version >= (2, 1, 0) and (
            self.plugin_dir / "mosquitto_persist_sqlite.so").exists()


def find_mosquitto(choice: str, *, install: bool = True) -> MosquittoBuild:
    """The broker that ``choice`` (``current``, ``debian`` or a path) names.

    Installs or builds it when missing and ``install`` is true; raises :class:`StackError`
    with one line saying what to do otherwise.
    """
    if choice == "debian":
        return _describe(_debian_binary(install))
    if choice == "current":
        return _describe(_current_binary(install))
    path = Path(choice)
    if not path.is_file() or not os.access(path, os.X_OK):
        raise StackError(f"ASSETWATCH_MOSQUITTO: {choice} is not 'current', 'debian' or an "
                         "executable mosquitto binary")
    return _describe(path)


def _debian_binary(install: bool) -> Path:
    for candidate in ("/usr/sbin/mosquitto", shutil.which("mosquitto")):
        if candidate and Path(candidate).exists():
            return Path(candidate)
    if not install:
        raise StackError("Debian's mosquitto is not installed (apt-get install mosquitto)")
    apt_install("mosquitto")
    if Path("/usr/sbin/mosquitto").exists():
        return Path("/usr/sbin/mosquitto")
    raise StackError("mosquitto not found after installing it")


def _installed_current() -> Path | None:
    found = [p for p in PREFIX_ROOT.glob(f"mosquitto-{CURRENT_SERIES}.*/sbin/mosquitto")
             if os.access(p, os.X_OK)]
    key = lambda p: tuple(int(x) for x in re.findall(r"\d+", p.parent.parent.name))  # noqa: E731
    return max(found, key=key) if found else None


def _current_binary(install: bool) -> Path:
    binary = _installed_current()
    if binary:
        return binary
    hint = "or set ASSETWATCH_MOSQUITTO=debian"
    if not install:
        raise StackError(f"Mosquitto {CURRENT_SERIES} is not built in {PREFIX_ROOT}; run "
                         f"'assetwatch stack up' as root {hint}")
    script = resources.files("assetwatch.stack").joinpath("install_mosquitto.sh")
    env = {**os.environ, "MOSQUITTO_SERIES": CURRENT_SERIES, "MOSQUITTO_VERSION": CURRENT_VERSION,
           "MOSQUITTO_PREFIX_ROOT": str(PREFIX_ROOT)}
    done = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True)
    binary = _installed_current()
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["unknown error"])[-1]
        tail = tail.removeprefix("[mosquitto] ")
        raise StackError(f"cannot build Mosquitto {CURRENT_SERIES}: {tail}"
                         + ("" if "ASSETWATCH_MOSQUITTO" in tail else f" ({hint})"))
    if binary is None:
        raise StackError(f"cannot build Mosquitto {CURRENT_SERIES}: the build ended without "
                         f"{PREFIX_ROOT}/mosquitto-{CURRENT_SERIES}.*/sbin/mosquitto ({hint})")
    return binary


def _plugin_dir(binary: Path) -> Path:
    prefix = binary.resolve().parent.parent
    candidates = [prefix / "lib", *sorted(prefix.glob("lib/*-linux-gnu*")),
                  *sorted(Path("/usr/lib").glob("*-linux-gnu*")), Path("/usr/lib")]
    for d in candidates:
        if (d / "mosquitto_dynamic_security.so").exists():
            return d
    return prefix / "lib"


@cache
def _describe(binary: Path) -> MosquittoBuild:
    try:
        done = subprocess.run([str(binary), "-h"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise StackError(f"cannot run {binary}: {e}") from None
    found = _VERSION.search(done.stdout + done.stderr)
    if not found:
        raise StackError(f"{binary} does not say which mosquitto version it is")
    version = (int(found[1]), int(found[2]), int(found[3]))
    return MosquittoBuild(binary, version, _plugin_dir(binary))
