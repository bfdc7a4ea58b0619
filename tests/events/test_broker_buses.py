"""The broker buses pass the bus contract against the real RabbitMQ, NATS JetStream,
Redis and Mosquitto on loopback (a stopped broker fails with the command that starts
it). The MQTT bus runs against a Mosquitto of its own, started from the installed
binary with the settings docs/events.md asks of an MQTT broker (persistence, no cap on
a session's queue) — the machine's Mosquitto keeps the default cap of 1,000."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from isthmus.events.base import BusType
from isthmus.events.registry import bus_type
from isthmus.testing.buses import BusContract
from tests.helpers import free_port
from tests.services import unavailable

BROKERS = {
    "rabbitmq": ("RabbitMQ", 5672, {"url": "amqp://guest:guest@127.0.0.1:5672/"}),
    "nats": ("NATS", 4222, {"url": "nats://127.0.0.1:4222", "redeliverAfterSeconds": 1.0}),
    "redis": ("Redis", 6379, {"url": "redis://127.0.0.1:6379/0", "redeliverAfterSeconds": 1.0}),
}


def reachable(name: str) -> Mapping[str, Any]:
    service, port, config = BROKERS[name]
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError as exc:
        unavailable(service, exc)
    return config


class TestRabbitMqBus(BusContract):
    @pytest.fixture
    def bus_type(self) -> BusType:  # type: ignore[override]
        return bus_type("rabbitmq")

    @pytest.fixture
    def bus_config(self) -> Mapping[str, Any]:  # type: ignore[override]
        return reachable("rabbitmq")


class TestNatsBus(BusContract):
    @pytest.fixture
    def bus_type(self) -> BusType:  # type: ignore[override]
        return bus_type("nats")

    @pytest.fixture
    def bus_config(self) -> Mapping[str, Any]:  # type: ignore[override]
        return reachable("nats")


class TestRedisBus(BusContract):
    @pytest.fixture
    def bus_type(self) -> BusType:  # type: ignore[override]
        return bus_type("redis")

    @pytest.fixture
    def bus_config(self) -> Mapping[str, Any]:  # type: ignore[override]
        return reachable("redis")


MOSQUITTO_CONF = """\
listener {port} 127.0.0.1
allow_anonymous true
persistence true
persistence_location {data}/
max_queued_messages 0
"""


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Mosquitto configured as the MQTT bus needs; its URL."""
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        unavailable("Mosquitto", "the mosquitto binary is not installed")
    data = tmp_path_factory.mktemp("mosquitto")
    port = free_port()
    conf = data / "mosquitto.conf"
    conf.write_text(MOSQUITTO_CONF.format(port=port, data=data))
    broker = subprocess.Popen(
        [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError as exc:
            if time.monotonic() > deadline or broker.poll() is not None:
                broker.kill()
                unavailable("Mosquitto", exc)
            time.sleep(0.05)
    yield f"mqtt://127.0.0.1:{port}"
    broker.terminate()
    broker.wait(10)


class TestMqttBus(BusContract):
    @pytest.fixture
    def bus_type(self) -> BusType:  # type: ignore[override]
        return bus_type("mqtt")

    @pytest.fixture
    def bus_config(self, mosquitto: str) -> Mapping[str, Any]:  # type: ignore[override]
        # with a login, as a broker that checks one is given it (this one lets anyone in)
        return {"url": mosquitto.replace("mqtt://", "mqtt://hub:s%40cret@")}


def test_the_mqtt_bus_names_the_urls_it_takes() -> None:
    from isthmus.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"takes mqtt:// or mqtts:// URLs, not tcp://"):
        bus_type("mqtt").open({"url": "tcp://127.0.0.1:1883"})
    secure = bus_type("mqtt").open({"url": "mqtts://hub:p%40ss@broker.example.com"})
    assert (secure.port, secure.login.password, secure.login.tls) == (8883, "p@ss", True)  # type: ignore[attr-defined]


async def test_a_rabbitmq_consumer_the_broker_cancels_ends_instead_of_waiting() -> None:
    """Deleting a group's queue from under its consumer (an operator, a policy): the
    broker cancels the consumer, and consuming ends with an error — a Subscription's
    worker then consumes again — rather than waiting for messages that cannot come."""
    import asyncio
    import secrets

    topic = f"contract.{secrets.token_hex(4)}"
    async with bus_type("rabbitmq").open(reachable("rabbitmq")) as bus:
        await bus.declare(topic, "billing")
        consumer = bus.consume(topic, "billing")
        waiting = asyncio.ensure_future(consumer.__anext__())
        await asyncio.sleep(0.5)
        await bus.forget(topic, "billing")  # the queue goes
        with pytest.raises(ConnectionError, match="cancelled the consumer"):
            await asyncio.wait_for(waiting, 10)
        await consumer.aclose()  # type: ignore[attr-defined]
