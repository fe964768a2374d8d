"""Who may do what on the broker: users, passwords and access rules, as one document.

The rules (one home for them; the local stack and the compose deployment both use this):

- a **device** (MQTT user = its asset tag) may publish only its own
  ``<prefix>/v1/<site>/<asset>/{telemetry,status,events}``, and subscribe to and receive
  only its own server-to-device topics ``.../config`` and ``.../receipt``. Any other
  subscription, including ``#``, another device's topics and the ingest group's
  ``$share/...`` filters, is refused in the SUBACK (reason 0x87, not authorised);
- the **server** user (``settings.mqtt_username``, default ``ingest``) may subscribe to
  ``+/v1/#`` and to the shared-subscription filters
  ``$share/<any group>/+/v1/+/+/{telemetry,status,events}``, receive every ``+/v1/#``
  message, and publish only ``+/v1/+/+/config`` and ``+/v1/+/+/receipt``;
- the **admin** user (:data:`ADMIN_USER`, password in ``<data_dir>/secrets``) may only use
  the dynamic-security API ``$CONTROL/dynamic-security/v1``, to add devices to a running
  broker;
- everything else is denied (no anonymous clients).

Mosquitto's file ACL (2.0) checks reads and writes but not subscriptions, so a device could
join the ingest group and starve it; the rules are therefore enforced by Mosquitto's
dynamic-security plugin, which checks subscriptions too. It sees a shared subscription as
the whole filter ``$share/<group>/<filter>`` (2.0.11 to 2.1.2 alike), so the server's
shared filters are allowed by name and nobody else's are.

:func:`dynsec_document` renders the plugin's configuration file (passwords hashed as the
plugin does: PBKDF2-SHA512, 101 iterations, 12-byte salt, readable by 2.0 and 2.1);
:func:`device_roles_commands` renders the same rules as API commands for a running broker.
Device passwords derive from a secret kept in ``<data_dir>/secrets`` (HMAC-SHA256 of the
asset tag), so a gateway can be provisioned without storing one password per asset. This
module uses the standard library only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable
from typing import Any

from assetwatch.core.settings import Settings

__all__ = [
    "ADMIN_USER",
    "DEVICE_PUBLISHES",
    "DEVICE_RECEIVES",
    "RegistryEntry",
    "admin_password",
    "device_password",
    "device_role",
    "device_roles_commands",
    "dynsec_document",
    "server_password",
]

ADMIN_USER = "assetwatch-admin"
#: What a device publishes (device to server) and receives (server to device).
DEVICE_PUBLISHES = ("telemetry", "status", "events")
DEVICE_RECEIVES = ("config", "receipt")
_INGESTED = DEVICE_PUBLISHES
_ITERATIONS = 101

RegistryEntry = tuple[str, str, str]  # (topic prefix, site, asset tag)


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


def admin_password(settings: Settings) -> str:
    """The password of :data:`ADMIN_USER`, the dynamic-security API user."""
    return _secret(settings, "mqtt-admin.password")


def device_role(asset_tag: str) -> str:
    return f"device:{asset_tag}"


def _acl(acltype: str, topic: str) -> dict[str, Any]:
    return {"acltype": acltype, "topic": topic, "priority": 0, "allow": True}


def _device_acls(prefix: str, site: str, asset: str) -> list[dict[str, Any]]:
    base = f"{prefix}/v1/{site}/{asset}"
    acls = [_acl("publishClientSend", f"{base}/{kind}") for kind in DEVICE_PUBLISHES]
    for kind in DEVICE_RECEIVES:
        acls += [_acl("subscribeLiteral", f"{base}/{kind}"),
                 _acl("publishClientReceive", f"{base}/{kind}")]
    return acls


def _server_acls() -> list[dict[str, Any]]:
    return [
        _acl("subscribePattern", "+/v1/#"),
        *(_acl("subscribePattern", f"$share/+/+/v1/+/+/{kind}") for kind in _INGESTED),
        _acl("publishClientReceive", "+/v1/#"),
        *(_acl("publishClientSend", f"+/v1/+/+/{kind}") for kind in DEVICE_RECEIVES),
    ]


def _admin_acls() -> list[dict[str, Any]]:
    topic = "$CONTROL/dynamic-security/#"
    return [_acl(kind, topic) for kind in
            ("publishClientSend", "publishClientReceive", "subscribePattern")]


def _hashed(password: str) -> dict[str, Any]:
    salt = os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _ITERATIONS)
    return {"password": base64.b64encode(digest).decode(), "salt": base64.b64encode(salt).decode(),
            "iterations": _ITERATIONS}


def _client(username: str, password: str, role: str) -> dict[str, Any]:
    return {"username": username, **_hashed(password), "roles": [{"rolename": role}]}


def dynsec_document(settings: Settings, registry: Iterable[RegistryEntry]) -> dict[str, Any]:
    """The dynamic-security configuration for the server, the admin and these devices."""
    by_asset: dict[str, list[dict[str, Any]]] = {}
    for prefix, site, asset in sorted(set(registry)):
        by_asset.setdefault(asset, []).extend(_device_acls(prefix, site, asset))
    server = settings.mqtt_username
    roles: list[dict[str, Any]] = [{"rolename": "assetwatch-admin", "acls": _admin_acls()},
                                   {"rolename": "assetwatch-server", "acls": _server_acls()}]
    clients = [_client(ADMIN_USER, admin_password(settings), "assetwatch-admin"),
               _client(server, server_password(settings), "assetwatch-server")]
    for asset, acls in by_asset.items():
        roles.append({"rolename": device_role(asset), "allowwildcardsubs": False, "acls": acls})
        clients.append(_client(asset, device_password(settings, asset), device_role(asset)))
    default_access: dict[str, bool] = {"publishClientSend": False, "publishClientReceive": False,
                                       "subscribe": False, "unsubscribe": True}
    return {
        "defaultACLAccess": default_access,
        "clients": clients,
        "groups": [],
        "roles": roles,
    }


def device_roles_commands(settings: Settings, entries: Iterable[RegistryEntry]
                          ) -> list[dict[str, Any]]:
    """The dynamic-security API commands that give a running broker these devices.

    Each asset gets its role and client (the caller ignores "already exists" for assets the
    broker knows from another prefix or an earlier call) and the ACLs of its (prefix, site).
    """
    commands: list[dict[str, Any]] = []
    for prefix, site, asset in sorted(set(entries)):
        role = device_role(asset)
        commands.append({"command": "createRole", "rolename": role, "allowwildcardsubs": False})
        commands += [{"command": "addRoleACL", "rolename": role, **acl}
                     for acl in _device_acls(prefix, site, asset)]
        commands.append({"command": "createClient", "username": asset,
                         "password": device_password(settings, asset),
                         "roles": [{"rolename": role}]})
    return commands
