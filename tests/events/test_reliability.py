"""On every bus, ten thousand sequence-numbered events reach an idempotent sink through
a real hub process while that process is killed with SIGKILL and started again, and
(the brokers) while its broker connection is cut. The sink's ledger shows
every event's side effect exactly once — no event missing, none applied twice — and the
one poison event lands in the dead letters after its retries while the rest keep
flowing.

The sink applies an event's side effect once per ``webhook-id``, as an idempotent
receiver should; were the id not stable across redeliveries, a redelivered event would
be applied twice and the ledger would show it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
from aiohttp import web

from isthmus.events.base import Bus, Message
from isthmus.events.registry import bus_type
from isthmus.events.webhooks import SignatureRefused, new_secret, verify
from isthmus.store import Store
from tests.connectors.fakes.common import running as serving
from tests.e2e.proc import Process, isthmus, serve_args
from tests.events.proxy import Proxy
from tests.events.test_broker_buses import mosquitto, reachable
from tests.helpers import free_port

EVENTS = 10_000
POISON = 4_242
WINDOW = 1_000  # events published ahead of the sink: publishing goes on through the faults
SECRET = new_secret()


@dataclass
class Ledger:
    """The idempotent sink: each webhook-id's side effect once; poison always fails."""

    applied: Counter[int] = field(default_factory=Counter)  # side effects per sequence number
    ids: set[str] = field(default_factory=set)
    posts: int = 0  # every delivery, redeliveries included
    poison_attempts: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            verify(SECRET, dict(request.headers), body)
        except SignatureRefused:
            return web.Response(status=401)
        self.posts += 1
        seq = orjson.loads(body)["data"]["seq"]
        if seq == POISON:
            self.poison_attempts += 1
            return web.Response(status=500, text="cannot take this one")
        webhook_id = request.headers["webhook-id"]
        if webhook_id not in self.ids:
            self.ids.add(webhook_id)
            self.applied[seq] += 1
        return web.Response(status=204)


@pytest.fixture
async def ledger() -> AsyncIterator[tuple[Ledger, str]]:
    state = Ledger()
    app = web.Application()
    app.router.add_post("/ledger", state.handle)
    async with serving(app) as url:
        yield state, url + "/ledger"


def project(event_type: str, sink: str) -> str:
    resources: list[dict[str, Any]] = [
        {
            "kind": "EventType",
            "metadata": {"name": event_type, "owner": "finance", "description": "A ledger entry."},
            "spec": {
                "type": "com.example.ledger.entry",
                "versions": [
                    {
                        "version": 1,
                        "schema": {
                            "type": "object",
                            "required": ["seq"],
                            "properties": {"seq": {"type": "integer"}},
                        },
                    }
                ],
            },
        },
        {
            "kind": "Subscription",
            "metadata": {"name": "sink", "environment": "sandbox", "owner": "finance"},
            "spec": {
                "eventType": event_type,
                "webhook": {"url": sink, "secret": "secret://sink", "allowPrivateNetwork": True},
                "retry": {"maxAttempts": 3, "initialDelaySeconds": 0.05, "maxDelaySeconds": 0.2},
            },
        },
    ]
    return "\n---\n".join(orjson.dumps(r).decode() for r in resources)


def event(event_type: str, run: str, seq: int) -> bytes:
    return orjson.dumps(
        {
            "specversion": "1.0",
            "id": f"{run}-{seq}",
            "source": "/tests/ledger",
            "type": "com.example.ledger.entry",
            "datacontenttype": "application/json",
            "data": {"seq": seq},
        }
    )


class Hub:
    """``isthmus serve`` as a subprocess, killed and started again on the same home."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home, self.env = home, env
        self.process: Process | None = None
        self.kills = 0

    async def start(self) -> None:
        gateway, control = free_port(), free_port()
        workdir = self.home / f"run-{self.kills}"
        workdir.mkdir()
        self.process = Process(serve_args(self.home, gateway, control), workdir, self.env)
        await self.process.wait_ready(f"http://127.0.0.1:{control}/readyz", timeout=60)

    async def kill_and_restart(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.kills += 1
        await self.start()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


async def until(condition: Callable[[], bool], hub: Hub, seconds: float = 180.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            assert hub.process is not None
            assert hub.process.popen.poll() is None, hub.process.output
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("bus_name", ["embedded", "rabbitmq", "nats", "redis", "mqtt"])
async def test_ten_thousand_events_through_kills_and_cut_connections(
    bus_name: str, tmp_path: Path, ledger: tuple[Ledger, str], request: pytest.FixtureRequest
) -> None:
    sink, sink_url = ledger
    run = secrets.token_hex(3)
    event_type = f"ledger-{run}"
    home = tmp_path / "hub"
    home.mkdir()
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "ledger.yaml").write_text(project(event_type, sink_url))
    isthmus("apply", str(tmp_path / "project"), home=home)
    isthmus("secret", "set", "sink", "--value", SECRET, home=home)
    store_url = f"sqlite+aiosqlite:///{(home / 'isthmus.db').resolve()}"
    broker: dict[str, Any] = {"url": store_url}
    if bus_name == "mqtt":
        broker = {"url": request.getfixturevalue("mosquitto")}
    elif bus_name != "embedded":
        broker = dict(reachable(bus_name))
    broker_port = urlsplit(str(broker["url"])).port or 0
    env = {
        **os.environ,
        "ISTHMUS_BUS": bus_name,
        "ISTHMUS_BUS_REDELIVER_AFTER_SECONDS": "2",
        "ISTHMUS_ACCESS_LOG": "false",
    }
    proxy = Proxy("127.0.0.1", broker_port)
    if bus_name != "embedded":
        await proxy.__aenter__()
        env["ISTHMUS_BUS_URL"] = str(broker["url"]).replace(f":{broker_port}", f":{proxy.port}")
    hub = Hub(home, env)
    topic = f"sandbox.{event_type}"
    async with bus_type(bus_name).open(broker) as publisher:
        try:
            await hub.start()  # it declares the Subscription's group, so nothing is missed
            publishing = asyncio.create_task(paced(publisher, topic, event_type, run, sink))
            delivered = lambda: sum(sink.applied.values())  # noqa: E731
            await until(lambda: delivered() >= 2_000, hub)
            await hub.kill_and_restart()
            if bus_name != "embedded":
                await until(lambda: delivered() >= 4_500, hub)
                assert proxy.drop() >= 1
            await until(lambda: delivered() >= 7_000, hub)
            await hub.kill_and_restart()
            await publishing
            await until(lambda: len(sink.applied) == EVENTS - 1, hub)
            letters = await until_dead_lettered(store_url, hub)
        finally:
            hub.stop()
            if bus_name != "embedded":
                await proxy.__aexit__()
            await publisher.forget(topic, "subscription.sink")
    missing = set(range(EVENTS)) - {POISON} - set(sink.applied)
    twice = sorted(seq for seq, times in sink.applied.items() if times > 1)
    assert (missing, twice) == (set(), [])
    assert hub.kills == 2
    # three deliveries as the bus counts them; a kill may take one before it was posted
    assert [(d["event_id"], d["attempts"]) for d in letters] == [(f"{run}-{POISON}", 3)]
    assert 1 <= sink.poison_attempts <= 3


async def paced(bus: Bus, topic: str, event_type: str, run: str, sink: Ledger) -> None:
    """Publish every event in batches, staying at most WINDOW ahead of the sink."""
    for start in range(0, EVENTS, 100):
        while start - sum(sink.applied.values()) > WINDOW:
            await asyncio.sleep(0.02)
        batch = range(start, min(start + 100, EVENTS))
        await bus.publish([Message(topic, event(event_type, run, seq)) for seq in batch])


async def until_dead_lettered(store_url: str, hub: Hub) -> list[dict[str, Any]]:
    async with Store.open(store_url) as store, asyncio.timeout(60):
        while True:
            assert hub.process is not None
            assert hub.process.popen.poll() is None, hub.process.output
            if found := await store.dead_letters.list("sink"):
                await asyncio.sleep(0.5)  # a second letter for the poison would show by now
                found = await store.dead_letters.list("sink")
                return [{"event_id": d.event_id, "attempts": d.attempts} for d in found]
            await asyncio.sleep(0.1)


__all__ = ["mosquitto"]  # the MQTT broker fixture, used here too
