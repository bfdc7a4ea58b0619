"""The catalog: entries drawn from resources (owners, lifecycles, the Systems they touch,
relations both ways), full-text search with ranking, filters and facets, the cache per
store revision, the admin API and the CLI."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from isthmus.cli.main import app as cli_app
from isthmus.governance.catalog import Catalog, Entry, Filters, build_entries, current_catalog
from isthmus.governance.catalog import cache as catalog_cache
from isthmus.governance.catalog.backstage import backstage_entities
from isthmus.governance.catalog.entries import lifecycle
from isthmus.governance.catalog.search import PREFIX_SCORED, completions, words
from isthmus.model import Resource
from isthmus.project.validate import load_project
from isthmus.store import Change
from tests.gateway.conftest import Running, resource
from tests.helpers import assert_problem

DEMO = Path(__file__).parents[2] / "src" / "isthmus" / "demo" / "project"
SQL = 'SELECT id, name FROM "crm-db".accounts'


def documents() -> list[dict[str, Any]]:
    """A small hub: two Systems, a View over one, Apis over both, an App, an EventType."""
    proxy = {"type": "proxy", "connection": "crm-db"}
    return [
        {"kind": "System", "metadata": {"name": "crm", "owner": "sales-ops"}},
        {
            "kind": "System",
            "metadata": {"name": "erp", "owner": "finance", "description": "Café Überweisungen"},
        },
        {
            "kind": "Connection",
            "metadata": {"name": "crm-db", "environment": "sandbox"},
            "spec": {
                "system": "crm",
                "connector": "memory",
                "triggers": [
                    {
                        "name": "created",
                        "eventType": "account-created",
                        "poll": {"stream": "accounts"},
                    }
                ],
            },
        },
        {
            "kind": "Connection",
            "metadata": {"name": "erp-db", "environment": "sandbox"},
            "spec": {"system": "erp", "connector": "memory"},
        },
        {
            "kind": "EventType",
            "metadata": {"name": "account-created", "owner": "sales-ops"},
            "spec": {"versions": [{"version": 1, "schema": {"type": "object"}}]},
        },
        {
            "kind": "View",
            "metadata": {"name": "accounts", "owner": "sales-ops", "tags": ["crm", "gdpr"]},
            "spec": {"sql": SQL},
        },
        {
            # Mentions customers over and over, in its docs only: it must still rank below
            # the entry *named* customers.
            "kind": "Api",
            "metadata": {
                "name": "orders",
                "owner": "finance",
                "docs": "# Orders\n\nOrders of customers: customers' customers order, "
                "customers pay.",
            },
            "spec": {
                "title": "Orders",
                "versions": [
                    {
                        "name": "v1",
                        "routes": [
                            {"path": "/o", "target": {"type": "proxy", "connection": "erp-db"}}
                        ],
                    },
                ],
            },
        },
        {
            "kind": "Api",
            "metadata": {"name": "customers", "owner": "sales-ops"},
            "spec": {
                "title": "Customers",
                "versions": [
                    {"name": "v1", "routes": [{"path": "/c", "target": proxy}]},
                    {"name": "v2", "status": "draft", "views": ["accounts"]},
                ],
            },
        },
        {
            "kind": "Api",
            "metadata": {"name": "legacy-billing", "owner": "finance", "tags": ["billing"]},
            "spec": {
                "versions": [
                    {
                        "name": "v1",
                        "status": "deprecated",
                        "deprecatedAt": "2026-01-01",
                        "sunset": "2027-01-01",
                        "routes": [
                            {"path": "/b", "target": {"type": "proxy", "connection": "erp-db"}}
                        ],
                    }
                ]
            },
        },
        {
            "kind": "App",
            "metadata": {"name": "field-sales", "owner": "sales-ops"},
            "spec": {"platform": "Power Apps", "apis": ["customers"]},
        },
    ]


def resources() -> list[Resource]:
    return [resource(d) for d in documents()]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog(build_entries(resources()))


def names(catalog: Catalog, query: str, **filters: Any) -> list[str]:
    found = catalog.search(query, Filters(**filters), limit=100)
    return [f"{hit.entry.kind}/{hit.entry.name}" for hit in found.hits]


# --- entries ---------------------------------------------------------------------------


def test_every_catalogued_kind_has_an_entry_and_nothing_else(catalog: Catalog) -> None:
    kinds = {e.kind for e in catalog.entries}
    assert kinds == {"Api", "EventType", "View", "System", "App"}
    assert catalog.get("Connection", "crm-db") is None
    assert catalog.get("api", "customers") is catalog.get("Api", "customers")


def test_systems_touched(catalog: Catalog) -> None:
    def systems(kind: str, name: str) -> list[str]:
        entry = catalog.get(kind, name)
        assert entry is not None
        return entry.systems

    assert systems("Api", "customers") == ["crm"]  # its route's Connection and its View
    assert systems("Api", "orders") == ["erp"]
    assert systems("View", "accounts") == ["crm"]
    assert systems("EventType", "account-created") == ["crm"]  # a trigger publishes it
    assert systems("System", "erp") == ["erp"]
    assert systems("App", "field-sales") == []


def test_lifecycle_rule() -> None:
    by_name = {r.metadata.name: r for r in resources()}
    assert lifecycle(by_name["customers"]) == ("production", False)  # a published version
    assert lifecycle(by_name["legacy-billing"]) == ("deprecated", False)
    draft_only = resource(
        {"kind": "Api", "metadata": {"name": "next"}, "spec": {"versions": [
            {"name": "v1", "status": "draft"}]}}
    )  # fmt: skip
    assert lifecycle(draft_only) == ("experimental", False)
    retired = resource(
        {"kind": "Api", "metadata": {"name": "old"}, "spec": {"versions": [
            {"name": "v1", "status": "retired"}]}}
    )  # fmt: skip
    assert lifecycle(retired) == ("deprecated", False)
    declared = resource(
        {"kind": "Api", "metadata": {"name": "x", "lifecycle": "experimental"}, "spec": {
            "versions": [{"name": "v1"}]}}
    )  # fmt: skip
    assert lifecycle(declared) == ("experimental", True)
    assert lifecycle(by_name["crm"]) == ("production", False)


def test_relations_both_ways(catalog: Catalog) -> None:
    api = catalog.get("Api", "customers")
    app = catalog.get("App", "field-sales")
    view = catalog.get("View", "accounts")
    assert api is not None
    assert app is not None
    assert view is not None
    assert app.related("consumes", "Api") == ["customers"]
    assert api.related("consumedBy", "App") == ["field-sales"]
    assert api.related("dependsOn", "Connection") == ["crm-db"]
    assert api.related("dependsOn", "View") == ["accounts"]
    assert [r.via for r in api.relations if r.name == "accounts"] == [["v2"]]
    assert view.related("dependencyOf", "Api") == ["customers"]
    assert view.related("dependsOn", "Connection") == ["crm-db"]
    assert [v.name for v in api.versions] == ["v1", "v2"]


def test_granted_apis_are_consumed_too() -> None:
    from datetime import UTC, datetime

    from isthmus.store.access import Grant

    grant = Grant(1, "field-sales", "orders", "sandbox", None, 1, "olivia", datetime.now(UTC))
    entries = {(e.kind, e.name): e for e in build_entries(resources(), [grant])}
    app = entries[("App", "field-sales")]
    assert app.related("consumes", "Api") == ["customers", "orders"]
    assert [r.via for r in app.relations if r.name == "orders"] == [["grant:sandbox"]]
    assert entries[("Api", "orders")].related("consumedBy") == ["field-sales"]


# --- search ----------------------------------------------------------------------------


def test_words_fold_case_and_accents() -> None:
    assert words("Café ÜBERWEISUNG customer_360 crm-db") == [
        "cafe", "uberweisung", "customer", "360", "crm", "db"
    ]  # fmt: skip


def test_exact_name_ranks_first(catalog: Catalog) -> None:
    found = names(catalog, "customers")
    assert found[0] == "Api/customers"
    assert "Api/orders" in found  # found through its docs, ranked below


def test_prefix_of_the_last_word(catalog: Catalog) -> None:
    assert names(catalog, "cust")[0] == "Api/customers"
    assert names(catalog, "legacy bil") == ["Api/legacy-billing"]
    assert names(catalog, "billing leg") == ["Api/legacy-billing"]
    assert names(catalog, "bil legacy") == []  # only the last word may be cut short


def _api(name: str, **metadata: Any) -> Resource:
    route = {"path": "/x", "target": {"type": "proxy", "connection": "c"}}
    return resource(
        {
            "kind": "Api",
            "metadata": {"name": name, "owner": "t", **metadata},
            "spec": {"versions": [{"name": "v1", "routes": [route]}]},
        }
    )


def test_a_prefix_finds_every_word_it_starts() -> None:
    # More words start with "s" than the 50 completions the search once stopped at.
    starts = ["sales", "sap", "scanners", "schools", "search", "security", "sensors", "shops"]
    words_ = [f"{w}{n}" for w in starts for n in range(10)]  # 80 words, 80 Apis
    found = Catalog(build_entries([_api(f"{w}-api") for w in words_])).search("s", limit=200)
    assert found.total == 80
    assert sorted(h.entry.name for h in found.hits) == sorted(f"{w}-api" for w in words_)
    assert found.facets["kind"] == {"Api": 80}
    assert found.facets["owner"] == {"t": 80}


def test_a_prefix_of_very_many_words_still_finds_them_all_and_ranks_fields() -> None:
    many = PREFIX_SCORED + 50  # past word-by-word scoring: one regex query matches them
    apis = [_api(f"s{n:03d}") for n in range(many)]
    apis.append(_api("other", description="about s999"))  # the prefix only in its text
    catalog = Catalog(build_entries(apis))
    found = catalog.search("s", limit=1000)
    assert found.total == many + 1
    assert found.hits[-1].entry.name == "other"  # a name outweighs a description
    assert [h.entry.name for h in catalog.search("s12", limit=100).hits] == [
        f"s{n}" for n in range(120, 130)
    ]
    assert [h.entry.name for h in catalog.search("s120").hits] == ["s120"]


def test_completions_are_the_longer_words_sharing_the_prefix() -> None:
    vocabulary = sorted(["s", "sa", "sap", "sb", "t", "s1", "ta"])
    assert list(completions(vocabulary, "s")) == ["s1", "sa", "sap", "sb"]
    assert list(completions(vocabulary, "sa")) == ["sap"]
    assert list(completions(vocabulary, "t")) == ["ta"]
    assert list(completions(vocabulary, "u")) == []
    assert list(completions(vocabulary, "sap")) == []


def test_accents_and_case_do_not_matter(catalog: Catalog) -> None:
    assert names(catalog, "cafe uberweisungen") == ["System/erp"]
    assert names(catalog, "CAFÉ") == ["System/erp"]


def test_docs_text_is_searched(catalog: Catalog) -> None:
    assert names(catalog, "pay") == ["Api/orders"]


def test_every_word_must_match(catalog: Catalog) -> None:
    assert names(catalog, "customers gdpr") == []
    assert names(catalog, "accounts gdpr") == ["View/accounts"]


def test_filters_and_facets(catalog: Catalog) -> None:
    everything = catalog.search("")
    assert everything.total == len(catalog.entries)
    assert everything.facets["kind"] == {"Api": 3, "System": 2, "App": 1, "EventType": 1, "View": 1}
    assert names(catalog, "", kind=["api"], owner=["finance"]) == [
        "Api/legacy-billing", "Api/orders"
    ]  # fmt: skip
    assert names(catalog, "", system=["crm"], kind=["View", "EventType"]) == [
        "EventType/account-created", "View/accounts"
    ]  # fmt: skip
    assert names(catalog, "", lifecycle=["deprecated"]) == ["Api/legacy-billing"]
    assert names(catalog, "", tag=["gdpr"]) == ["View/accounts"]
    filtered = catalog.search("", Filters(kind=["Api"]))
    # a facet counts with the other filters applied, not its own: the sidebar still
    # offers the other kinds, and counts owners among Apis only
    assert filtered.facets["kind"]["View"] == 1
    assert filtered.facets["owner"] == {"finance": 2, "sales-ops": 1}
    assert filtered.facets["lifecycle"] == {"production": 2, "deprecated": 1}


def test_paging(catalog: Catalog) -> None:
    first = catalog.search("", limit=3)
    rest = catalog.search("", limit=100, offset=3)
    assert first.total == rest.total == len(catalog.entries)
    seen = [h.entry.name for h in first.hits + rest.hits]
    assert seen == [e.name for e in catalog.entries]


def test_demo_customers_api_is_found_by_search() -> None:
    project = load_project(DEMO)
    assert project.ok, project.issues
    demo = Catalog(build_entries(project.resources.values()))
    found = demo.search("customers")
    assert found.hits[0].entry.kind == "Api"
    assert found.hits[0].entry.name == "customers"
    entry = demo.get("Api", "customers")
    assert entry is not None
    assert entry.docs
    assert entry.tags
    assert entry.lifecycle == "production"


# --- from the store --------------------------------------------------------------------


async def test_built_once_per_revision_and_grants_count(running: Running) -> None:
    store = running.hub.store
    first = await current_catalog(store)
    assert await current_catalog(store) is first
    other = first.get("App", "other")
    assert other is not None
    assert other.related("consumes") == []
    async with store.engine.begin() as conn:
        await store.access.add_grant(conn, "other", "stock", "sandbox", None, None, "test")
    second = await current_catalog(store)
    assert second is not first
    other = second.get("App", "other")
    assert other is not None
    assert other.related("consumes") == ["stock"]
    stock = second.get("Api", "stock")
    assert stock is not None
    assert sorted(stock.related("consumedBy")) == ["other", "portal"]


async def test_concurrent_callers_share_one_build(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = running.hub.store
    await current_catalog(store)
    builds: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> list[Entry]:
        builds.append(1)
        return build_entries(*args, **kwargs)

    monkeypatch.setattr(catalog_cache, "build_entries", counted)
    async with store.engine.begin() as conn:
        await store.access.add_grant(conn, "other", "stock", "sandbox", None, None, "test")
    before = catalog_cache.CATALOGS.builds
    # Twenty requests arriving just after a write: one builds, the others wait for it.
    built = await asyncio.gather(*(current_catalog(store) for _ in range(20)))
    assert len(builds) == 1
    assert catalog_cache.CATALOGS.builds == before + 1
    assert all(c is built[0] for c in built)
    assert built[0].revision == await store.resources.revision()


async def test_backstage_export_is_built_once_per_revision_off_the_loop(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[int] = []

    def recorded(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        threads.append(threading.get_ident())
        return backstage_entities(*args, **kwargs)

    monkeypatch.setattr(catalog_cache, "backstage_entities", recorded)
    path = "/admin/v1/catalog/backstage"
    replies = await asyncio.gather(*(running.admin_call("GET", path) for _ in range(8)))
    assert {r.status for r in replies} == {200}
    assert len({r.body for r in replies}) == 1
    assert len(threads) == 1  # one build for eight requests
    assert threads[0] != threading.get_ident()  # in a worker thread, not the event loop's
    again = await running.admin_call("GET", path)
    assert again.body == replies[0].body
    assert len(threads) == 1  # same revision, same owner: the built file
    other_owner = await running.admin_call("GET", path, query="owner=platform")
    assert b"group:default/platform" in other_owner.body
    assert len(threads) == 2
    store = running.hub.store
    async with store.engine.begin() as conn:
        await store.access.add_grant(conn, "other", "stock", "sandbox", None, None, "test")
    moved = await running.admin_call("GET", path, query="owner=platform")
    assert len(threads) == 3  # the store moved on
    assert moved.body != other_owner.body  # the grant shows: other consumes stock


async def test_admin_search(running: Running) -> None:
    reply = await running.admin_call("GET", "/admin/v1/catalog", query="q=cust&kind=Api")
    assert reply.status == 200, reply.body
    body = reply.json()
    assert body["entries"][0]["name"] == "customers"
    assert body["entries"][0]["kind"] == "Api"
    assert "lifecycleDeclared" in body["entries"][0]
    assert body["facets"]["kind"]["Api"] == body["total"]
    assert body["facets"]["system"] == {"crm": body["total"]}
    paged = await running.admin_call("GET", "/admin/v1/catalog", query="limit=1&offset=1")
    assert paged.status == 200
    assert len(paged.json()["entries"]) == 1


async def test_admin_entry_and_unknown(running: Running) -> None:
    reply = await running.admin_call("GET", "/admin/v1/catalog/Api/customers")
    assert reply.status == 200, reply.body
    body = reply.json()
    assert {"type": "consumedBy", "kind": "App", "name": "portal", "via": ["declared"]} in (
        body["relations"]
    )
    assert body["systems"] == ["crm"]
    assert [v["name"] for v in body["versions"]] == ["v1", "v2", "v3", "v0"]
    missing = await running.admin_call("GET", "/admin/v1/catalog/Api/nope")
    assert_problem(missing, 404, "not-found")
    wrong_kind = await running.admin_call("GET", "/admin/v1/catalog/Connection/crm")
    assert_problem(wrong_kind, 404, "not-found")


async def test_admin_needs_the_token(running: Running) -> None:
    for path in (
        "/admin/v1/catalog",
        "/admin/v1/catalog/Api/customers",
        "/admin/v1/catalog/backstage",
    ):
        reply = await running.admin_call("GET", path, headers={"Authorization": "Bearer wrong"})
        assert_problem(reply, 401, "unauthenticated")


async def test_admin_backstage_download(running: Running) -> None:
    reply = await running.admin_call("GET", "/admin/v1/catalog/backstage", query="owner=platform")
    assert reply.status == 200, reply.body
    assert reply.headers["content-type"].startswith("application/yaml")
    assert 'filename="catalog-info.yaml"' in reply.headers["content-disposition"]
    text = reply.body.decode()
    assert "name: customers" in text
    assert "owner: group:default/platform" in text


async def test_store_changes_show_up(running: Running) -> None:
    added = resource(
        {"kind": "System", "metadata": {"name": "wms", "owner": "logistics", "tags": ["iot"]}}
    )
    await running.hub.store.resources.apply([Change("create", added.key, added)])
    reply = await running.admin_call("GET", "/admin/v1/catalog", query="tag=iot")
    assert [e["name"] for e in reply.json()["entries"]] == ["wms"]


# --- CLI -------------------------------------------------------------------------------

runner = CliRunner()


def rows(output: str) -> list[list[str]]:
    """The table's rows (a long description wraps onto lines of its own)."""
    kinds = ("Api", "EventType", "View", "System", "App")
    return [
        line.split() for line in output.splitlines() if line.split()[:1] in [[k] for k in kinds]
    ]


def test_cli_search_project() -> None:
    result = runner.invoke(cli_app, ["catalog", "search", "cust", "--project", str(DEMO)])
    assert result.exit_code == 0, result.output
    assert rows(result.output)[0][:2] == ["Api", "customers"]
    filtered = runner.invoke(
        cli_app, ["catalog", "search", "--project", str(DEMO), "--kind", "View", "--system",
                  "billing"]
    )  # fmt: skip
    assert filtered.exit_code == 0, filtered.output
    assert [row[:2] for row in rows(filtered.output)] == [
        ["View", "customer_360"], ["View", "invoices"]
    ]  # fmt: skip
    assert "2 found" in filtered.output
    none = runner.invoke(cli_app, ["catalog", "search", "zzz", "--project", str(DEMO)])
    assert none.exit_code == 0
    assert "Nothing in the catalog matches" in none.output


def test_cli_search_store(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    applied = runner.invoke(cli_app, ["apply", str(DEMO), "--home", home])
    assert applied.exit_code == 0, applied.output
    result = runner.invoke(cli_app, ["catalog", "search", "invoices", "--home", home])
    assert result.exit_code == 0, result.output
    assert rows(result.output)[0][:2] == ["View", "invoices"]


def test_cli_export(tmp_path: Path) -> None:
    out = tmp_path / "catalog-info.yaml"
    result = runner.invoke(
        cli_app, ["catalog", "export", "--project", str(DEMO), "-o", str(out), "--issuer",
                  "https://hub.example.com"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.startswith("---\n")
    assert "kind: API" in text
    assert "https://hub.example.com" in text
    wrong = runner.invoke(cli_app, ["catalog", "export", "--format", "csv", "-p", str(DEMO)])
    assert wrong.exit_code == 1
    assert "not a catalog export format" in wrong.output
