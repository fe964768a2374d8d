"""A project-local Mosquitto broker with per-device credentials and an ACL from the registry.

Users: ``ingest`` (the server side: reads every v1 topic, writes ``.../config``) and one user
per asset, named by its asset tag, that may only publish its own ``telemetry``, ``status`` and
``events`` and read its own ``config``. Device passwords are derived from a secret kept in
``<data_dir>/secrets`` (HMAC-SHA256 of the asset tag), so a gateway can be provisioned without
storing one password per asset.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from assetwatch.core.settings import Settings
from assetwatch.stack.system import StackError, chown_tree, ensure_mosquitto, service_home

__all__ = ["DeviceIdentity", "LocalMosquitto", "device_password", "server_password"]

_CONF = """\
# Written by assetwatch stack.
per_listener_settings false
allow_anonymous false
password_file {auth_dir}/passwords
acl_file {auth_dir}/acl
persistence true
persistence_location {state_dir}/
autosave_interval 30
pid_file {run_dir}/mosquitto.pid
log_dest file {run_dir}/mosquitto.log
log_type error
log_type warning
max_inflight_messages 1000
set_tcp_nodelay true
max_queued_messages 1000000
max_queued_bytes 0
message_size_limit 2097152
listener {port} {host}
"""

DeviceIdentity = tuple[str, str]  # (site_id, asset_tag)


def _secret(settings: Settings, name: str) -> str:
    path = settings.secrets_dir / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(24) + "\n")
        path.chmod(0o600)
    return path.read_text().strip()


def device_password(settings: Settings, asset_tag: str) -> str:
    """The MQTT password of one device (asset), derived from the stack's device key."""
    key = _secret(settings, "device.key").encode()
    return hmac.new(key, asset_tag.encode(), hashlib.sha256).hexdigest()[:32]


def server_password(settings: Settings) -> str:
    """The password of the server-side MQTT user (``settings.mqtt_username``)."""
    return _secret(settings, f"mqtt-{settings.mqtt_username}.password")


class LocalMosquitto:
    """The broker under ``<data_dir>/mosquitto`` on ``settings.mqtt_port``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = service_home(settings.data_dir.resolve(), "mosquitto", "mosquitto")
        self.auth_dir = self.root / "auth"
        self.state_dir = self.root / "state"
        self.run_dir = self.root / "run"
        self.conf = self.root / "mosquitto.conf"
        self.pid_file = self.run_dir / "mosquitto.pid"

    def status(self) -> str:
        return "running" if self._pid() else "stopped"

    def up(self, devices: Iterable[DeviceIdentity] = ()) -> None:
        """Write config and auth files, then start the broker unless it runs."""
        binary = ensure_mosquitto()
        for d in (self.auth_dir, self.state_dir, self.run_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(_CONF.format(
            auth_dir=self.auth_dir, state_dir=self.state_dir, run_dir=self.run_dir,
            port=self.settings.mqtt_port, host=self.settings.mqtt_host,
        ))
        self.write_auth(devices, reload=False)
        if self._pid():
            self._reload()
            return
        self._check_port_free()
        chown_tree(self.root, "mosquitto")
        done = subprocess.run([str(binary), "-d", "-c", str(self.conf)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise StackError(f"cannot start mosquitto: {done.stderr.strip() or done.stdout.strip()}"
                             f"; see {self.run_dir / 'mosquitto.log'}")
        self._wait_listening()

    def down(self) -> None:
        pid = self._pid()
        if pid:
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                if not self._pid():
                    return
                time.sleep(0.05)

    def write_auth(self, devices: Iterable[DeviceIdentity], *, reload: bool = True) -> None:
        """Add these devices (under ``settings.topic_prefix``) to the broker's users and ACL.

        Devices accumulate in ``auth/devices.tsv`` (prefix, site, asset), so several topic
        prefixes (for example test runs) can share one broker; the password file and ACL are
        regenerated from that list and a running broker is told to reload them.
        """
        self.auth_dir.mkdir(parents=True, exist_ok=True)
        registry = self.auth_dir / "devices.tsv"
        with (self.auth_dir / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            known = set()
            if registry.exists():
                known = {tuple(line.split("\t")) for line in registry.read_text().splitlines()
                         if line.count("\t") == 2}
            known |= {(self.settings.topic_prefix, site, asset) for site, asset in devices}
            registry.write_text("".join(f"{p}\t{s}\t{a}\n" for p, s, a in sorted(known)))
            self._write_files(sorted(known))
        if reload and self._pid():
            self._reload()

    def _write_files(self, devices: list[tuple[str, ...]]) -> None:
        server_user = self.settings.mqtt_username
        lines = [f"{server_user}:{server_password(self.settings)}"]
        acl = [f"user {server_user}", "topic read +/v1/#", "topic write +/v1/+/+/config",
               "topic write +/v1/+/+/receipt", ""]
        by_asset: dict[str, list[str]] = {}
        for prefix, site, asset in devices:
            base = f"{prefix}/v1/{site}/{asset}"
            by_asset.setdefault(asset, []).extend([
                f"topic write {base}/telemetry", f"topic write {base}/status",
                f"topic write {base}/events", f"topic read {base}/config",
                f"topic read {base}/receipt"])
        for asset, topics in by_asset.items():
            lines.append(f"{asset}:{device_password(self.settings, asset)}")
            acl += [f"user {asset}", *topics, ""]
        passwords = self.auth_dir / "passwords"
        passwords.write_text("\n".join(lines) + "\n")
        hashed = subprocess.run(["mosquitto_passwd", "-U", str(passwords)],
                                capture_output=True, text=True)
        if hashed.returncode != 0:
            raise StackError(f"cannot hash the broker password file: {hashed.stderr.strip()}")
        (self.auth_dir / "acl").write_text("\n".join(acl) + "\n")
        for f in (passwords, self.auth_dir / "acl"):
            f.chmod(0o600)
        chown_tree(self.auth_dir, "mosquitto")

    def _reload(self) -> None:
        pid = self._pid()
        if pid:
            os.kill(pid, signal.SIGHUP)
            time.sleep(0.2)

    def _pid(self) -> int | None:
        """The running broker's pid; None when it is not running (a killed broker that
        nobody reaped yet, a zombie, is not running)."""
        try:
            pid = int(self.pid_file.read_text().strip())
            os.kill(pid, 0)
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return None
        except PermissionError:
            return pid
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return None
        except (OSError, IndexError):
            pass
        return pid

    def _check_port_free(self) -> None:
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex((self.settings.mqtt_host, self.settings.mqtt_port)) == 0:
                raise StackError(
                    f"port {self.settings.mqtt_port} is in use by another program; "
                    "choose another with ASSETWATCH_MQTT_PORT"
                )

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                s.settimeout(0.2)
                if s.connect_ex((self.settings.mqtt_host, self.settings.mqtt_port)) == 0:
                    return
            time.sleep(0.05)
        raise StackError(f"mosquitto did not start listening on port {self.settings.mqtt_port}; "
                         f"see {self.run_dir / 'mosquitto.log'}")
