"""``isthmus demo``: the CRM, the hub in embedded mode, the demo project, a key."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from importlib.resources import as_file, files
from pathlib import Path

from isthmus.demo.crm import start_crm
from isthmus.hub import Hub
from isthmus.model import Connection, Resource, ResourceKey
from isthmus.project.diff import compute_diff
from isthmus.project.validate import load_project
from isthmus.serve import serve
from isthmus.settings import Settings

DEMO_APP = "demo-app"


def demo_resources(crm_url: str) -> dict[ResourceKey, Resource]:
    with as_file(files("isthmus.demo") / "project") as folder:
        project = load_project(Path(folder))
    if not project.ok:  # the shipped project is tested; this guards edits to it
        raise RuntimeError("demo project is invalid: " + "; ".join(map(str, project.issues)))
    resources = dict(project.resources)
    key = ResourceKey("Connection", "crm", "sandbox")
    crm = resources[key]
    assert isinstance(crm, Connection)
    config = dict(crm.spec.config) | {"baseUrl": crm_url}
    resources[key] = crm.model_copy(update={"spec": crm.spec.model_copy(update={"config": config})})
    return resources


async def prepare(hub: Hub, crm_url: str, crm_token: str) -> str:
    """Apply the demo project and return a fresh API key for the demo App."""
    await hub.vault.set("crm-token", crm_token)
    _, current = await hub.store.resources.snapshot()
    diff = compute_diff(demo_resources(crm_url), current)
    await hub.store.resources.apply(diff.changes)
    for old in await hub.store.keys.list(DEMO_APP):
        if old.label == "demo" and old.revoked_at is None:
            await hub.store.keys.revoke(old.id)
    _, key = await hub.store.keys.create(DEMO_APP, "sandbox", "demo")
    await hub.snapshots.refresh()
    return key


async def run_demo(settings: Settings, crm_port: int, announce: Callable[[str], None]) -> None:
    token = secrets.token_urlsafe(24)
    runner = await start_crm(token, settings.host, crm_port)
    crm_url = f"http://{settings.host}:{crm_port}"

    async def ready(hub: Hub) -> None:
        key = await prepare(hub, crm_url, token)
        gateway = f"http://{settings.host}:{settings.gateway_port}"
        control = f"http://{settings.control_host}:{settings.control_port}"
        announce(
            "\n".join(
                [
                    "",
                    "Isthmus demo is running (embedded mode). Ctrl-C stops everything.",
                    "",
                    f"  demo CRM (backend)  {crm_url}   (needs a token the hub keeps in its vault)",
                    f"  gateway             {gateway}",
                    f"  admin API           {control}/admin/docs",
                    f"  admin token         {settings.home / 'admin-token'}",
                    "",
                    "List customers through the gateway:",
                    "",
                    f"  curl -s -H 'X-Api-Key: {key}' {gateway}/customers/v1/customers",
                    "",
                    "Without the key you get a 401 problem+json:",
                    "",
                    f"  curl -s {gateway}/customers/v1/customers",
                    "",
                    "Publish a CustomerCreated event (checked against its schema; 202, its id):",
                    "",
                    f"  curl -s -H 'X-Api-Key: {key}' -H 'Content-Type: application/json' "
                    f"""-d '{{"id": "c-7", "name": "Grace Hopper"}}' """
                    f"{gateway}/crm-events/v1/customer-created",
                    "",
                ]
            )
        )

    try:
        await serve(settings, on_ready=ready)
    finally:
        await runner.cleanup()
