"""Webhook triggers: a System POSTs to the gateway, signed as Standard Webhooks or with
an HMAC-SHA256 header as GitHub signs; a verified payload, mapped and checked against
the EventType, is published with the System's delivery id as its event id. A bad
signature, a payload that does not fit, or an Api that would take the path are refused,
and nothing is published."""

from __future__ import annotations

import base64
import hashlib
import hmac

import orjson
import pytest

from isthmus.events.webhooks import new_secret, signed_headers
from isthmus.model import Api
from isthmus.store import Change
from isthmus.testing.buses import Inbox
from tests.gateway.conftest import Running, resource
from tests.helpers import assert_problem

STANDARD = new_secret()
GITHUB = "a shared secret"
PATH = "/triggers/sandbox/crm-hooks"


@pytest.fixture
async def hooks(running: Running, events: Inbox) -> Inbox:
    await running.hub.vault.set("crm-standard", STANDARD)
    await running.hub.vault.set("crm-github", GITHUB)
    connection = resource(
        {
            "kind": "Connection",
            "metadata": {"name": "crm-hooks", "environment": "sandbox"},
            "spec": {
                "system": "crm",
                "connector": "rest",
                "config": {"baseUrl": "https://crm.example.com"},
                "triggers": [
                    {
                        "name": "created",
                        "eventType": "customer-created",
                        "webhook": {"secret": "secret://crm-standard"},
                    },
                    {
                        "name": "github-style",
                        "eventType": "customer-created",
                        "webhook": {
                            "signature": "hmac-sha256",
                            "secret": "secret://crm-github",
                            "header": "X-Hub-Signature-256",
                            "prefix": "sha256=",
                            "idHeader": "X-GitHub-Delivery",
                            "mapping": '{"id": customer.key, "name": customer.fullName}',
                        },
                    },
                ],
            },
        }
    )
    await running.hub.store.resources.apply([Change("create", connection.key, connection)])
    await running.hub.snapshots.refresh()
    return events


async def test_a_standard_webhook_becomes_an_event_with_the_systems_id(
    running: Running, hooks: Inbox
) -> None:
    body = orjson.dumps({"id": "c-9", "name": "Ada"})
    headers = {k.decode(): v.decode() for k, v in signed_headers([STANDARD], "msg_1", body)}
    headers["Content-Type"] = "application/json"
    reply = await running.call("POST", f"{PATH}/created", None, headers=headers, body=body)
    assert reply.status == 202, reply.body
    (delivery,) = await hooks.take(1)
    event = orjson.loads(delivery.message.body)
    assert event["id"] == reply.json()["id"]
    assert (event["subject"], event["data"]) == ("c-9", orjson.loads(body))
    assert event["source"] == "/connections/crm-hooks"
    await delivery.ack()
    # the same body with a signature of another secret: refused, nothing published
    forged = {k.decode(): v.decode() for k, v in signed_headers([new_secret()], "msg_2", body)}
    forged["Content-Type"] = "application/json"
    refused = await running.call("POST", f"{PATH}/created", None, headers=forged, body=body)
    assert_problem(refused, 401, "webhook-signature-refused")
    # signed, but the data does not fit the EventType
    unfit = orjson.dumps({"id": "c-10"})
    signed = {k.decode(): v.decode() for k, v in signed_headers([STANDARD], "msg_3", unfit)}
    signed["Content-Type"] = "application/json"
    bad = await running.call("POST", f"{PATH}/created", None, headers=signed, body=unfit)
    problem = assert_problem(bad, 422, "validation-failed")
    assert problem["errors"][0]["pointer"] == "/data"
    await hooks.nothing_more()


async def test_an_hmac_signed_webhook_is_mapped_and_keeps_its_delivery_id(
    running: Running, hooks: Inbox
) -> None:
    body = orjson.dumps({"action": "created", "customer": {"key": "c-5", "fullName": "Grace"}})
    signature = "sha256=" + hmac.new(GITHUB.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": signature,
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    }
    for _ in range(2):  # the System retries its delivery: the same event id both times
        reply = await running.call("POST", f"{PATH}/github-style", None, headers=headers, body=body)
        assert reply.status == 202, reply.body
    first, second = await hooks.take(2)
    events = [orjson.loads(d.message.body) for d in (first, second)]
    (event_id,) = {e["id"] for e in events}  # the retried delivery is the same event
    assert event_id != headers["X-GitHub-Delivery"]  # in the trigger's own namespace
    assert events[0]["data"] == {"id": "c-5", "name": "Grace"}
    base64_signature = base64.b64encode(bytes.fromhex(signature[7:])).decode()
    wrong = {**headers, "X-Hub-Signature-256": "sha256=" + base64_signature}
    refused = await running.call("POST", f"{PATH}/github-style", None, headers=wrong, body=body)
    assert_problem(refused, 401, "webhook-signature-refused")
    missing = await running.call("POST", f"{PATH}/nowhere", None, headers=headers, body=body)
    assert_problem(missing, 404, "not-found")
    got = await running.call("GET", f"{PATH}/github-style", None)
    assert_problem(got, 405, "method-not-allowed")
    await hooks.nothing_more()


async def test_a_trigger_whose_secret_is_missing_says_nothing_of_it(
    running: Running, hooks: Inbox
) -> None:
    await running.hub.vault.delete("crm-standard")
    await running.hub.snapshots.refresh()  # as the hub's follower does within a second
    body = orjson.dumps({"id": "c-9", "name": "Ada"})
    headers = {k.decode(): v.decode() for k, v in signed_headers([STANDARD], "msg_9", body)}
    headers["Content-Type"] = "application/json"
    reply = await running.call("POST", f"{PATH}/created", None, headers=headers, body=body)
    problem = assert_problem(reply, 503, "not-configured")
    assert "crm-standard" not in reply.body.decode()
    assert "nothing was published" in problem["detail"]
    await hooks.nothing_more()


def test_no_api_may_take_the_gateways_own_paths() -> None:
    from isthmus.project.checks import resource_checks

    api = Api.model_validate(
        {"kind": "Api", "metadata": {"name": "triggers"}, "spec": {"versions": [{"name": "v1"}]}}
    )  # it loads (a store that holds one still starts) …
    findings = list(resource_checks(api, api.canonical()))  # … but validate and apply refuse it
    assert (("metadata", "name"), "'triggers' is a path of the gateway itself") in [
        (path, message) for path, message, _ in findings
    ]
