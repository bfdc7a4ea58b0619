"""The catalog as Backstage entities, checked by Backstage's own rules: its entity JSON
Schemas (from ``@backstage/catalog-model``, validated here with ``jsonschema``) and its
catalog's policies and kind validators (run in Node), plus the references and relations
a Backstage catalog builds its graph from.

``@backstage/catalog-model`` comes from npm (``make test`` installs it).
"""

from __future__ import annotations

import json
import subprocess
from functools import cache
from io import StringIO
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7
from ruamel.yaml import YAML

from isthmus.governance.catalog import build_entries
from isthmus.governance.catalog.backstage import (
    HubComponent,
    backstage_entities,
    backstage_yaml,
)
from isthmus.governance.catalog.backstage_refs import (
    Claim,
    entity_name,
    label_ok,
    numbered,
    owner_ref,
    tag,
    unique_names,
)
from isthmus.governance.exports.native import native_document
from isthmus.model import Api, EventType
from isthmus.model import Resource as IsthmusResource
from isthmus.project.validate import load_project
from tests.gateway.conftest import Running, resource
from tests.governance.test_catalog import DEMO, documents
from tests.services import fetched

ROOT = Path(__file__).parents[2]
NPM = ROOT / ".cache" / "npm"
MODEL = NPM / "node_modules" / "@backstage" / "catalog-model"
ISSUER = "https://hub.example.com"
KIND_SCHEMAS = {
    "API": "kinds/API.v1alpha1",
    "Component": "kinds/Component.v1alpha1",
    "Resource": "kinds/Resource.v1alpha1",
    "System": "kinds/System.v1alpha1",
}
SHARED_SCHEMAS = ("Entity", "EntityEnvelope", "EntityMeta", "shared/common")

# The schemas ship as JavaScript modules (JSON compiled in): Node reads them out.
DUMP_SCHEMAS = """
// the package's "exports" hide dist/: require the files by path
const base = process.cwd() + "/node_modules/@backstage/catalog-model/dist/schema/";
const out = {};
for (const name of JSON.parse(process.argv[1])) {
  out[name] = require(base + name + ".schema.json.cjs.js").default;
}
console.log(JSON.stringify(out));
"""

# What Backstage's catalog does to each entity it reads: its policies (schema, no foreign
# root fields, field formats: names, tags, labels, annotations, links) and kind validators.
CHECK = """
const m = require("@backstage/catalog-model");
const entities = JSON.parse(require("fs").readFileSync(0, "utf8"));
const policies = [new m.SchemaValidEntityPolicy(), new m.NoForeignRootFieldsEntityPolicy(),
  new m.FieldFormatEntityPolicy()];
const validators = [m.apiEntityV1alpha1Validator, m.componentEntityV1alpha1Validator,
  m.resourceEntityV1alpha1Validator, m.systemEntityV1alpha1Validator];
(async () => {
  const out = [];
  for (const e of entities) {
    const name = `${e.kind}/${e.metadata && e.metadata.name}`;
    try {
      for (const p of policies) await p.enforce(e);
      let known = false;
      for (const v of validators) if (await v.check(e)) known = true;
      if (!known) throw new Error("no kind validator accepts it");
      for (const r of [e.spec.owner, e.spec.system, ...(e.spec.providesApis || []),
                       ...(e.spec.consumesApis || []), ...(e.spec.dependsOn || [])]) {
        if (r !== undefined) m.parseEntityRef(r);  // throws on a malformed reference
      }
      out.push({entity: name, error: null});
    } catch (err) { out.push({entity: name, error: String(err.message || err)}); }
  }
  console.log(JSON.stringify(out));
})();
"""


def node() -> str:
    fetched(MODEL, "@backstage/catalog-model")
    return "node"


def run_node(script: str, *args: str, stdin: str = "") -> Any:
    done = subprocess.run(
        [node(), "-e", script, *args],
        cwd=NPM,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout)


@cache
def registry() -> Registry[Any]:
    names = [*SHARED_SCHEMAS, *KIND_SCHEMAS.values()]
    schemas = run_node(DUMP_SCHEMAS, json.dumps(names))
    # The schemas name each other by $id ("Entity", "EntityMeta", "common#…").
    return Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema, default_specification=DRAFT7))
        for schema in schemas.values()
    )


def schema_errors(entity: dict[str, Any]) -> list[str]:
    kind_schema = registry().contents(
        {"API": "ApiV1alpha1", "Component": "ComponentV1alpha1", "Resource": "ResourceV1alpha1",
         "System": "SystemV1alpha1"}[entity["kind"]]
    )  # fmt: skip
    validator = Draft7Validator(kind_schema, registry=registry())
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(entity)]


def backstage_errors(entities: list[dict[str, Any]]) -> dict[str, str]:
    checked = run_node(CHECK, stdin=json.dumps(entities))
    return {c["entity"]: c["error"] for c in checked if c["error"]}


def parsed(text: str) -> list[dict[str, Any]]:
    """The YAML as Backstage reads it: plain data, one entity per document."""
    return [json.loads(json.dumps(doc)) for doc in YAML(typ="safe").load_all(StringIO(text))]


def by_ref(entities: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f"{e['kind'].lower()}:default/{e['metadata']['name']}": e for e in entities}


def demo_resources() -> list[IsthmusResource]:
    project = load_project(DEMO)
    assert project.ok, project.issues
    return list(project.resources.values())


def export(resources: list[IsthmusResource], **kw: Any) -> list[dict[str, Any]]:
    entities = backstage_entities(build_entries(resources), resources, ISSUER, **kw)
    return parsed(backstage_yaml(entities))


# --- Backstage's own checks ------------------------------------------------------------


def test_demo_export_passes_backstage_schemas_and_policies() -> None:
    entities = export(demo_resources())
    assert {e["kind"] for e in entities} == {"API", "Component", "Resource", "System"}
    for entity in entities:
        assert schema_errors(entity) == [], entity["metadata"]["name"]
    assert backstage_errors(entities) == {}


def test_awkward_names_owners_and_labels_still_pass() -> None:
    resources = [resource(d) for d in documents()]
    resources += [
        resource(
            {
                "kind": "View",
                "metadata": {
                    "name": "sales__q1_",
                    "owner": "Jane Doe (EMEA)",
                    "labels": {"cost-center": "42", "note": "not a label value!"},
                    "tags": ["a--b"],
                },
                "spec": {"sql": "SELECT * FROM accounts"},
            }
        ),
        resource(
            {
                "kind": "App",
                "metadata": {"name": "excel", "owner": "user:default/jdoe"},
                "spec": {"platform": "Excel / Power BI", "apis": ["orders"]},
            }
        ),
    ]
    entities = export(resources)
    refs = by_ref(entities)
    view = refs["resource:default/sales_q1"]
    assert view["spec"]["owner"] == "group:default/Jane-Doe-EMEA"
    assert view["metadata"]["labels"] == {"cost-center": "42"}
    assert view["metadata"]["tags"] == ["a-b"]
    assert view["spec"]["dependsOn"] == ["resource:default/accounts"]
    excel = refs["component:default/excel"]
    assert excel["spec"]["owner"] == "user:default/jdoe"
    assert excel["metadata"]["tags"] == ["excel-power-bi"]
    for entity in entities:
        assert schema_errors(entity) == [], entity["metadata"]["name"]
    assert backstage_errors(entities) == {}


def test_the_checks_can_fail() -> None:
    bad = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "API",
        "metadata": {"name": "a__b", "tags": ["x--y"]},
        "spec": {"type": "openapi", "lifecycle": "production", "owner": "team"},
    }
    assert any("definition" in e for e in schema_errors(bad))
    assert "API/a__b" in backstage_errors([bad])


# --- the mapping -----------------------------------------------------------------------


def test_refs_and_relations() -> None:
    resources = demo_resources()
    refs = by_ref(export(resources))
    app = refs["component:default/demo-app"]
    assert app["spec"]["type"] == "low-code-app"
    assert app["spec"]["consumesApis"] == [
        "api:default/crm-events", "api:default/customers", "api:default/insights"
    ]  # fmt: skip
    assert "power-apps" in app["metadata"]["tags"]
    hub = refs["component:default/isthmus-gateway"]
    assert hub["spec"]["type"] == "service"
    assert hub["spec"]["providesApis"] == [
        "api:default/crm-events", "api:default/customers", "api:default/event-customer-created",
        "api:default/insights",
    ]  # fmt: skip
    assert "resource:default/connection-crm" in hub["spec"]["dependsOn"]
    assert "resource:default/customer_360" in hub["spec"]["dependsOn"]
    customers = refs["api:default/customers"]
    assert customers["spec"]["system"] == "system:default/crm"  # it touches only the CRM
    assert customers["spec"]["owner"] == "group:default/sales-ops"
    assert customers["spec"]["lifecycle"] == "production"
    assert customers["metadata"]["tags"] == ["crm", "customers", "sales"]
    assert "system" not in refs["api:default/insights"]["spec"]  # three Systems: none
    assert refs["api:default/insights"]["spec"]["lifecycle"] == "experimental"
    view = refs["resource:default/customer_360"]
    assert view["spec"]["type"] == "view"
    assert view["spec"]["dependsOn"] == [
        "resource:default/connection-billing", "resource:default/connection-crm-records",
        "resource:default/connection-plant",
    ]  # fmt: skip
    connection = refs["resource:default/connection-billing"]
    assert connection["spec"] == {
        "type": "connection", "owner": "group:default/finance", "system": "system:default/billing"
    }  # fmt: skip
    assert refs["system:default/plant"]["spec"] == {"owner": "group:default/operations"}
    # every reference points at an entity of the export
    for entity in refs.values():
        spec = entity["spec"]
        targets = [spec.get("system"), *spec.get("providesApis", []), *spec.get("dependsOn", [])]
        for target in [t for t in targets if t]:
            assert target in refs, (entity["metadata"]["name"], target)


def test_definitions_are_the_served_documents() -> None:
    resources = demo_resources()
    refs = by_ref(export(resources))
    api = next(r for r in resources if isinstance(r, Api) and r.metadata.name == "customers")
    event_types = {r.metadata.name: r for r in resources if isinstance(r, EventType)}
    definition = YAML(typ="safe").load(refs["api:default/customers"]["spec"]["definition"])
    assert definition == json.loads(json.dumps(native_document(api, "v1", ISSUER, event_types)))
    assert refs["api:default/customers"]["metadata"]["links"][0]["url"] == (
        f"{ISSUER}/customers/v1/openapi.json"
    )
    events = refs["api:default/event-customer-created"]
    assert events["spec"]["type"] == "asyncapi"
    assert events["metadata"]["title"] == "com.example.crm.customer.created"
    document = YAML(typ="safe").load(events["spec"]["definition"])
    assert document["asyncapi"] == "3.0.0"
    assert list(document["channels"]) == ["customer-created"]


def test_newest_served_version_is_the_definition() -> None:
    resources = [resource(d) for d in documents()]
    refs = by_ref(export(resources))
    # customers: v1 published, v2 a draft: v1 is what callers get
    definition = YAML(typ="safe").load(refs["api:default/customers"]["spec"]["definition"])
    assert definition["info"]["version"] == "v1"
    assert refs["api:default/customers"]["metadata"]["annotations"][
        "isthmus.dev/definition-version"
    ] == "v1"  # fmt: skip
    assert refs["api:default/legacy-billing"]["spec"]["lifecycle"] == "deprecated"


def test_unowned_entries_belong_to_the_hubs_owner() -> None:
    loose = [resource({"kind": "App", "metadata": {"name": "tool"}})]
    refs = by_ref(export(loose, hub=HubComponent(owner="platform")))
    assert refs["component:default/tool"]["spec"]["owner"] == "group:default/platform"
    assert refs["component:default/isthmus-gateway"]["spec"]["owner"] == "group:default/platform"


def test_names_and_refs() -> None:
    assert entity_name("customers") == "customers"
    assert entity_name("a__b--c._d") == "a_b-c.d"
    assert entity_name("-x-") == "x"
    long = entity_name("v" * 70)
    assert len(long) == 63
    assert long != entity_name("v" * 71)  # a hash keeps them apart
    assert owner_ref("sales-ops") == "group:default/sales-ops"
    assert owner_ref("user:jane") == "user:jane"
    assert owner_ref("group:default/team") == "group:default/team"
    assert tag("Power Apps") == "power-apps"
    assert tag("C#") == "c#"
    assert tag("!!!") is None
    assert label_ok("isthmus.dev/tier", "gold")
    assert not label_ok("x", "two words")


def _api(name: str) -> IsthmusResource:
    route = {"path": "/x", "target": {"type": "proxy", "connection": "crm"}}
    return resource(
        {
            "kind": "Api",
            "metadata": {"name": name, "owner": "t"},
            "spec": {"versions": [{"name": "v1", "routes": [route]}]},
        }
    )


def colliding() -> list[IsthmusResource]:
    """Resources whose Backstage names would meet: an Api named like an EventType's
    entity, an App named like the hub, a View named like a Connection's Resource, and a
    View whose cleaned name is another's."""
    view = resource(
        {
            "kind": "View",
            "metadata": {"name": "connection_crm", "owner": "t"},
            "spec": {"sql": "SELECT * FROM crm.accounts"},
        }
    )
    return [
        resource({"kind": "System", "metadata": {"name": "crm", "owner": "t"}}),
        resource(
            {
                "kind": "Connection",
                "metadata": {"name": "crm", "environment": "production"},
                "spec": {"system": "crm", "connector": "memory"},
            }
        ),
        _api("event-orders"),
        resource(
            {
                "kind": "EventType",
                "metadata": {"name": "orders", "owner": "t"},
                "spec": {"versions": [{"version": 1, "schema": {"type": "object"}}]},
            }
        ),
        _api("isthmus-gateway"),
        resource(
            {
                "kind": "App",
                "metadata": {"name": "isthmus-gateway", "owner": "t"},
                "spec": {"apis": ["event-orders"]},
            }
        ),
        renamed(view, "connection-crm"),
        resource({"kind": "View", "metadata": {"name": "a_b"}, "spec": {"sql": "SELECT 1"}}),
        resource({"kind": "View", "metadata": {"name": "a__b"}, "spec": {"sql": "SELECT 1"}}),
    ]


def renamed(found: IsthmusResource, name: str) -> IsthmusResource:
    """``found`` under a name its kind's pattern refuses today (View names have no '-'):
    the export must not rely on one kind's naming rule to keep names apart."""
    return found.model_copy(update={"metadata": found.metadata.model_copy(update={"name": name})})


def source(entity: dict[str, Any]) -> tuple[str, str]:
    annotations = entity["metadata"]["annotations"]
    return annotations["isthmus.dev/kind"], annotations.get("isthmus.dev/name", "")


def test_colliding_names_are_made_unique_and_refs_follow() -> None:
    resources = colliding()
    entities = export(resources)
    keys = [(e["kind"], e["metadata"]["name"].casefold()) for e in entities]
    assert len(keys) == len(set(keys)), keys
    named = {source(e): e["metadata"]["name"] for e in entities}
    # A resource keeps its own name; a name the export made up takes a number.
    assert named[("Api", "event-orders")] == "event-orders"
    assert named[("EventType", "orders")] == "event-orders-2"
    assert named[("Api", "isthmus-gateway")] == "isthmus-gateway"  # an API: no clash
    assert named[("App", "isthmus-gateway")] == "isthmus-gateway"
    assert named[("Hub", "")] == "isthmus-gateway-2"
    assert named[("View", "connection-crm")] == "connection-crm"
    assert named[("Connection", "crm")] == "connection-crm-2"
    assert named[("View", "a_b")] == "a_b"
    assert named[("View", "a__b")] == "a_b-2"
    refs = by_ref(entities)
    hub = refs["component:default/isthmus-gateway-2"]
    assert hub["spec"]["providesApis"] == [
        "api:default/event-orders", "api:default/event-orders-2", "api:default/isthmus-gateway"
    ]  # fmt: skip
    assert hub["spec"]["dependsOn"] == [
        "resource:default/a_b", "resource:default/a_b-2", "resource:default/connection-crm",
        "resource:default/connection-crm-2",
    ]  # fmt: skip
    view = refs["resource:default/connection-crm"]
    assert view["spec"]["dependsOn"] == ["resource:default/connection-crm-2"]
    app = refs["component:default/isthmus-gateway"]
    assert app["spec"]["consumesApis"] == ["api:default/event-orders"]
    for entity in entities:
        spec = entity["spec"]
        targets = [spec.get("system"), *spec.get("providesApis", []),
                   *spec.get("consumesApis", []), *spec.get("dependsOn", [])]  # fmt: skip
        for target in [t for t in targets if t]:
            assert target in refs, (entity["metadata"]["name"], target)
        assert schema_errors(entity) == [], entity["metadata"]["name"]
    assert backstage_errors(entities) == {}


def test_unique_names_do_not_depend_on_the_order_of_resources() -> None:
    resources = colliding()
    forward = export(resources)
    backward = export(list(reversed(resources)))
    assert sorted(by_ref(forward)) == sorted(by_ref(backward))


def test_numbered_names_stay_valid_and_clear_of_taken_ones() -> None:
    assert numbered("x", 2) == "x-2"
    long = numbered("v" * 63, 12)
    assert len(long) == 63
    assert long.endswith("-12")
    assert entity_name(long) == long
    claims = [
        Claim("API", "event-orders", "EventType", "orders", own=False),
        Claim("API", "event-orders", "Api", "event-orders", own=True),
        Claim("API", "event-orders-2", "Api", "event-orders-2", own=True),
        Claim("API", "Event-Orders-3", "Api", "x", own=False),
    ]
    names = unique_names(claims, ["Api", "EventType"])
    assert names[("Api", "event-orders")] == "event-orders"
    assert names[("Api", "event-orders-2")] == "event-orders-2"
    # next free number; Backstage compares names ignoring case
    assert names[("Api", "x")] == "Event-Orders-3"
    assert names[("EventType", "orders")] == "event-orders-4"


# --- the YAML --------------------------------------------------------------------------

AWKWARD = [
    "", " lead", "trail ", "true", "No", "off", "Y", "null", "~", "1", "-1", "1.5", "0x1f",
    "1e3", ".inf", "2024-01-01", "12:30:00", "- x", "a: b", "a:", "a #b", "#x", "[x]",
    "{x}", "*alias", "&anchor", "!tag", "%x", "@x", "`x", "|", ">", "?", ":", "-", "---",
    "...", "<<", "=", "'q'", 'say "hi"', "back\\slash", "tab\tx", "multi\nline",
    "multi\n\nblank", "crlf\r\nx", "café", "emoji 😀", "line\u2028sep", "bom\ufeff",
    "del\x7f", "nel\x85", "api:default/x", "group:default/sales-ops", "c#", "a+b",
    "{\n  \"json\": true\n}", "{\n  \"trailing\": 1 \n}", "x\n",
]  # fmt: skip


def test_yaml_writer_reads_back_every_awkward_string() -> None:
    document = {
        "kind": "API",
        "metadata": {"name": "x", "annotations": {s or "k": s for s in AWKWARD}},
        "spec": {
            "values": AWKWARD,
            "numbers": [0, -3, 2.5, True, False, None, float("inf")],
            "nested": [{"a": [1, {"b": "c"}], "d": {}}, [], {}, ["e", ["f"]]],
            "empty": {},
            "none": [],
            "no": "yes",
        },
    }
    text = backstage_yaml([document])
    assert text.startswith("---\n")
    assert parsed(text) == [json.loads(json.dumps(document))]


def test_definitions_are_literal_json_blocks() -> None:
    text = backstage_yaml(backstage_entities(build_entries(demo_resources()),
                                             demo_resources(), ISSUER))  # fmt: skip
    assert "  definition: |-\n    {\n" in text
    for entity in parsed(text):
        if entity["kind"] == "API":
            assert isinstance(json.loads(entity["spec"]["definition"]), dict)


# --- from a running hub ----------------------------------------------------------------


async def test_granted_apis_are_consumed_in_the_export(running: Running) -> None:
    store = running.hub.store
    async with store.engine.begin() as conn:
        await store.access.add_grant(conn, "other", "stock", "sandbox", None, None, "test")
    reply = await running.admin_call("GET", "/admin/v1/catalog/backstage")
    assert reply.status == 200, reply.body
    entities = parsed(reply.body.decode())
    refs = by_ref(entities)
    assert refs["component:default/other"]["spec"]["consumesApis"] == ["api:default/stock"]
    assert refs["component:default/portal"]["spec"]["consumesApis"] == [
        "api:default/customers", "api:default/stock"
    ]  # fmt: skip
    assert backstage_errors(entities) == {}
