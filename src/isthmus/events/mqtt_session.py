"""The MQTT pieces the ``mqtt`` bus is built from: a client that acknowledges by hand,
and a group's turn — which hub's session reads the group now.

MQTT keeps a QoS 1 message for a *session* until that session acknowledges it, and
hands what was unacknowledged to the next connection of the same session. So a group is
one persistent session (its client id derived from the group), and one connection at a
time may hold it: two at once would take it from each other. The turn is a retained
message on ``isthmus-turn/GROUP`` naming the holder; the holder's session connection has
a will that clears it, so when a hub dies the broker frees the group at once, and the
next hub's connection gets what the dead one held.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from isthmus.events.clients import client_of

if TYPE_CHECKING:
    import aiomqtt

# seconds for the broker to echo a turn taken (and a rival's, if any): ample on a LAN; a
# broker farther away than this from two hubs starting at once could seat both — then
# they take the session from each other until one gives up, and nothing is lost
SETTLE = 0.15
NEVER_EXPIRES = 0xFFFFFFFF  # a group's session lives until the group is forgotten


@dataclass(frozen=True)
class Login:
    """Who the hub is to the broker, from the bus URL."""

    username: str = ""
    password: str = ""
    tls: bool = False


def session_client(
    host: str,
    port: int,
    identifier: str,
    login: Login,
    *,
    keep: bool,
    will: tuple[str, bytes] | None = None,
) -> Any:
    """An aiomqtt client (MQTT 5) that acknowledges messages when told to, with each
    message's DUP flag kept (aiomqtt 2.5 exposes neither; paho underneath has both).
    ``keep``: resume the persistent session of ``identifier`` (or clear it)."""
    mqtt = client_of("mqtt")
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    class Session(mqtt.Client):  # type: ignore[misc, name-defined]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._client.manual_ack_set(True)
            self.dup: dict[int, bool] = {}

        def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
            self.dup[message.mid] = bool(message.dup)
            super()._on_message(client, userdata, message)

        def ack(self, mid: int) -> None:
            self._client.ack(mid, 1)

    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = NEVER_EXPIRES if keep else 0
    properties.ReceiveMaximum = 256
    last_will = mqtt.Will(will[0], will[1], qos=1, retain=True) if will else None
    return Session(
        host,
        port,
        identifier=identifier,
        protocol=mqtt.ProtocolVersion.V5,
        clean_start=not keep,
        properties=properties,
        will=last_will,
        keepalive=10,
        username=login.username or None,
        password=login.password or None,
        tls_context=ssl.create_default_context() if login.tls else None,
    )


class Turns:
    """Which hub holds each group's session: retained messages on ``isthmus-turn/#``,
    read through the bus's control connection."""

    def __init__(self, control: aiomqtt.Client) -> None:
        self._control = control
        self._holders: dict[str, bytes] = {}
        self._changed = asyncio.Event()

    async def start(self) -> None:
        await self._control.subscribe("isthmus-turn/#", qos=1)
        await asyncio.sleep(SETTLE)  # the retained turns arrive right after the SUBACK

    def seen(self, topic: str, payload: bytes) -> None:
        """A turn message arrived (the bus's reader hands them here)."""
        self._holders[topic] = payload
        self._changed.set()

    async def take(self, topic: str, wait: bool) -> bytes | None:
        """Take the turn on ``topic``: the holder's token, or None when another hub holds
        it and ``wait`` is false."""
        while True:
            if not self._holders.get(topic):
                token = uuid.uuid4().hex.encode()
                await self._control.publish(topic, token, qos=1, retain=True)
                await asyncio.sleep(SETTLE)  # a rival's take, if any, is seen by now
                if self._holders.get(topic) == token:
                    return token
            if not wait:
                return None
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), 1.0)

    async def give_back(self, topic: str, token: bytes) -> None:
        if self._holders.get(topic) == token:
            await self._control.publish(topic, b"", qos=1, retain=True)
