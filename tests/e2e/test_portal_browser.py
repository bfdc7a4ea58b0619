"""The developer portal in a real browser (Playwright driving Debian's Chromium), as a
citizen developer walks it on ``isthmus demo``:

find the ``customers`` Api by search, read its docs, take a sandbox key, copy the curl
example and run it against the sandbox, ask for production access; switch to the Api's
owner and approve; come back, collect the credentials, trade them for a token and call
the production route. Screenshots of each step go to ``test-artifacts/portal-flow/``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from base64 import b64encode
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.proc import Process
from tests.helpers import free_port

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "portal-flow"
# Chromium on a machine without a network or a display: no first-run work, no calls home.
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
WHY = "Account managers in the field need live customer data in the Power App."


def demo_logins(text: str) -> dict[str, str]:
    return dict(re.findall(r"portal sign-in +(\w+) / (\S+)", text))


async def shot(page: Any, name: str) -> None:
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def sign_in(page: Any, portal: str, name: str, password: str) -> None:
    await page.goto(f"{portal}/portal/")
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(re.compile(r".*/portal/(\?.*)?$"))


async def sign_out(page: Any) -> None:
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url(re.compile(r".*/sign-in$"))


def run_copied(command: str, key: str) -> tuple[int, str]:
    """Run a copied shell example as a user would, their key in the environment."""
    env = {**os.environ, "ISTHMUS_API_KEY": key}
    result = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=30, env=env
    )
    return result.returncode, result.stdout


async def test_a_citizen_developer_goes_from_search_to_production(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: 'apt-get install chromium' (make test does it as root)")
    from playwright.async_api import async_playwright

    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    gateway_port, control_port, crm_port = free_port(), free_port(), free_port()
    demo = Process(
        ["demo", "--home", str(tmp_path / "demo"), "--gateway-port", str(gateway_port),
         "--control-port", str(control_port), "--crm-port", str(crm_port)],
        tmp_path,
    )  # fmt: skip
    try:
        banner = await demo.wait_for_text("portal sign-in")
        banner = await demo.wait_for_text("GraphQL")
        logins = demo_logins(banner)
        assert set(logins) >= {"dana", "olivia"}
        portal = f"http://127.0.0.1:{control_port}"
        gateway = f"http://127.0.0.1:{gateway_port}"
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            context = await browser.new_context(viewport={"width": 1366, "height": 768})
            await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=portal)
            page = await context.new_page()
            await _walk(page, portal, gateway, logins, tmp_path)
            await browser.close()
    finally:
        demo.stop()


async def _walk(
    page: Any, portal: str, gateway: str, logins: dict[str, str], tmp_path: Path
) -> None:
    # 1. The citizen developer signs in and finds the customers Api by search.
    await sign_in(page, portal, "dana", logins["dana"])
    await shot(page, "01-signed-in-catalog")
    await page.get_by_label("Search Apis, events, Views, Systems and Apps").fill("customers")
    await page.get_by_role("button", name="Search").click()
    result = page.locator('li[data-kind="Api"][data-name="customers"]')
    await result.wait_for()
    await shot(page, "02-search-customers")
    await result.get_by_role("link").first.click()
    await page.wait_for_url(re.compile(r".*/portal/apis/customers.*"))

    # 2. Reads its docs.
    docs = page.get_by_role("region", name="About this Api")
    assert "customers" in (await docs.inner_text()).lower()
    await shot(page, "03-api-docs-and-reference")

    # 3. Takes sandbox access (self-service) for the App and keeps the key it is shown.
    await page.get_by_label("App", exact=True).select_option("field-sales")
    await page.get_by_label("Environment").select_option("sandbox")
    await page.get_by_role("button", name="Ask for access").click()
    key_field = page.locator('.credential[data-environment="sandbox"] input.secret-value')
    sandbox_key = await key_field.input_value()
    assert sandbox_key.startswith("isk_sandbox_")
    await shot(page, "04-sandbox-key-shown-once")

    # 4. Copies the curl example of 'list customers' and runs it against the sandbox.
    await page.goto(f"{portal}/portal/apis/customers")
    operation = page.locator("section.operation").filter(has_text="GET /customers").first
    await operation.get_by_role("tab", name="curl").click()
    await (
        operation.locator('[role="tabpanel"]:not([hidden])')
        .get_by_role("button", name="Copy")
        .click()
    )
    copied = await page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("curl ")
    assert "/sandbox/customers/" in copied
    await shot(page, "05-curl-example-copied")
    code, output = run_copied(copied, sandbox_key)
    assert code == 0, output
    sandbox_answer = json.loads(output)
    assert sandbox_answer["items"], sandbox_answer

    # 5. Asks for production access, with a justification.
    await page.get_by_label("App", exact=True).select_option("field-sales")
    await page.get_by_label("Environment").select_option("production")
    await page.get_by_label("Why the app needs it").fill(WHY)
    await page.get_by_role("button", name="Ask for access").click()
    await page.wait_for_url(re.compile(r".*/portal/requests$"))
    assert "pending" in (await page.locator("table").inner_text())
    await shot(page, "06-production-access-requested")
    await sign_out(page)

    # 6. The Api's owner approves.
    await sign_in(page, portal, "olivia", logins["olivia"])
    await page.get_by_role("link", name="Access requests").click()
    request = page.locator("article.request").filter(has_text="field-sales")
    assert WHY in await request.inner_text()
    await shot(page, "07-owner-sees-the-request")
    await request.get_by_label("Reason (required to reject)").fill("Approved for the field pilot.")
    await request.get_by_role("button", name="Approve").click()
    await page.wait_for_url(re.compile(r".*/portal/requests$"))
    await shot(page, "08-approved")
    await sign_out(page)

    # 7. The developer comes back and collects the production credentials (once).
    await sign_in(page, portal, "dana", logins["dana"])
    await page.get_by_role("link", name="My apps").click()
    row = page.locator('tr[data-kind="client-secret"][data-environment="production"]')
    await row.get_by_role("button", name="Collect (shown once)").click()
    secret = await page.locator(
        '.credential[data-kind="client-secret"] input.secret-value'
    ).input_value()
    client_id = await page.locator(".credential code.client-id").inner_text()
    assert secret.startswith("isc_production_")
    assert client_id == "field-sales"
    await shot(page, "09-production-credentials")

    # 8. Client credentials -> token -> the production route.
    async with aiohttp.ClientSession() as client:
        async with client.post(
            f"{gateway}/oauth/token",
            data={"grant_type": "client_credentials", "audience": "customers"},
            headers={
                "Authorization": "Basic " + b64encode(f"{client_id}:{secret}".encode()).decode()
            },
        ) as answer:
            assert answer.status == 200, await answer.text()
            token = (await answer.json())["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        async with client.get(f"{gateway}/customers/v1/customers", headers=headers) as answer:
            assert answer.status == 200, await answer.text()
            production = await answer.json()
    # the production CRM, not the sandbox's: different records
    assert production["items"] != sandbox_answer["items"]
    assert production["total"] > 0
