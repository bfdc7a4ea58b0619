"""Event streams kept as time series: events published through the hub become rows of
``events.<event type>`` that Views read, filtered by time in the store."""

from __future__ import annotations

import orjson

from tests.helpers import asgi_call
from tests.virtual.conftest import Virtual

TAKEN = {
    "kind": "EventType",
    "metadata": {"name": "reading-taken", "owner": "operations"},
    "spec": {
        "series": {"keepDays": 7},
        "subject": "/machine",
        "versions": [
            {
                "version": 1,
                "schema": {
                    "type": "object",
                    "required": ["machine", "temperature"],
                    "properties": {
                        "machine": {"type": "string"},
                        "temperature": {"type": "number"},
                    },
                },
            }
        ],
    },
}


VIEW = 'SELECT time, subject AS machine, temperature FROM events."reading-taken"'


async def publish(virtual: Virtual, event_id: str, time: str, data: dict[str, object]) -> None:
    event = {
        "specversion": "1.0", "id": event_id, "source": "/plant", "type": "reading-taken",
        "time": time, "datacontenttype": "application/json", "data": data,
    }  # fmt: skip
    reply = await asgi_call(
        virtual.gateway,
        "POST",
        "/plant-events/v1/readings",
        headers={"X-Api-Key": virtual.key, "Content-Type": "application/cloudevents+json"},
        body=orjson.dumps(event),
    )
    assert reply.status == 202, reply.json()


async def test_published_events_are_a_table_for_views(virtual: Virtual) -> None:
    await virtual.add(
        TAKEN,
        {"kind": "Api", "metadata": {"name": "plant-events"},
         "spec": {"versions": [{"name": "v1", "routes": [{"method": "POST", "path": "/readings",
                  "target": {"type": "event", "eventType": "reading-taken"}}]}]}},
        {"kind": "View", "metadata": {"name": "recent_readings"},
         "spec": {"sql": VIEW}},
        {"kind": "Api", "metadata": {"name": "analytics"},
         "spec": {"versions": [{"name": "v1", "views": ["recent_readings"]}]}},
        {"kind": "App", "metadata": {"name": "dashboard"},
         "spec": {"apis": ["analytics", "plant-events"]}},
    )  # fmt: skip
    readings = [
        ("r1", "2026-11-30T10:00:00Z", "press-1", 60.5),
        ("r2", "2026-11-30T11:00:00Z", "press-1", 62.5),
        ("r3", "2026-11-30T11:30:00Z", "press-2", 70.0),
        ("r4", "2026-11-30T12:00:00+01:00", "press-2", 71.0),  # 11:00 UTC
        ("r2", "2026-11-30T11:00:00Z", "press-1", 62.5),  # the same event again
    ]
    for event_id, time, machine, temperature in readings:
        await publish(virtual, event_id, time, {"machine": machine, "temperature": temperature})
    recorder = virtual.hub.virtual.recorder
    assert recorder is not None
    await recorder.drain()

    answer = await virtual.query(
        "SELECT machine, count(*) AS n, avg(temperature) AS mean FROM recent_readings "
        "WHERE time >= TIMESTAMP '2026-11-30 10:30:00' GROUP BY machine ORDER BY machine"
    )
    assert answer["value"] == [
        {"machine": "press-1", "n": 1, "mean": 62.5},
        {"machine": "press-2", "n": 2, "mean": 70.5},
    ]
    assert answer["sources"][0]["source"] == "events.reading-taken"
    assert answer["sources"][0]["rows"] == 3  # the time filter ran in the store

    answer = await virtual.query(  # a time written as ISO text compares as a time
        "SELECT count(*) AS n FROM recent_readings WHERE time >= '2026-11-30T10:30:00'"
    )
    assert answer["value"] == [{"n": 3}]

    answer = await virtual.query("SELECT time FROM recent_readings ORDER BY time")
    assert [r["time"] for r in answer["value"]] == [
        "2026-11-30T10:00:00Z", "2026-11-30T11:00:00Z", "2026-11-30T11:00:00Z",
        "2026-11-30T11:30:00Z",
    ]  # fmt: skip


async def test_a_connection_cannot_take_the_series_name(virtual: Virtual) -> None:
    from isthmus.model import kind_of
    from isthmus.project.checks import resource_checks

    document = {
        "kind": "Connection",
        "metadata": {"name": "events", "environment": "sandbox"},
        "spec": {"system": "crm", "connector": "memory"},
    }
    cls = kind_of("Connection")
    assert cls is not None
    findings = list(resource_checks(cls.model_validate(document), document))
    assert any("time series" in message for _, message, _ in findings)
