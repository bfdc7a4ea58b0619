"""``isthmus demo``: the CRM, the hub in embedded mode, the demo project, a key."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

import orjson

from isthmus.demo.crm import PRODUCTION_CUSTOMERS, start_crm
from isthmus.demo.data import write_billing, write_readings
from isthmus.governance.people import hash_password
from isthmus.hub import Hub
from isthmus.model import Connection, Resource, ResourceKey
from isthmus.project.diff import compute_diff
from isthmus.project.validate import load_project
from isthmus.serve import serve
from isthmus.settings import Settings

DEMO_APP = "demo-app"
SQL_EXAMPLE = orjson.dumps(
    {"sql": "SELECT name, billed, temperature FROM customer_360 ORDER BY billed DESC LIMIT 3"}
).decode()
GRAPHQL_EXAMPLE = orjson.dumps(
    {"query": "{ customer_360(limit: 3) { items { name outstanding } } }"}
).decode()


@dataclass(frozen=True)
class DemoCrm:
    """Where this run's CRMs listen, and the tokens they take."""

    url: str
    token: str
    production_url: str
    production_token: str


# People who sign in to the portal in the demo: (name, display name, teams).
PEOPLE = (
    ("dana", "Dana (citizen developer)", ["field-apps"]),
    ("olivia", "Olivia (owner of the customers Api)", ["sales-ops"]),
)


def demo_resources(crm: DemoCrm, home: Path) -> dict[ResourceKey, Resource]:
    """The demo project, its Connections pointed at this run's CRMs and data files."""
    with as_file(files("isthmus.demo") / "project") as folder:
        project = load_project(Path(folder))
    if not project.ok:  # the shipped project is tested; this guards edits to it
        raise RuntimeError("demo project is invalid: " + "; ".join(map(str, project.issues)))
    resources = dict(project.resources)
    where = {
        "crm": {"baseUrl": crm.url},
        "billing": {"url": f"sqlite+aiosqlite:///{billing_path(home)}"},
        "plant": {"root": str(plant_folder(home))},
    }
    for name, changes in where.items():
        _configure(resources, name, changes)
    _configure(resources, "crm", {"baseUrl": crm.production_url}, "production")
    records = resources[ResourceKey("Connection", "crm-records", "sandbox")]
    assert isinstance(records, Connection)
    values = dict(records.spec.config["values"]) | {"url": crm.url}
    _configure(resources, "crm-records", {"values": values})
    return resources


def _configure(
    resources: dict[ResourceKey, Resource], name: str, changes: dict[str, Any],
    environment: str = "sandbox",
) -> None:  # fmt: skip
    key = ResourceKey("Connection", name, environment)
    connection = resources[key]
    assert isinstance(connection, Connection)
    config = dict(connection.spec.config) | changes
    spec = connection.spec.model_copy(update={"config": config})
    resources[key] = connection.model_copy(update={"spec": spec})


def billing_path(home: Path) -> Path:
    return home / "demo" / "billing.db"


def plant_folder(home: Path) -> Path:
    return home / "demo" / "plant"


@dataclass(frozen=True)
class Prepared:
    key: str  # a sandbox API key of the demo App
    logins: dict[str, str]  # portal sign-ins: name -> this run's password


async def prepare(hub: Hub, crm: DemoCrm) -> Prepared:
    """Write the demo's data, apply the demo project, give the portal's people fresh
    passwords and return them with a fresh API key for the demo App."""
    home = hub.settings.home
    await asyncio.to_thread(write_billing, billing_path(home))
    await asyncio.to_thread(write_readings, plant_folder(home))
    await hub.vault.set("crm-token", crm.token)
    await hub.vault.set("crm-token-production", crm.production_token)
    _, current = await hub.store.resources.snapshot()
    diff = compute_diff(demo_resources(crm, home), current)
    await hub.store.resources.apply(diff.changes)
    for old in await hub.store.keys.list(DEMO_APP):
        if old.label == "demo" and old.revoked_at is None:
            await hub.store.keys.revoke(old.id)
    _, key = await hub.store.keys.create(DEMO_APP, "sandbox", "demo")
    logins = {}
    for name, display, teams in PEOPLE:
        password = secrets.token_urlsafe(12)
        hashed = hash_password(password)
        if await hub.store.users.get(name) is None:
            await hub.store.users.add(name, display, hashed, teams, admin=False)
        else:
            await hub.store.users.set_password(name, hashed)
        logins[name] = password
    await hub.snapshots.refresh()
    return Prepared(key, logins)


async def run_demo(settings: Settings, crm_port: int, announce: Callable[[str], None]) -> None:
    token, production_token = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    runner, _ = await start_crm(token, settings.host, crm_port)
    production, production_port = await start_crm(
        production_token, settings.host, 0, PRODUCTION_CUSTOMERS
    )
    crm_url = f"http://{settings.host}:{crm_port}"
    crm = DemoCrm(crm_url, token, f"http://{settings.host}:{production_port}", production_token)

    async def ready(hub: Hub) -> None:
        prepared = await prepare(hub, crm)
        key = prepared.key
        gateway = f"http://{settings.host}:{settings.gateway_port}"
        control = f"http://{settings.control_host}:{settings.control_port}"
        people = [
            f"  portal sign-in      {name} / {password}   ({display})"
            for (name, display, _), password in zip(PEOPLE, prepared.logins.values(), strict=True)
        ]
        announce(
            "\n".join(
                [
                    "",
                    "Isthmus demo is running (embedded mode). Ctrl-C stops everything.",
                    "",
                    f"  demo CRM (backend)  {crm_url}   (needs a token the hub keeps in its vault)",
                    f"  production CRM      {crm.production_url}   (other customers)",
                    f"  gateway             {gateway}",
                    f"  developer portal    {control}/portal/",
                    *people,
                    f"  admin API           {control}/admin/docs",
                    f"  admin token         {settings.home / 'admin-token'}",
                    "",
                    "In the portal, Dana finds the customers Api, takes a sandbox key, asks for",
                    "production access; Olivia approves; Dana collects the client secret.",
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
                    "One customer_360 View over the CRM (REST), billing (SQL) and the plant "
                    "(Parquet):",
                    "",
                    f"  curl -s -H 'X-Api-Key: {key}' '{gateway}/insights/v1/customer_360"
                    "?filter=tier%20eq%20%27gold%27'",
                    "",
                    "The same model in SQL:",
                    "",
                    f"  curl -s -H 'X-Api-Key: {key}' -H 'Content-Type: application/json' "
                    f"-d '{SQL_EXAMPLE}' {gateway}/query",
                    "",
                    "In Excel or Power BI: Get Data > OData feed, Web API key 'api_key':",
                    "",
                    f"  {gateway}/insights/v1/odata/",
                    "",
                    "GraphQL:",
                    "",
                    f"  curl -s -H 'X-Api-Key: {key}' -H 'Content-Type: application/json' "
                    f"-d '{GRAPHQL_EXAMPLE}' {gateway}/insights/v1/graphql",
                    "",
                ]
            )
        )

    try:
        await serve(settings, on_ready=ready)
    finally:
        await runner.cleanup()
        await production.cleanup()
