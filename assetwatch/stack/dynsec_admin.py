"""The dynamic-security API of a running broker, used to add devices without a restart.

Commands go as JSON to ``$CONTROL/dynamic-security/v1`` with the admin user's credentials;
the plugin answers on ``$CONTROL/dynamic-security/v1/response`` and saves its configuration
file itself. A batch of commands is one message; every command carries a correlation id, so
each answer is matched to its command, and an answer with an error other than "already
exists" fails the call.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from assetwatch.core.settings import Settings
from assetwatch.stack.broker_access import ADMIN_USER, admin_password
from assetwatch.stack.system import StackError

__all__ = ["DynsecAdmin"]

_TOPIC = "$CONTROL/dynamic-security/v1"
_RESPONSES = f"{_TOPIC}/response"
#: Commands per message: well below the broker's message size limit.
_BATCH = 400


class DynsecAdmin:
    """A context manager: a connection of the admin user to the broker's API.

    ``connect_timeout_s`` covers a broker that is just starting (connections are retried
    until then); every batch of commands must be answered within ``timeout_s``.
    """

    def __init__(self, settings: Settings, *, connect_timeout_s: float = 10.0,
                 timeout_s: float = 30.0) -> None:
        self.settings = settings
        self.connect_timeout_s = connect_timeout_s
        self.timeout_s = timeout_s
        self._answers: dict[str, dict[str, Any]] = {}
        self._changed = threading.Condition()
        self._client: Any = None

    @property
    def _where(self) -> str:
        return f"{self.settings.mqtt_host}:{self.settings.mqtt_port}"

    def __enter__(self) -> DynsecAdmin:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        client.username_pw_set(ADMIN_USER, admin_password(self.settings))
        events: dict[str, Any] = {}
        ready = threading.Event()

        def on_connect(c: Any, u: Any, flags: Any, rc: Any, props: Any) -> None:
            events["connect"] = rc
            if rc.is_failure:
                ready.set()

        def on_subscribe(c: Any, u: Any, mid: int, codes: Any, props: Any) -> None:
            events["subscribe"] = codes
            ready.set()

        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_message = self._on_message
        deadline = time.monotonic() + self.connect_timeout_s
        while True:
            try:
                client.connect(self.settings.mqtt_host, self.settings.mqtt_port, keepalive=30)
                break
            except OSError as e:
                if time.monotonic() > deadline:
                    raise StackError(f"cannot reach the broker's admin API at {self._where}: "
                                     f"{e.strerror or e}") from None
                time.sleep(0.1)
        client.loop_start()
        self._client = client
        client.subscribe(_RESPONSES, qos=1)
        if not ready.wait(max(1.0, deadline - time.monotonic())):
            self.__exit__(None, None, None)
            raise StackError(f"the broker's admin API at {self._where} did not answer")
        connected = events.get("connect")
        refused = connected is not None and connected.is_failure
        if refused or any(rc.is_failure for rc in events.get("subscribe", ())):
            self.__exit__(None, None, None)
            why = connected if refused else "subscription refused"
            raise StackError(f"the broker at {self._where} refused the admin user {ADMIN_USER!r}"
                             f" ({why}); its dynamic-security file is not the stack's")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        try:
            answers = json.loads(msg.payload)["responses"]
        except (ValueError, KeyError, TypeError):
            return
        with self._changed:
            for answer in answers:
                if isinstance(answer, dict) and "correlationData" in answer:
                    self._answers[str(answer["correlationData"])] = answer
            self._changed.notify_all()

    def run(self, commands: list[dict[str, Any]]) -> None:
        """Send ``commands`` in batches; raise :class:`StackError` on the first real error."""
        for start in range(0, len(commands), _BATCH):
            self._run_batch(commands[start:start + _BATCH], start)

    def _run_batch(self, batch: list[dict[str, Any]], offset: int) -> None:
        stamp = f"{time.monotonic_ns():x}"
        ids = [f"{stamp}-{offset + i}" for i in range(len(batch))]
        payload = json.dumps({"commands": [dict(c, correlationData=i)
                                           for c, i in zip(batch, ids, strict=True)]})
        self._client.publish(_TOPIC, payload, qos=1)
        deadline = time.monotonic() + self.timeout_s
        with self._changed:
            while not all(i in self._answers for i in ids):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StackError(f"the broker at {self._where} did not answer "
                                     f"{len(batch)} dynamic-security command(s) in "
                                     f"{self.timeout_s:.0f} s")
                self._changed.wait(left)
            answers = [self._answers.pop(i) for i in ids]
        for command, answer in zip(batch, answers, strict=True):
            error = answer.get("error")
            if error and "already exists" not in str(error):
                raise StackError(f"the broker refused {command['command']} "
                                 f"{command.get('username') or command.get('rolename')}: "
                                 f"{error}")
