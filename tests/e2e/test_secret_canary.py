"""Secret canaries: values that must never be seen again once handed to the hub.

A hub runs as a real process with debug logging. Canaries go in every way a secret can
— vault secrets (CLI and admin API), the master key and the admin token, API keys and a
client secret, a portal password, wrong credentials a caller sends — and then the hub is
worked hard: calls, refusals, backend failures, tokens, literal secrets refused, exports
of every kind, the catalog, Backstage, metrics, the audit log, portal pages, a project
export. Every log line, every answer (body and headers), every exported file and the
store's database file are searched for every canary. The only places a credential may
appear are the answers that hand it out, once.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from base64 import b64encode
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from isthmus.governance.keyring import new_key
from tests.e2e.proc import Process, serve_args
from tests.helpers import free_port, write_project

pytestmark = pytest.mark.e2e

ADMIN_TOKEN = "canary-admin-" + secrets.token_urlsafe(16)
MASTER_KEY = new_key()
CLI_SECRET = "canary-cli-" + secrets.token_urlsafe(16)
API_SECRET = "canary-api-" + secrets.token_urlsafe(16)
PASSWORD = "canary-pass-" + secrets.token_urlsafe(12)
WRONG_PASSWORD = "canary-wrong-" + secrets.token_urlsafe(12)
WRONG_KEY = f"isk_sandbox_{secrets.token_hex(6)}_canary{secrets.token_urlsafe(20)}"
WRONG_SECRET = "canary-client-" + secrets.token_urlsafe(16)
LITERAL = "canary-literal-" + secrets.token_urlsafe(16)

PROJECT = {
    "crm.yaml": """
kind: System
metadata: {name: crm, owner: sales-ops}
---
kind: Connection
metadata: {name: crm, environment: sandbox}
spec:
  system: crm
  connector: rest
  config:
    baseUrl: BACKEND
    auth: {type: bearer, token: "secret://crm-token"}
    allowPrivateNetwork: true
---
kind: Connection
metadata: {name: crm, environment: production}
spec:
  system: crm
  connector: rest
  config:
    baseUrl: BACKEND
    auth: {type: bearer, token: "secret://crm-token-production"}
    allowPrivateNetwork: true
""",
    "api.yaml": """
kind: Api
metadata: {name: customers, owner: sales-ops, description: Customers, tags: [crm]}
spec:
  title: Customers
  versions:
    - name: v1
      routes:
        - {method: GET, path: /customers, operationId: listCustomers,
           summary: List customers, target: {type: proxy, connection: crm}}
        - {method: GET, path: /boom, operationId: failOnPurpose,
           summary: The backend fails, target: {type: proxy, connection: crm}}
---
kind: App
metadata: {name: field, owner: field-apps}
spec: {platform: Power Apps}
""",
}


class Recorder:
    """Every answer the test received, with a flag for those that hand a value out."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []  # (what, text)

    async def call(
        self,
        client: aiohttp.ClientSession,
        method: str,
        url: str,
        *,
        hands_out: bool = False,
        **kw: Any,
    ) -> tuple[int, str]:
        async with client.request(method, url, allow_redirects=False, **kw) as answer:
            text = await answer.text()
            if not hands_out:
                headers = "\n".join(f"{k}: {v}" for k, v in answer.headers.items())
                self.seen.append((f"{method} {url}", headers + "\n" + text))
            return answer.status, text


@pytest.fixture
async def backend() -> AsyncIterator[str]:
    async def answer(request: web.Request) -> web.Response:
        if request.path == "/boom":
            return web.Response(status=500, text="Traceback: db01.internal exploded")
        return web.json_response({"items": [{"id": 1, "name": "Ada"}], "total": 1})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


def cli(home: Path, *args: str, stdin: str | None = None) -> str:
    env = {**os.environ, "ISTHMUS_MASTER_KEY": MASTER_KEY, "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, "-m", "isthmus", *args, "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=60,
        input=stdin,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


async def test_no_secret_is_ever_seen_again(tmp_path: Path, backend: str) -> None:
    home = tmp_path / "home"
    folder = write_project(
        tmp_path / "project", {k: v.replace("BACKEND", backend) for k, v in PROJECT.items()}
    )
    outputs = [cli(home, "secret", "set", "crm-token", stdin=CLI_SECRET + "\n")]
    outputs.append(cli(home, "apply", str(folder)))
    outputs.append(cli(home, "user", "add", "dana", "--team", "field-apps", stdin=PASSWORD + "\n"))
    gateway_port, control_port = free_port(), free_port()
    env = {
        **os.environ,
        "ISTHMUS_ADMIN_TOKEN": ADMIN_TOKEN,
        "ISTHMUS_MASTER_KEY": MASTER_KEY,
        "ISTHMUS_LOG_LEVEL": "debug",
    }
    hub = Process(serve_args(home, gateway_port, control_port), tmp_path, env)
    gateway, control = f"http://127.0.0.1:{gateway_port}", f"http://127.0.0.1:{control_port}"
    record = Recorder()
    handed_out: list[str] = []
    try:
        await hub.wait_ready(f"{control}/readyz")
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with aiohttp.ClientSession() as client:
            await _exercise(client, record, handed_out, gateway, control, admin, tmp_path)
        outputs.append(cli(home, "export", str(tmp_path / "exported")))
        outputs.append(cli(home, "audit", "--limit", "1000", "--json"))
    finally:
        hub.stop()

    canaries = {
        "admin token": ADMIN_TOKEN,
        "master key": MASTER_KEY,
        "CLI secret": CLI_SECRET,
        "admin API secret": API_SECRET,
        "password": PASSWORD,
        "wrong password": WRONG_PASSWORD,
        "wrong key": WRONG_KEY,
        "wrong client secret": WRONG_SECRET,
        "literal": LITERAL,
        **{f"issued credential {i}": value for i, value in enumerate(handed_out)},
    }
    assert len(handed_out) >= 3  # an API key, a rotated one and a client secret
    sinks: list[tuple[str, str]] = [("hub log", hub.output), *record.seen]
    sinks += [(f"cli output {i}", text) for i, text in enumerate(outputs)]
    for path in (tmp_path / "exported").rglob("*"):
        if path.is_file():
            sinks.append((f"export {path.name}", path.read_text()))
    for path in home.glob("isthmus.db*"):  # the store itself, and its journal
        sinks.append((f"store {path.name}", path.read_bytes().decode("latin-1")))
    assert len(record.seen) > 30
    assert "gateway.request" in hub.output  # the log was on, at debug
    for where, text in sinks:
        for what, canary in canaries.items():
            assert canary not in text, f"the {what} appears in {where}"
            encoded = b64encode(canary.encode()).decode().rstrip("=")
            assert encoded[:24] not in text, f"the {what} appears base64-encoded in {where}"


async def _exercise(
    client: aiohttp.ClientSession,
    record: Recorder,
    handed_out: list[str],
    gateway: str,
    control: str,
    admin: dict[str, str],
    tmp_path: Path,
) -> None:
    call = record.call
    json_admin = {**admin, "Content-Type": "application/json"}
    # a secret through the admin API, and a Connection that uses the CLI's secret
    status, _ = await call(
        client,
        "PUT",
        f"{control}/admin/v1/secrets/crm-token-production",
        headers=json_admin,
        json={"value": API_SECRET},
    )
    assert status == 204
    # credentials: an API key (shown once), rotated; sandbox access; production approved
    status, text = await call(
        client,
        "POST",
        f"{control}/admin/v1/apps/field/keys",
        hands_out=True,
        headers=json_admin,
        json={"environment": "sandbox"},
    )
    assert status == 201, text
    first = re.search(r'"key":"([^"]+)"', text)
    assert first is not None
    handed_out.append(first.group(1))
    key_id = re.search(r'"id":"([0-9a-f]+)"', text)
    assert key_id is not None
    status, text = await call(
        client,
        "POST",
        f"{control}/admin/v1/keys/{key_id.group(1)}/rotate",
        hands_out=True,
        headers=json_admin,
        json={"grace_seconds": 60},
    )
    rotated = re.search(r'"key":"([^"]+)"', text)
    assert rotated is not None
    handed_out.append(rotated.group(1))
    ask = {
        "app": "field",
        "api": "customers",
        "version": "v1",
        "environment": "production",
        "justification": "The field app needs the customers in production.",
    }
    status, text = await call(
        client, "POST", f"{control}/admin/v1/access-requests", headers=json_admin, json=ask
    )
    number = re.search(r'"id":(\d+)', text)
    assert number is not None
    status, text = await call(
        client,
        "POST",
        f"{control}/admin/v1/access-requests/{number.group(1)}/approve",
        headers=json_admin,
        json={"reason": "ok"},
    )
    assert status == 200, text
    for waiting in re.findall(r'"awaiting_pickup":\[([^\]]*)\]', text)[0].split(","):
        status, given = await call(
            client,
            "POST",
            f"{control}/admin/v1/keys/{waiting.strip(chr(34))}/collect",
            hands_out=True,
            headers=admin,
        )
        handed_out.append(re.findall(r'"key":"([^"]+)"', given)[0])
    client_secret = next(v for v in handed_out if v.startswith("isc_production_"))
    api_key = rotated.group(1)

    # the gateway: good and bad calls, tokens, failures
    for key in (api_key, first.group(1), WRONG_KEY, client_secret):
        await call(client, "GET", f"{gateway}/customers/v1/customers", headers={"X-Api-Key": key})
    await call(
        client,
        "GET",
        f"{gateway}/sandbox/customers/v1/customers",
        headers={"Authorization": f"Bearer {api_key}"},
    )
    await call(client, "GET", f"{gateway}/customers/v1/boom", headers={"X-Api-Key": api_key})
    for secret in (client_secret, WRONG_SECRET):
        basic = b64encode(f"field:{secret}".encode()).decode()
        status, text = await call(
            client,
            "POST",
            f"{gateway}/oauth/token",
            hands_out=True,
            headers={"Authorization": f"Basic {basic}"},
            data={"grant_type": "client_credentials", "audience": "customers"},
        )
        token = re.search(r'"access_token":"([^"]+)"', text)
        if token:
            status, _ = await call(
                client,
                "GET",
                f"{gateway}/customers/v1/customers",
                headers={"Authorization": f"Bearer {token.group(1)}"},
            )
            assert status == 200
        else:
            record.seen.append(("refused token request", text))
    await call(
        client, "GET", f"{gateway}/customers/v1/openapi.json", headers={"X-Api-Key": api_key}
    )
    await call(client, "GET", f"{gateway}/.well-known/jwks.json")

    # a literal secret, refused on the admin API
    leaky = {
        "kind": "Connection",
        "metadata": {"name": "leaky", "environment": "sandbox"},
        "spec": {
            "system": "crm",
            "connector": "rest",
            "config": {"baseUrl": "https://x.test", "headers": {"X-Token": LITERAL}},
        },
    }
    status, _ = await call(
        client, "POST", f"{control}/admin/v1/connections", headers=json_admin, json=leaky
    )
    assert status == 422
    # everything an operator reads
    for path in (
        "connections",
        "secrets",
        "vault",
        "audit?limit=1000",
        "catalog",
        "catalog/backstage",
        "status",
        "apps/field/keys",
        "access-requests",
        "grants",
    ):
        status, _ = await call(client, "GET", f"{control}/admin/v1/{path}", headers=admin)
        assert status == 200, path
    for fmt in ("openapi-3.1", "openapi-3.0", "power-platform", "postman"):
        await call(
            client,
            "GET",
            f"{control}/admin/v1/apis/customers/versions/v1/export",
            headers=admin,
            params={"format": fmt},
        )
    await call(client, "POST", f"{control}/admin/v1/vault/rotate", headers=admin)
    await call(client, "GET", f"{control}/metrics")
    await call(client, "GET", f"{control}/admin/openapi.json")
    await call(client, "GET", f"{control}/admin/v1/secrets", headers={"Authorization": "Bearer x"})
    # the portal: a wrong and a right password, then the pages
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        for password in (WRONG_PASSWORD, PASSWORD):
            _, page = await call(browser, "GET", f"{control}/portal/sign-in")
            csrf = re.search(r'name="csrf" value="([^"]+)"', page)
            assert csrf is not None
            await call(
                browser,
                "POST",
                f"{control}/portal/sign-in",
                data={"name": "dana", "password": password, "csrf": csrf.group(1)},
            )
        for page in ("", "apps", "requests", "audit", "apis/customers"):
            status, _ = await call(browser, "GET", f"{control}/portal/{page}")
            assert status == 200, page
