"""Event routes: an App publishes through the gateway (the data alone, a structured or a
binary CloudEvent); the data is checked against the EventType version's schema and the
completed CloudEvent lands on the hub's bus, in the topic of the caller's Environment."""

from __future__ import annotations

import orjson
import pytest

from isthmus.store import Change
from isthmus.testing.buses import Inbox
from tests.gateway.conftest import Running, publish, resource
from tests.helpers import assert_problem

CUSTOMER_CREATED = {
    "kind": "EventType",
    "metadata": {"name": "customer-created", "owner": "crm-team"},
    "spec": {
        "type": "com.acme.crm.customer.created",
        "subject": "/id",
        "versions": [
            {
                "version": 1,
                "deprecated": True,
                "schema": {
                    "type": "object",
                    "required": ["id", "name"],
                    "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
                },
            },
            {
                "version": 2,
                "schema": {
                    "type": "object",
                    "required": ["id", "name"],
                    "properties": {
                        "id": {"type": "string"},
                        "name": {"type": "string"},
                        "email": {"type": "string", "format": "email", "maxLength": 100},
                    },
                },
            },
        ],
    },
}


@pytest.fixture
async def events(running: Running) -> Inbox:
    event_type = resource(CUSTOMER_CREATED)
    await running.hub.store.resources.apply([Change("create", event_type.key, event_type)])
    target = {"type": "event", "eventType": "customer-created"}
    routes = [
        {"method": "POST", "path": "/customers", "target": target},
        {"method": "POST", "path": "/legacy", "target": {**target, "version": 1}},
    ]
    await publish(running, "crm-events", [{"name": "v1", "routes": routes}])
    await running.hub.bus.declare("sandbox.customer-created", "test")
    inbox = Inbox(running.hub.bus.consume("sandbox.customer-created", "test"))
    yield inbox  # type: ignore[misc]
    await inbox.close()


async def test_the_data_alone_becomes_a_complete_cloudevent(
    running: Running, events: Inbox
) -> None:
    reply = await running.call(
        "POST",
        "/crm-events/v1/customers",
        running.key,
        headers={"Content-Type": "application/json"},
        body=b'{"id": "c-42", "name": "Ada", "email": "ada@example.test"}',
    )
    assert reply.status == 202, reply.body
    answer = reply.json()
    (delivery,) = await events.take(1)
    await delivery.ack()
    event = orjson.loads(delivery.message.body)
    assert event["id"] == answer["id"]
    assert event["specversion"] == "1.0"
    assert event["type"] == "com.acme.crm.customer.created"
    assert event["subject"] == "c-42"
    assert event["source"] == "/apps/portal"
    assert event["isthmusapp"] == "portal"
    assert event["dataschema"] == "urn:isthmus:eventtype:customer-created:v2"
    assert event["data"] == {"id": "c-42", "name": "Ada", "email": "ada@example.test"}
    assert delivery.message.headers["ce-id"] == answer["id"]
    assert delivery.message.key == "c-42"


async def test_structured_and_binary_cloudevents_keep_their_attributes(
    running: Running, events: Inbox
) -> None:
    structured = {
        "specversion": "1.0",
        "id": "evt-1",
        "source": "/crm/eu",
        "type": "com.acme.crm.customer.created",
        "time": "2026-12-01T09:00:00Z",
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "dataschema": "https://forged.example/schema",
        "data": {"id": "c-1", "name": "Grace"},
    }
    reply = await running.call(
        "POST",
        "/crm-events/v1/customers",
        running.key,
        headers={"Content-Type": "application/cloudevents+json"},
        body=orjson.dumps(structured),
    )
    assert reply.status == 202, reply.body
    assert reply.json()["id"] == "evt-1"
    reply = await running.call(
        "POST",
        "/crm-events/v1/customers",
        running.key,
        headers={
            "Content-Type": "application/json",
            "ce-specversion": "1.0",
            "ce-id": "evt-2",
            "ce-source": "/crm/us",
            "ce-type": "com.acme.crm.customer.created",
            "ce-subject": "custom-subject",
        },
        body=b'{"id": "c-2", "name": "Alan"}',
    )
    assert reply.status == 202, reply.body
    first, second = [orjson.loads(d.message.body) for d in await events.take(2)]
    assert (first["id"], first["source"], first["time"]) == (
        "evt-1",
        "/crm/eu",
        "2026-12-01T09:00:00+00:00",
    )
    assert first["traceparent"].startswith("00-0af7")  # extensions travel on
    assert first["dataschema"] == "urn:isthmus:eventtype:customer-created:v2"  # the hub's word
    assert (second["id"], second["source"], second["subject"]) == (
        "evt-2",
        "/crm/us",
        "custom-subject",
    )
    assert second["data"] == {"id": "c-2", "name": "Alan"}


async def test_invalid_events_are_refused_naming_the_field(running: Running, events: Inbox) -> None:
    reply = await running.call(
        "POST",
        "/crm-events/v1/customers",
        running.key,
        headers={"Content-Type": "application/json"},
        body=b'{"id": 42, "email": "' + b"x" * 120 + b'"}',
    )
    body = assert_problem(reply, 422, "validation-failed")
    pointers = sorted(e["pointer"] for e in body["errors"])
    assert pointers == ["/data", "/data/email", "/data/id"]  # name missing, too long, a number
    wrong_type = {
        "specversion": "1.0",
        "id": "x",
        "source": "/s",
        "type": "com.acme.other",
        "data": {"id": "c", "name": "n"},
    }
    reply = await running.call(
        "POST",
        "/crm-events/v1/customers",
        running.key,
        headers={"Content-Type": "application/cloudevents+json"},
        body=orjson.dumps(wrong_type),
    )
    assert assert_problem(reply, 422, "validation-failed")["errors"][0]["pointer"] == "/type"
    reply = await running.call(
        "POST",
        "/crm-events/v1/customers",
        running.key,
        headers={"Content-Type": "application/cloudevents+json"},
        body=b'{"data": {}}',
    )
    assert_problem(reply, 400, "bad-request")
    await events.nothing_more()  # nothing was published


async def test_a_deprecated_version_still_publishes_and_says_so(
    running: Running, events: Inbox
) -> None:
    reply = await running.call(
        "POST",
        "/crm-events/v1/legacy",
        running.key,
        headers={"Content-Type": "application/json"},
        body=b'{"id": "c-9", "name": "Old"}',
    )
    assert reply.status == 202, reply.body
    assert reply.headers["deprecation"] == "true"
    (delivery,) = await events.take(1)
    assert orjson.loads(delivery.message.body)["dataschema"].endswith(":v1")


async def test_an_app_without_the_grant_cannot_publish(running: Running, events: Inbox) -> None:
    _, other = await running.hub.store.keys.create("other", "sandbox")
    await running.hub.snapshots.refresh()
    reply = await running.call(
        "POST",
        "/crm-events/v1/customers",
        other,
        headers={"Content-Type": "application/json"},
        body=b'{"id": "c", "name": "n"}',
    )
    assert_problem(reply, 403, "not-granted")
    await events.nothing_more()


async def test_the_versions_openapi_documents_event_routes(running: Running, events: Inbox) -> None:
    reply = await running.get("/crm-events/v1/openapi.json", running.key)
    assert reply.status == 200
    latest = reply.json()["paths"]["/customers"]["post"]
    content = latest["requestBody"]["content"]
    assert content["application/json"]["schema"]["required"] == ["id", "name"]
    envelope = content["application/cloudevents+json"]["schema"]["properties"]
    assert envelope["type"] == {"const": "com.acme.crm.customer.created"}
    assert "202" in latest["responses"]
    assert "deprecated" not in latest
    assert reply.json()["paths"]["/legacy"]["post"]["deprecated"] is True


async def test_attributes_longer_than_declared_are_refused_as_sent(
    running: Running, events: Inbox
) -> None:
    from isthmus.gateway.events import MAX_ATTRIBUTE_LENGTH, MAX_TIME_LENGTH

    structured = {
        "specversion": "1.0",
        "id": "e" * (MAX_ATTRIBUTE_LENGTH + 1),
        "source": "/crm",
        "type": "com.acme.crm.customer.created",
        "data": {"id": "c-1", "name": "Ada"},
    }
    reply = await running.call(
        "POST",
        "/crm-events/v1/customers",
        running.key,
        headers={"Content-Type": "application/cloudevents+json"},
        body=orjson.dumps(structured),
    )
    body = assert_problem(reply, 422, "validation-failed")
    assert body["errors"] == [
        {"pointer": "/id", "message": f"is longer than {MAX_ATTRIBUTE_LENGTH} characters"}
    ]
    binary = {
        "Content-Type": "application/json",
        "ce-specversion": "1.0",
        "ce-id": "e-1",
        "ce-source": "/crm",
        "ce-type": "com.acme.crm.customer.created",
        "ce-time": "2026-12-01T09:00:00" + "0" * MAX_TIME_LENGTH + "Z",
    }
    reply = await running.call(
        "POST", "/crm-events/v1/customers", running.key, headers=binary,
        body=b'{"id": "c-1", "name": "Ada"}',
    )  # fmt: skip
    assert assert_problem(reply, 422, "validation-failed")["errors"][0]["pointer"] == "/time"
    # at the bound: published
    structured["id"] = "e" * MAX_ATTRIBUTE_LENGTH
    reply = await running.call(
        "POST",
        "/crm-events/v1/customers",
        running.key,
        headers={"Content-Type": "application/cloudevents+json"},
        body=orjson.dumps(structured),
    )
    assert reply.status == 202, reply.body
    assert reply.json()["id"] == structured["id"]
    (delivery,) = await events.take(1)
    await delivery.ack()
