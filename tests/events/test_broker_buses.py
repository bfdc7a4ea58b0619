"""The broker buses pass the bus contract against the real RabbitMQ, NATS JetStream and
Redis on loopback (a stopped broker fails with the command that starts it)."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import Any

import pytest

from isthmus.events.base import BusType
from isthmus.events.registry import bus_type
from isthmus.testing.buses import BusContract
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
