"""Api: a versioned contract published through the gateway.

Each version lists routes; each route binds an HTTP method and path template to a
target. Targets are a discriminated union on ``type`` so later patterns add their own
(a View, a Flow, an event publish) as new members without touching the gateway core.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import BeforeValidator, Field, Strict, field_validator, model_validator

from isthmus.mapping import Expression
from isthmus.model.base import Name, Ref, Resource, Spec
from isthmus.model.collection import Collection
from isthmus.model.cors import Cors
from isthmus.model.registry import register_kind
from isthmus.model.view import ViewName

PATH_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SEGMENT = r"([A-Za-z0-9._~\-]+|\{[A-Za-z_][A-Za-z0-9_]*\})"
PATH_PATTERN = rf"^/{_SEGMENT}?(/{_SEGMENT})*$"

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
VersionName = Annotated[str, Field(pattern=r"^v[0-9]+(\.[0-9]+)?$")]


def path_params(template: str) -> list[str]:
    return PATH_PARAM.findall(template)


class ProxyMapping(Spec):
    """Reshaping on the way through, in JSONata. Request-side expressions see
    ``{path, query, headers, body}`` of the caller's request; ``response`` sees the
    backend's JSON answer."""

    query: dict[str, Expression] | None = Field(
        default=None,
        description="The backend's query parameters, each computed; replaces the caller's.",
    )
    headers: dict[str, Expression] = Field(
        default_factory=dict, description="Headers to add or replace, each computed."
    )
    body: Expression | None = Field(default=None, description="The JSON body sent instead.")
    response: Expression | None = Field(
        default=None, description="The JSON answer returned instead of the backend's."
    )


class ProxyTarget(Spec):
    """Forward the request to a REST Connection, path parameters substituted."""

    type: Literal["proxy"]
    connection: Annotated[Name, Ref("Connection")]
    path: str | None = Field(
        default=None,
        pattern=PATH_PATTERN,
        description="Path on the backend, '{param}' filled from the route; default: the route's.",
    )
    forward_query: bool = Field(default=True, description="Pass the query string through.")
    mapping: ProxyMapping | None = None


class OperationTarget(Spec):
    """Call a connector operation; its input is the path parameters, query and JSON body."""

    type: Literal["operation"]
    connection: Annotated[Name, Ref("Connection")]
    operation: str = Field(min_length=1)


class EventTarget(Spec):
    """Publish what is POSTed as an event of an EventType (structured or binary
    CloudEvents, or the data alone), after checking its data against the version's schema."""

    type: Literal["event"]
    event_type: Annotated[Name, Ref("EventType")]
    version: int | None = Field(default=None, ge=1, description="Default: the latest.")


class ViewTarget(Spec):
    """Answer rows of a View: a collection (paged, sorted, filtered at the sources), or
    with path parameters one row whose columns of those names equal them."""

    type: Literal["view"]
    view: Annotated[ViewName, Ref("View")]


Target = Annotated[
    ProxyTarget | OperationTarget | EventTarget | ViewTarget, Field(discriminator="type")
]

# Paths under a version that serve its Views in other protocols.
VIEW_FACES = ("odata", "graphql")


JsonSchema = dict[str, Any]


def check_schema(schema: JsonSchema) -> None:
    """Refuse a schema the gateway could not check: invalid by the 2020-12 meta-schema, a
    ``$ref`` that does not resolve inside it (nothing is fetched), or a ``pattern`` that
    is not an ECMA-262 regular expression."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"not a valid JSON Schema: {exc.message}") from None
    try:
        jsonschema_rs.Draft202012Validator(schema, offline=True)
    except ValueError as exc:  # its ValidationError, for schemas it cannot compile
        reason = str(exc).split("\n", 1)[0]
        raise ValueError(f"not a JSON Schema the gateway can check: {reason}") from None


class Parameter(Spec):
    schema_: JsonSchema = Field(
        default_factory=lambda: {"type": "string"},
        alias="schema",
        description="JSON Schema of the value; query and path values are converted from "
        "text to the type it names (integer, number, boolean).",
    )
    required: bool = False
    description: str | None = None
    example: Any = Field(
        default=None, description="A value callers can send: documented and used by the sandbox."
    )


class RequestContract(Spec):
    """What a route accepts. The gateway refuses anything else before a backend sees it."""

    path: dict[str, Parameter] = Field(
        default_factory=dict, description="Schemas of path parameters (default: text)."
    )
    query: dict[str, Parameter] = Field(default_factory=dict)
    headers: dict[str, Parameter] = Field(default_factory=dict)
    body: JsonSchema | None = Field(
        default=None, description="JSON Schema of the JSON body; a body is then required."
    )
    additional_query: bool = Field(
        default=True, description="Accept query parameters not listed in 'query'."
    )

    @model_validator(mode="after")
    def _schemas_valid(self) -> RequestContract:
        schemas = [
            p.schema_ for part in (self.path, self.query, self.headers) for p in part.values()
        ]
        for schema in [*schemas, *([self.body] if self.body is not None else [])]:
            check_schema(schema)
        return self


class ResponseCaching(Spec):
    ttl_seconds: int = Field(gt=0, le=86400, description="Longest time an answer is reused.")
    per_app: bool = Field(
        default=True,
        description="Keep answers apart per App (turn off only when the answer is the same "
        "for every caller).",
    )


class Examples(Spec):
    """Sample bodies, documented in the contract, shown in the portal's examples and
    answered by the sandbox's mock where a System has no sandbox."""

    request: Any = Field(default=None, description="A JSON body the route accepts.")
    response: Any = Field(
        default=None, description="A successful answer (for a collection: one record)."
    )


OPERATION_ID = r"^[A-Za-z][A-Za-z0-9_]{0,79}$"


class Route(Spec):
    method: Method = "GET"
    path: str = Field(pattern=PATH_PATTERN, description="Template such as '/customers/{id}'.")
    operation_id: str | None = Field(
        default=None,
        pattern=OPERATION_ID,
        description="The operation's name in the contract (low-code tools show it as the "
        "action's name); default: made from the method and path, e.g. get_customers_id.",
    )
    summary: str | None = Field(default=None, description="One line: what the route does.")
    description: str | None = Field(
        default=None, description="More about it: what it returns, when to use it."
    )
    examples: Examples | None = None
    target: Target
    cache: ResponseCaching | None = Field(
        default=None, description="Reuse successful GET answers (see the gateway docs)."
    )
    request: RequestContract | None = Field(
        default=None, description="What the route accepts; checked before any backend call."
    )
    response: JsonSchema | None = Field(
        default=None,
        description="JSON Schema of a successful answer's body (of one record, for a "
        "collection): documented, and checked where the version validates responses.",
    )
    collection: Collection | None = Field(
        default=None,
        description="Answer a list with the gateway's paging, sorting and filtering.",
    )

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _contract_fits(self) -> Route:
        if isinstance(self.target, EventTarget) and self.method != "POST":
            raise ValueError("an event route takes POST: events are published, not read")
        if isinstance(self.target, ViewTarget) and self.method != "GET":
            raise ValueError("a view route takes GET: Views are read-only")
        if self.request is not None:
            unknown = set(self.request.path) - set(path_params(self.path))
            if unknown:
                raise ValueError(f"request.path describes {sorted(unknown)}, not in '{self.path}'")
        return self

    @field_validator("response")
    @classmethod
    def _response_schema_valid(cls, schema: JsonSchema | None) -> JsonSchema | None:
        if schema is not None:
            check_schema(schema)
        return schema

    @model_validator(mode="after")
    def _cache_only_reads(self) -> Route:
        if self.cache is not None and self.method != "GET":
            raise ValueError("only GET routes can cache answers")
        if self.collection is not None and self.method != "GET":
            raise ValueError("only GET routes can be collections")
        return self

    @model_validator(mode="after")
    def _params_known(self) -> Route:
        if isinstance(self.target, ProxyTarget) and self.target.path:
            unknown = set(path_params(self.target.path)) - set(path_params(self.path))
            if unknown:
                raise ValueError(
                    f"target path uses {sorted(unknown)} which the route path "
                    f"'{self.path}' does not capture"
                )
        return self


def _text_or_moment(value: object) -> object:
    if not isinstance(value, str | datetime):
        raise ValueError("expected a date or date-time, such as 2027-03-31")
    return value


# Dates come from YAML as text: parse text (only text) though specs are otherwise strict.
Moment = Annotated[datetime, Strict(False), BeforeValidator(_text_or_moment)]


class ApiVersion(Spec):
    name: VersionName
    status: Literal["draft", "published", "deprecated", "retired"] = Field(
        default="published",
        description="draft: not served; published; deprecated: served with Deprecation, "
        "Sunset and successor Link headers; retired: answers 410.",
    )
    deprecated_at: Moment | None = Field(
        default=None, description="When it was (or will be) deprecated; needed for 'deprecated'."
    )
    sunset: Moment | None = Field(
        default=None, description="When it stops being served; needed for 'deprecated'."
    )
    successor: VersionName | None = Field(
        default=None, description="The version to move to; default: the newest published one."
    )
    validate_responses: bool | None = Field(
        default=None,
        description="Check successful answers against the routes' response schemas; "
        "default: in the sandbox Environment only.",
    )
    openapi: dict[str, Any] | None = Field(
        default=None,
        description="The version's contract as an OpenAPI 3.x document (in a project: the "
        "path of its YAML or JSON file). Routes without a 'request' or 'response' take "
        "them from the document's operation of the same method and path.",
    )
    routes: list[Route] = Field(default_factory=list)
    views: list[Annotated[ViewName, Ref("View")]] = Field(
        default_factory=list,
        description="Views this version publishes: each a collection at '/{view}', an OData "
        "entity set and a GraphQL type; Apps granted the Api may query them at POST /query.",
    )

    def checks_responses(self, environment: str) -> bool:
        if self.validate_responses is None:
            return environment == "sandbox"
        return self.validate_responses

    @field_validator("deprecated_at", "sunset")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        # A bare date (2027-03-31) means midnight UTC.
        return value.replace(tzinfo=UTC) if value and value.tzinfo is None else value

    @model_validator(mode="after")
    def _document_path_free(self) -> ApiVersion:
        if any(route.path == "/openapi.json" for route in self.routes):
            raise ValueError("/openapi.json is where the gateway serves the version's contract")
        return self

    @model_validator(mode="after")
    def _view_paths_free(self) -> ApiVersion:
        if len(set(self.views)) != len(self.views):
            raise ValueError("views names a View twice")
        if not self.views:
            return self
        taken = {f"/{view}" for view in self.views}
        for route in self.routes:
            first = route.path.split("/")[1]
            if route.path in taken or first in VIEW_FACES:
                raise ValueError(
                    f"route {route.path} is where the version serves its Views "
                    f"(/{{view}}, /{'/, /'.join(VIEW_FACES)}/)"
                )
        return self

    @model_validator(mode="after")
    def _deprecation_dated(self) -> ApiVersion:
        if self.status == "deprecated" and (self.deprecated_at is None or self.sunset is None):
            raise ValueError("a deprecated version needs deprecatedAt and sunset dates")
        if self.deprecated_at and self.sunset and self.sunset < self.deprecated_at:
            raise ValueError("sunset comes before deprecatedAt")
        return self

    @model_validator(mode="after")
    def _routes_in_document(self) -> ApiVersion:
        document = self.openapi
        if document is None:
            return self
        if not str(document.get("openapi", "")).startswith("3.") or not isinstance(
            document.get("paths"), dict
        ):
            raise ValueError("openapi is not an OpenAPI 3.x document with 'paths'")
        for route in self.routes:
            item = document["paths"].get(route.path)
            if not isinstance(item, dict) or route.method.lower() not in item:
                raise ValueError(
                    f"route {route.method} {route.path} is not in the version's OpenAPI document"
                )
        return self

    @model_validator(mode="after")
    def _unique_routes(self) -> ApiVersion:
        seen: set[tuple[str, str]] = set()
        for route in self.routes:
            shape = (route.method, PATH_PARAM.sub("{}", route.path))
            if shape in seen:
                raise ValueError(f"two routes answer {route.method} {route.path}")
            seen.add(shape)
        named = [r.operation_id for r in self.routes if r.operation_id]
        if twice := sorted({n for n in named if named.count(n) > 1}):
            raise ValueError(f"operationId used twice: {', '.join(twice)}")
        return self


class ApiSpec(Spec):
    title: str | None = None
    cors: Cors | None = Field(
        default=None,
        description="Browser origins that may call the Api (CORS); none without it.",
    )
    versions: list[ApiVersion] = Field(min_length=1)
    self_service: list[Name] = Field(
        default_factory=lambda: ["sandbox"],
        description="Environments where an App gets access when its owner asks, without "
        "the Api owner's approval; never 'production'.",
    )

    @field_validator("self_service")
    @classmethod
    def _production_needs_approval(cls, environments: list[str]) -> list[str]:
        if "production" in environments:
            raise ValueError("production access always needs the Api owner's approval")
        return environments

    @model_validator(mode="after")
    def _unique_versions(self) -> ApiSpec:
        names = [v.name for v in self.versions]
        if len(names) != len(set(names)):
            raise ValueError("version names must be unique")
        published = {v.name for v in self.versions if v.status == "published"}
        for version in self.versions:
            if version.successor is not None and version.successor not in published:
                raise ValueError(
                    f"successor {version.successor} of {version.name} is not a published version"
                )
        return self

    def successor_of(self, version: ApiVersion) -> str | None:
        """Where callers of ``version`` should go: its declared successor, else the newest
        published version other than itself."""
        if version.successor is not None:
            return version.successor
        published = [v.name for v in self.versions if v.status == "published" and v is not version]
        return published[-1] if published else None


# the gateway's own first path segments (/oauth/token, /triggers/…): no Api may take them
GATEWAY_OWNED = frozenset({"oauth", "triggers", "query"})


@register_kind
class Api(Resource):
    kind: Literal["Api"] = "Api"
    spec: ApiSpec
