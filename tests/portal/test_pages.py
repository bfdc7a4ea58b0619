"""The portal's pages over HTTP (in process): sign-in, catalog, an Api's page, access
requests and decisions, credentials shown once, the audit log — and what must not get
through: stale forms, other people's Apps, script in docs."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest

from isthmus.governance.people import hash_password
from isthmus.store import Change
from tests.gateway.conftest import Running, backend, resource, running
from tests.helpers import Reply, asgi_call

__all__ = ["backend", "running"]  # the fixtures these tests use

PASSWORD = "correct horse battery"
WHY = "The field app lists each account's customers for the sales team."
DOCS = (
    "# Customers\n\nUse **v2**.\n\n<script>alert('x')</script>\n\n"
    "[bad](javascript:alert(1)) [good](https://example.com/guide)"
)


@dataclass
class Visitor:
    """One browser: its cookie, and the CSRF token of the last page it read."""

    running: Running
    cookie: str = ""
    csrf: str = ""
    pages: list[str] = field(default_factory=list)

    async def get(self, path: str, query: str = "") -> Reply:
        reply = await asgi_call(
            self.running.control, "GET", path, query=query, headers=self._headers()
        )
        return self._keep(reply)

    async def post(self, path: str, form: dict[str, str]) -> Reply:
        body = urlencode({"csrf": self.csrf, **form}).encode()
        headers = {**self._headers(), "Content-Type": "application/x-www-form-urlencoded"}
        reply = await asgi_call(self.running.control, "POST", path, headers=headers, body=body)
        return self._keep(reply)

    async def sign_in(self, name: str, password: str = PASSWORD) -> Reply:
        await self.get("/portal/sign-in")
        return await self.post("/portal/sign-in", {"name": name, "password": password})

    def _headers(self) -> dict[str, str]:
        return {"Cookie": self.cookie} if self.cookie else {}

    def _keep(self, reply: Reply) -> Reply:
        cookie = reply.headers.get("set-cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        text = reply.body.decode("utf-8", "replace")
        found = re.search(r'name="csrf" value="([^"]+)"', text)
        if found:
            self.csrf = found.group(1)
        self.pages.append(text)
        return reply


def text_of(reply: Reply) -> str:
    return html.unescape(reply.body.decode())


@pytest.fixture
async def portal(running: Running, backend: Any) -> Running:
    hub = running.hub
    for name, teams in (("dana", ["field-apps"]), ("olivia", ["sales-ops"])):
        await hub.store.users.add(name, name.title(), hash_password(PASSWORD), teams, False)
    documents = [
        {"kind": "App", "metadata": {"name": "field", "owner": "field-apps"},
         "spec": {"platform": "Power Apps"}},
        {"kind": "Connection", "metadata": {"name": "crm", "environment": "production"},
         "spec": {"system": "crm", "connector": "rest",
                  "config": {"baseUrl": backend.url + "/prod", "allowPrivateNetwork": True}}},
    ]  # fmt: skip
    changes = [Change("create", resource(d).key, resource(d)) for d in documents]
    customers = await hub.store.resources.get(resource({
        "kind": "Api", "metadata": {"name": "customers"}, "spec": {"versions": [{"name": "v1"}]}
    }).key)  # fmt: skip
    assert customers is not None
    owned = customers.canonical()
    owned["metadata"] = {
        "name": "customers", "owner": "sales-ops", "description": "Customers of the sales team",
        "tags": ["crm", "sales"], "lifecycle": "production", "docs": DOCS,
    }  # fmt: skip
    changes.append(Change("update", customers.key, resource(owned)))
    await hub.store.resources.apply(changes)
    await hub.snapshots.refresh()
    return running


async def test_pages_need_a_signed_in_person(portal: Running) -> None:
    visitor = Visitor(portal)
    reply = await visitor.get("/portal/apps")
    assert reply.status == 303
    assert reply.headers["location"] == "/portal/sign-in?next=/portal/apps"
    wrong = await visitor.sign_in("dana", "not the password")
    assert wrong.status == 401
    assert "The name or the password is wrong." in text_of(wrong)
    nobody = await visitor.sign_in("nobody")
    assert nobody.status == 401
    signed = await visitor.sign_in("dana")
    assert (signed.status, signed.headers["location"]) == (303, "/portal/")
    assert "httponly" in signed.headers["set-cookie"].lower()
    assert "samesite=lax" in signed.headers["set-cookie"].lower()
    assert (await visitor.get("/portal/apps")).status == 200
    stranger = Visitor(portal)
    await stranger.get("/portal/sign-in")
    elsewhere = await stranger.post(
        "/portal/sign-in", {"name": "dana", "password": PASSWORD, "next": "https://evil.test/"}
    )
    assert elsewhere.headers["location"] == "/portal/"  # never an open redirect
    forged = await Visitor(portal).post("/portal/sign-in", {"name": "dana", "password": PASSWORD})
    assert forged.status == 403  # another site's form cannot sign anybody in
    assert "set-cookie" not in forged.headers or "eyJ1c2Vy" not in forged.headers["set-cookie"]


async def test_signing_out_ends_the_session_even_if_its_cookie_is_kept(portal: Running) -> None:
    visitor = Visitor(portal)
    await visitor.sign_in("dana")
    kept = visitor.cookie
    page = await visitor.get("/portal/apps")
    assert page.headers["cache-control"] == "no-store"
    await visitor.post("/portal/sign-out", {})
    replay = Visitor(portal, cookie=kept)
    assert (await replay.get("/portal/apps")).status == 303  # back to sign-in


async def test_nothing_is_tried_for_someone_not_signed_in(portal: Running, backend: Any) -> None:
    anonymous = Visitor(portal)
    await anonymous.get("/portal/sign-in")  # a session with a CSRF token, nobody in it
    seen = len(backend.seen)
    reply = await anonymous.post(
        "/portal/apis/customers/try",
        {"version": "v2", "operation": "get_customers", "key": portal.key},
    )
    assert reply.status == 303
    assert len(backend.seen) == seen


async def test_a_bad_form_is_a_page_not_json(portal: Running) -> None:
    visitor = Visitor(portal)
    await visitor.sign_in("dana")
    await visitor.get("/portal/apps")
    reply = await visitor.post("/portal/apps/field/keys", {"environment": "bad env/<x>"})
    assert reply.status == 422
    assert reply.headers["content-type"].startswith("text/html")
    assert "<x>" not in reply.body.decode()


async def test_the_catalog_finds_the_customers_api(portal: Running) -> None:
    visitor = Visitor(portal)
    await visitor.sign_in("dana")
    found = await visitor.get("/portal/", query="q=custom")
    page = text_of(found)
    assert 'data-kind="Api" data-name="customers"' in page
    assert 'href="/portal/apis/customers"' in page
    nothing = text_of(await visitor.get("/portal/", query="q=zzzzqqq"))
    assert "Nothing matches" in nothing
    only_apps = text_of(await visitor.get("/portal/", query="kind=App"))
    assert 'data-name="field"' in only_apps
    assert 'data-name="customers"' not in only_apps


async def test_an_api_page_shows_docs_reference_examples_and_downloads(portal: Running) -> None:
    visitor = Visitor(portal)
    await visitor.sign_in("dana")
    reply = await visitor.get("/portal/apis/customers", query="version=v2")
    assert reply.status == 200
    page = reply.body.decode()
    assert "<strong>v2</strong>" in page  # the docs' Markdown
    assert "<script>alert" not in page  # raw HTML is not passed through
    assert 'href="javascript:' not in page
    assert 'href="https://example.com/guide"' in page
    assert "/sandbox/customers/v2" in page
    for language in ("curl", "python", "javascript", "powershell", "power-platform"):
        assert f'data-language="{language}"' in page
    assert page.count('class="operation"') == 7  # every route of v2
    download = await visitor.get("/portal/apis/customers/v2/power-platform.json")
    assert download.status == 200
    assert download.json()["swagger"] == "2.0"
    assert download.json()["basePath"] == "/sandbox/customers/v2"
    missing = await visitor.get("/portal/apis/nothing")
    assert missing.status == 404
    assert "No Api &#39;nothing&#39;" in missing.body.decode()


async def test_access_from_asking_to_approval_to_collecting_once(portal: Running) -> None:
    dana, olivia = Visitor(portal), Visitor(portal)
    await dana.sign_in("dana")
    await olivia.sign_in("olivia")
    await dana.get("/portal/apis/customers")
    sandbox = await dana.post(
        "/portal/apis/customers/access",
        {"app": "field", "version": "v2", "environment": "sandbox"},
    )
    assert sandbox.status == 200
    key = re.search(r'value="(isk_sandbox_[^"]+)"', sandbox.body.decode())
    assert key is not None
    answer = await portal.get("/sandbox/customers/v2/customers", key=key.group(1))
    assert answer.status == 200

    await dana.get("/portal/apis/customers")
    asked = await dana.post(
        "/portal/apis/customers/access",
        {"app": "field", "version": "v2", "environment": "production", "justification": WHY},
    )
    assert (asked.status, asked.headers["location"]) == (303, "/portal/requests")
    waiting = text_of(await olivia.get("/portal/requests"))
    assert "Waiting for your decision" in waiting
    assert WHY in waiting
    number = re.search(r'data-request="(\d+)"', waiting)
    assert number is not None
    mine = text_of(await dana.get("/portal/requests"))
    assert "Nothing waits for you." in mine  # dana owns no Api
    decided = await olivia.post(f"/portal/requests/{number.group(1)}/approve", {"reason": ""})
    assert decided.status == 303

    apps = text_of(await dana.get("/portal/apps"))
    assert "ready to collect" in apps
    secret_id = re.search(
        r'data-credential="([0-9a-f]+)" data-kind="client-secret" data-environment="production"',
        apps,
    )
    assert secret_id is not None
    stolen = await olivia.post(f"/portal/keys/{secret_id.group(1)}/collect", {})
    assert stolen.status == 403  # the approver does not own the App
    shown = await dana.post(f"/portal/keys/{secret_id.group(1)}/collect", {})
    secret = re.search(r'value="(isc_production_[^"]+)"', shown.body.decode())
    assert secret is not None
    again = await dana.post(f"/portal/keys/{secret_id.group(1)}/collect", {})
    assert again.status == 404
    assert secret.group(1) not in again.body.decode()


async def test_a_form_without_its_token_is_refused(portal: Running) -> None:
    visitor = Visitor(portal)
    await visitor.sign_in("dana")
    visitor.csrf = "forged"
    reply = await visitor.post(
        "/portal/apis/customers/access", {"app": "field", "version": "v2", "environment": "sandbox"}
    )
    assert reply.status == 403
    assert "csrf-mismatch" in reply.body.decode()
    assert await portal.hub.store.access.requests() == []


async def test_the_audit_page_shows_people_their_own_trail(portal: Running) -> None:
    dana, olivia = Visitor(portal), Visitor(portal)
    await dana.sign_in("dana")
    await dana.get("/portal/apis/customers")
    await dana.post(
        "/portal/apis/customers/access", {"app": "field", "version": "v2", "environment": "sandbox"}
    )
    own = text_of(await dana.get("/portal/audit"))
    assert "access.request" in own
    assert "app/field" in own
    await olivia.sign_in("olivia")
    theirs = text_of(await olivia.get("/portal/audit", query="action=credential."))
    assert "credential.issue" not in theirs  # not olivia's App, not olivia's doing


async def test_a_pending_request_can_be_withdrawn(portal: Running) -> None:
    dana = Visitor(portal)
    await dana.sign_in("dana")
    await dana.get("/portal/apis/customers")
    await dana.post(
        "/portal/apis/customers/access",
        {"app": "field", "version": "v2", "environment": "production", "justification": WHY},
    )
    page = text_of(await dana.get("/portal/requests"))
    number = re.search(r'data-request="(\d+)"', page)
    assert number is not None
    reply = await dana.post(f"/portal/requests/{number.group(1)}/withdraw", {})
    assert reply.status == 303
    [request] = await portal.hub.store.access.requests()
    assert request.status == "withdrawn"
