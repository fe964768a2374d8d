"""Device passwords for the agent's MQTT links (standard library only).

A gateway knows the passwords of the assets it serves from one of:

* a mapping given in code or in the agent configuration (``"passwords": {tag: password}``);
* a password file: ``asset_tag:password`` per line (``#`` comments), or a JSON object;
* the local stack's device key (``<ASSETWATCH_DATA_DIR or .assetwatch>/secrets/device.key``):
  the password is HMAC-SHA256(key, asset_tag) in hex, first 32 characters, the same
  derivation as the broker's password file (``assetwatch.stack.mosquitto.device_password``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterable
from pathlib import Path

from assetwatch.edge_agent.errors import AgentConfigError

__all__ = ["derived_passwords", "local_device_key_path", "read_password_file"]


def local_device_key_path() -> Path:
    """Where the local stack keeps its device key."""
    return Path(os.environ.get("ASSETWATCH_DATA_DIR", ".assetwatch")) / "secrets" / "device.key"


def derived_passwords(asset_tags: Iterable[str], key_path: Path | None = None) -> dict[str, str]:
    """Passwords derived from a device key file (see the module docstring)."""
    path = key_path or local_device_key_path()
    try:
        key = path.read_text().strip().encode()
    except OSError as e:
        raise AgentConfigError(f"cannot read the device key {path} ({e.strerror}); give a "
                               "password file instead") from None
    return {tag: hmac.new(key, tag.encode(), hashlib.sha256).hexdigest()[:32]
            for tag in asset_tags}


def read_password_file(path: Path) -> dict[str, str]:
    """``asset_tag -> password`` from a ``tag:password`` lines file or a JSON object."""
    try:
        text = path.read_text()
    except OSError as e:
        raise AgentConfigError(f"cannot read the password file {path} ({e.strerror})") from None
    if text.lstrip().startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError as e:
            raise AgentConfigError(f"{path}: not valid JSON ({e})") from None
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in doc.items()):
            raise AgentConfigError(f"{path}: must map asset tags to password strings")
        return dict(doc)
    passwords = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        tag, sep, password = line.partition(":")
        if not sep or not tag:
            raise AgentConfigError(f"{path}:{n}: expected asset_tag:password")
        passwords[tag.strip()] = password.strip()
    return passwords
