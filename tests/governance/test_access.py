"""Access requests end to end: self-service sandbox access, production access approved
by the Api's owner, credentials collected once, client credentials traded for tokens,
rotation with a grace period, revocation, ownership, and the audit trail."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from isthmus.errors import BadRequest, Conflict, NotFound
from isthmus.governance.people import NotOwner, Principal
from isthmus.model import Api
from tests.gateway.conftest import Backend, Running, declare
from tests.helpers import assert_problem

ASK = {"app": "other", "api": "customers", "version": "v2"}
WHY = "The field sales app shows each account's customers."
DANA = Principal("dana", "Dana", frozenset({"field-apps"}))
OLIVIA = Principal("olivia", "Olivia", frozenset({"sales-ops"}))
MALLORY = Principal("mallory", "Mallory", frozenset({"marketing"}))


def js(value: object) -> bytes:
    return orjson.dumps(value)


async def with_production(running: Running, backend: Backend) -> None:
    await declare(
        running,
        {
            "kind": "Connection",
            "metadata": {"name": "crm", "environment": "production"},
            "spec": {
                "system": "crm",
                "connector": "rest",
                "config": {"baseUrl": backend.url + "/prod", "allowPrivateNetwork": True},
            },
        },
    )


async def token(running: Running, client_id: str, secret: str, audience: str) -> Any:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return await running.call(
        "POST",
        "/oauth/token",
        headers={
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        body=f"grant_type=client_credentials&audience={audience}".encode(),
    )


async def test_sandbox_access_is_self_service(running: Running) -> None:
    assert_problem(await running.get("/customers/v2/customers", key=None), 401, "unauthenticated")
    reply = await running.admin_call(
        "POST", "/admin/v1/access-requests", body=js({**ASK, "environment": "sandbox"})
    )
    assert reply.status == 201, reply.body
    outcome = reply.json()
    assert outcome["request"]["status"] == "approved"
    assert outcome["request"]["decided_by"] == "admin (self-service)"
    [credential] = outcome["credentials"]
    assert (credential["kind"], credential["environment"]) == ("api-key", "sandbox")
    assert outcome["awaiting_pickup"] == []
    answer = await running.get("/customers/v2/customers", key=credential["key"])
    assert answer.status == 200, answer.body
    again = await running.admin_call(
        "POST", "/admin/v1/access-requests", body=js({**ASK, "environment": "sandbox"})
    )
    assert_problem(again, 409, "conflict")


async def test_production_access_is_approved_then_collected_once_and_used_with_tokens(
    running: Running, backend: Backend
) -> None:
    await with_production(running, backend)
    short = await running.admin_call(
        "POST", "/admin/v1/access-requests",
        body=js({**ASK, "environment": "production", "justification": "pls"}),
    )  # fmt: skip
    assert_problem(short, 400, "bad-request")
    asked = await running.admin_call(
        "POST", "/admin/v1/access-requests",
        body=js({**ASK, "environment": "production", "justification": WHY}),
    )  # fmt: skip
    request = asked.json()["request"]
    assert (request["status"], asked.json()["credentials"]) == ("pending", [])
    twice = await running.admin_call(
        "POST", "/admin/v1/access-requests",
        body=js({**ASK, "environment": "production", "justification": WHY}),
    )  # fmt: skip
    assert_problem(twice, 409, "conflict")

    approved = await running.admin_call(
        "POST", f"/admin/v1/access-requests/{request['id']}/approve", body=js({})
    )
    assert approved.status == 200, approved.body
    decided = approved.json()
    assert decided["request"]["status"] == "approved"
    assert decided["credentials"] == []  # the approver does not see them
    waiting = decided["awaiting_pickup"]
    listed = (await running.admin_call("GET", "/admin/v1/apps/other/keys")).json()
    kinds = {(k["kind"], k["environment"]) for k in listed if k["awaiting_pickup"]}
    assert kinds == {("client-secret", "production"), ("api-key", "sandbox")}
    assert sorted(k["id"] for k in listed) == sorted(waiting)

    secret_id = next(k["id"] for k in listed if k["kind"] == "client-secret")
    collected = await running.admin_call("POST", f"/admin/v1/keys/{secret_id}/collect")
    assert collected.status == 200, collected.body
    secret = collected.json()["key"]
    assert secret.startswith("isc_production_")
    second = await running.admin_call("POST", f"/admin/v1/keys/{secret_id}/collect")
    assert_problem(second, 404, "not-found")

    # a client secret is not an API key
    refused = await running.get("/customers/v2/customers", key=secret)
    assert_problem(refused, 401, "client-secret-as-key")
    issued = await token(running, "other", secret, "customers")
    assert issued.status == 200, issued.body
    access_token = issued.json()["access_token"]
    seen = len(backend.seen)
    called = await running.get(
        "/customers/v2/customers", headers={"Authorization": f"Bearer {access_token}"}
    )
    assert called.status == 200, called.body
    assert backend.seen[seen]["raw_path"].startswith("/prod/")  # the production System


async def test_a_rejection_needs_a_reason_and_a_withdrawn_request_cannot_be_decided(
    running: Running, backend: Backend
) -> None:
    await with_production(running, backend)
    ask = {**ASK, "environment": "production", "justification": WHY}
    first = (await running.admin_call("POST", "/admin/v1/access-requests", body=js(ask))).json()
    number = first["request"]["id"]
    path = f"/admin/v1/access-requests/{number}"
    assert_problem(
        await running.admin_call("POST", path + "/reject", body=js({})), 400, "bad-request"
    )
    rejected = await running.admin_call(
        "POST", path + "/reject", body=js({"reason": "Use the v3 export instead."})
    )
    assert rejected.json()["request"]["status"] == "rejected"
    assert rejected.json()["request"]["reason"] == "Use the v3 export instead."
    assert_problem(
        await running.admin_call("POST", path + "/approve", body=js({})), 409, "conflict"
    )
    second = (await running.admin_call("POST", "/admin/v1/access-requests", body=js(ask))).json()
    withdrawn = await running.admin_call(
        "POST", f"/admin/v1/access-requests/{second['request']['id']}/withdraw"
    )
    assert withdrawn.json()["status"] == "withdrawn"
    pending = await running.admin_call("GET", "/admin/v1/access-requests", query="status=pending")
    assert pending.json() == []
    denied = await token(running, "other", "isc_production_000000000000_x", "customers")
    assert denied.status == 401


async def test_rotation_keeps_the_old_value_for_the_grace_period(running: Running) -> None:
    issued = await running.admin_call(
        "POST", "/admin/v1/apps/portal/keys", body=js({"environment": "sandbox"})
    )
    old = issued.json()
    assert (await running.get("/customers/v2/customers", key=old["key"])).status == 200
    rotated = await running.admin_call(
        "POST", f"/admin/v1/keys/{old['id']}/rotate", body=js({"grace_seconds": 3600})
    )
    assert rotated.status == 201, rotated.body
    new = rotated.json()
    assert new["rotated_from"] == old["id"]
    for key in (old["key"], new["key"]):
        assert (await running.get("/customers/v2/customers", key=key)).status == 200
    listed = {
        k["id"]: k for k in (await running.admin_call("GET", "/admin/v1/apps/portal/keys")).json()
    }
    assert listed[old["id"]]["expires_at"] is not None
    # rotating again with no grace ends the previous value at once
    final = await running.admin_call(
        "POST", f"/admin/v1/keys/{new['id']}/rotate", body=js({"grace_seconds": 0})
    )
    assert_problem(
        await running.get("/customers/v2/customers", key=new["key"]), 401, "unauthenticated"
    )
    assert (await running.get("/customers/v2/customers", key=final.json()["key"])).status == 200
    assert (
        await running.admin_call("DELETE", f"/admin/v1/keys/{final.json()['id']}")
    ).status == 204
    assert_problem(
        await running.get("/customers/v2/customers", key=final.json()["key"]),
        401,
        "unauthenticated",
    )
    again = await running.admin_call(
        "POST", f"/admin/v1/keys/{old['id']}/rotate", body=js({"grace_seconds": 3600})
    )
    assert_problem(again, 409, "conflict")  # rotated once: its successor rotates
    too_long = await running.admin_call(
        "POST", f"/admin/v1/keys/{old['id']}/rotate", body=js({"grace_seconds": 10**8})
    )
    assert_problem(too_long, 422, "validation-failed")


async def test_owners_ask_and_decide_and_nobody_else_can(running: Running) -> None:
    await declare(
        running,
        {"kind": "App", "metadata": {"name": "field", "owner": "field-apps"}},
        {
            "kind": "Api",
            "metadata": {"name": "orders", "owner": "sales-ops"},
            "spec": {
                "versions": [
                    {
                        "name": "v1",
                        "routes": [
                            {"path": "/orders", "target": {"type": "proxy", "connection": "crm"}}
                        ],
                    }
                ]
            },
        },
        {"kind": "Plan", "metadata": {"name": "gold"}, "spec": {"rate": {"requests": 5}}},
    )
    access = running.hub.access
    with pytest.raises(NotOwner):
        await access.ask(OLIVIA, "field", "orders", "v1", "production", WHY)
    with pytest.raises(BadRequest):
        await access.ask(DANA, "field", "orders", "v9", "production", WHY)
    with pytest.raises(BadRequest):
        await access.ask(DANA, "field", "orders", "v1", "production", WHY, plan="platinum")
    asked = await access.ask(DANA, "field", "orders", "v1", "production", WHY, plan="gold")
    number = asked.request.id
    assert [r.id for r in await access.visible(DANA)] == [number]
    assert [r.id for r in await access.visible(OLIVIA)] == [number]
    assert await access.visible(MALLORY) == []
    with pytest.raises(NotOwner):
        await access.seen_by(MALLORY, number)
    with pytest.raises(NotOwner):
        await access.decide(DANA, number, True, None)
    outcome = await access.decide(OLIVIA, number, True, "Approved for the pilot.")
    assert outcome.issued == []
    with pytest.raises(NotOwner):  # the approver cannot take the App's secret
        await running.hub.credentials.collect(OLIVIA, outcome.awaiting_pickup[0])
    collected = await running.hub.credentials.collect(DANA, outcome.awaiting_pickup[0])
    assert collected.value.startswith(("isc_production_", "isk_sandbox_"))
    snapshot = await running.hub.snapshots.refresh()
    assert "orders" in snapshot.granted("field", "production")
    assert "orders" in snapshot.granted("field", "sandbox")
    assert "orders" not in snapshot.granted("portal", "production")
    gold = snapshot.policies_for("field", "orders", "production")
    assert gold.items  # the grant's Plan, while the App itself has none
    assert not snapshot.policies_for("field", "orders", "sandbox").items
    with pytest.raises(Conflict):
        await access.ask(DANA, "field", "orders", "v1", "production", WHY)
    [grant] = [
        g for g in await running.hub.store.access.grants("field") if g.environment == "production"
    ]
    assert grant.plan == "gold"
    with pytest.raises(NotOwner):
        await access.revoke_grant(DANA, grant.id)
    await access.revoke_grant(OLIVIA, grant.id)
    assert "orders" not in (await running.hub.snapshots.refresh()).granted("field", "production")
    with pytest.raises(NotFound):
        await access.revoke_grant(OLIVIA, grant.id)


async def test_every_decision_and_credential_is_audited_without_values(
    running: Running, backend: Backend
) -> None:
    await with_production(running, backend)
    asked = await running.admin_call(
        "POST", "/admin/v1/access-requests",
        body=js({**ASK, "environment": "production", "justification": WHY}),
    )  # fmt: skip
    number = asked.json()["request"]["id"]
    approved = await running.admin_call(
        "POST", f"/admin/v1/access-requests/{number}/approve", body=js({"reason": "ok"})
    )
    values = []
    for key_id in approved.json()["awaiting_pickup"]:
        reply = await running.admin_call("POST", f"/admin/v1/keys/{key_id}/collect")
        values.append(reply.json()["key"])
    log = await running.admin_call("GET", "/admin/v1/audit", query="limit=100")
    entries = log.json()["entries"]
    actions = [e["action"] for e in reversed(entries)]
    assert actions[:2] == ["access.request", "access.approve"]
    assert actions.count("credential.issue") == 2
    assert actions.count("credential.collect") == 2
    approval = next(e for e in entries if e["action"] == "access.approve")
    assert approval["target"] == "app/other"
    assert approval["detail"]["environment"] == "production"
    assert approval["detail"]["reason"] == "ok"
    for value in values:
        assert value not in log.body.decode()
        assert value.split("_")[-1] not in log.body.decode()


def test_production_is_never_self_service() -> None:
    with pytest.raises(ValueError, match="approval"):
        Api.model_validate(
            {
                "kind": "Api",
                "metadata": {"name": "x"},
                "spec": {"versions": [{"name": "v1"}], "selfService": ["production"]},
            }
        )


async def test_asking_for_another_plan_is_for_the_owner_to_decide(running: Running) -> None:
    await declare(
        running,
        {"kind": "Plan", "metadata": {"name": "platinum"}, "spec": {"rate": {"requests": 999}}},
        {"kind": "App", "metadata": {"name": "field", "owner": "field-apps"}},
        {"kind": "Api", "metadata": {"name": "orders", "owner": "sales-ops"},
         "spec": {"versions": [{"name": "v1", "routes": [
             {"path": "/orders", "target": {"type": "proxy", "connection": "crm"}}]}]}},
    )  # fmt: skip
    outcome = await running.hub.access.ask(
        DANA, "field", "orders", "v1", "sandbox", WHY, plan="platinum"
    )
    assert outcome.request.status == "pending"
    assert outcome.issued == []
