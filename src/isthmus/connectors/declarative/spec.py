"""The declarative connector spec: a REST API described in YAML, validated by these models.

A spec says where the API lives, how to authenticate, how it pages, what its errors
mean, and which streams (collections to read) and operations (actions) it offers. Values
that differ per Connection — an instance name, a client id, a secret — are declared under
``config`` and used in the spec as ``{config.NAME}``; secrets are ``secret://`` references
in the Connection, resolved when it opens. Record shapes are changed with JSONata.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import quote

from pydantic import Field, field_validator, model_validator

from isthmus.connectors.base import ConnectorConfig, FilterOp
from isthmus.connectors.declarative.paginators import NoPaging, PaginatorSpec
from isthmus.connectors.resilience import RetryPolicy
from isthmus.mapping import Expression

PLACEHOLDER = re.compile(r"\{config\.([A-Za-z_][A-Za-z0-9_]*)\}")
PATH_INPUT = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigField(ConnectorConfig):
    """One value a Connection gives the spec."""

    type: Literal["string", "integer", "boolean", "secret"] = "string"
    required: bool = True
    default: str | int | bool | None = None
    description: str = ""


class ApiKeyAuth(ConnectorConfig):
    type: Literal["api-key"]
    where: Literal["header", "query"] = Field(default="header", alias="in")
    name: str = "X-Api-Key"
    value: str = Field(description="Usually '{config.apiKey}', a secret.")


class BasicAuth(ConnectorConfig):
    type: Literal["basic"]
    username: str
    password: str


class BearerAuth(ConnectorConfig):
    type: Literal["bearer"]
    token: str


class TokenGrant(ConnectorConfig):
    """What every OAuth 2.0 grant has: the token endpoint and when a token is renewed."""

    token_url: str = Field(
        pattern=r"^(/|https?://|\{config\.)",
        description="Absolute (https://…), or a path under the base URL (/…).",
    )
    refresh_before_seconds: int = Field(
        default=60, ge=0, le=3600, description="Fetch a new token this long before expiry."
    )
    expired_when: Expression | None = Field(
        default=None,
        description="JSONata on an error body that says the token expired (besides a 401), "
        "e.g. $[0].errorCode = 'INVALID_SESSION_ID'.",
    )


class ClientCredentialsAuth(TokenGrant):
    """OAuth 2.0 client credentials (RFC 6749 §4.4)."""

    type: Literal["oauth2-client-credentials"]
    client_id: str
    client_secret: str
    scopes: list[str] = Field(default_factory=list)
    audience: str | None = None
    credentials_in: Literal["body", "basic"] = Field(
        default="body", description="Send the client's credentials in the form or as Basic."
    )


class JwtBearerAuth(TokenGrant):
    """OAuth 2.0 JWT bearer grant (RFC 7523), as Salesforce and Google use it: the hub
    signs a short assertion with the Connection's private key and trades it for a token."""

    type: Literal["oauth2-jwt-bearer"]
    issuer: str = Field(description="'iss': the client id (Salesforce) or service account.")
    subject: str | None = Field(default=None, description="'sub': the user to act as.")
    audience: str = Field(description="'aud', e.g. https://login.salesforce.com.")
    private_key: str = Field(description="PEM, usually '{config.privateKey}', a secret.")
    algorithm: Literal["RS256", "ES256"] = "RS256"
    scopes: list[str] = Field(default_factory=list, description="A 'scope' claim (Google).")
    lifetime_seconds: int = Field(default=180, ge=30, le=3600)


class RefreshTokenAuth(TokenGrant):
    """OAuth 2.0 refresh token grant (RFC 6749 §6): a long-lived refresh token, got once
    by a person's consent (Workday's API clients for integrations), traded for access
    tokens. Where the System rotates it, the new one replaces it in the vault."""

    type: Literal["oauth2-refresh-token"]
    client_id: str
    client_secret: str
    refresh_token: str = Field(
        pattern=r"^\{config\.[A-Za-z_][A-Za-z0-9_]*\}$",
        description="'{config.NAME}' of a secret value: the vault entry a rotated token replaces.",
    )
    credentials_in: Literal["body", "basic"] = "basic"


class AuthorizationCodeAuth(RefreshTokenAuth):
    """OAuth 2.0 authorization code with PKCE (RFC 6749 §4.1, RFC 7636): a person
    consents once, with `isthmus connection authorize`; the refresh token that gives is
    kept in the vault and traded for access tokens from then on, as the refresh token
    grant does."""

    type: Literal["oauth2-authorization-code"]  # type: ignore[assignment]
    authorize_url: str = Field(
        pattern=r"^(https?://|\{config\.)", description="Where a person consents."
    )
    client_secret: str | None = Field(  # type: ignore[assignment]
        default=None, description="None for a public client (PKCE alone)."
    )
    scopes: list[str] = Field(default_factory=list)
    credentials_in: Literal["body", "basic"] = "body"


Auth = Annotated[
    ApiKeyAuth
    | BasicAuth
    | BearerAuth
    | ClientCredentialsAuth
    | JwtBearerAuth
    | RefreshTokenAuth
    | AuthorizationCodeAuth,
    Field(discriminator="type"),
]


class ErrorRule(ConnectorConfig):
    """What an answer with one of these statuses means."""

    status: list[int] = Field(min_length=1)
    action: Literal["retry", "fail", "empty"] = Field(
        description="retry: try again (idempotent calls); fail: a problem for the caller; "
        "empty: no records (e.g. 404 for an empty list)."
    )
    when: Expression | None = Field(
        default=None, description="Only if this JSONata on the body is true."
    )

    @field_validator("status", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, int) else value


class Budget(ConnectorConfig):
    """At most ``requests`` calls in any ``per_seconds``: calls beyond wait their turn."""

    requests: int = Field(ge=1)
    per_seconds: float = Field(gt=0, le=86400)


class FilterParam(ConnectorConfig):
    """A record field the API can filter on, and the query parameter that does it."""

    param: str
    required: bool = Field(
        default=False,
        description="The API lists nothing without this filter (an eq or in on the field).",
    )
    ops: list[FilterOp] = Field(default_factory=lambda: list[FilterOp](["eq"]))
    template: str = Field(
        default="{value}",
        description="The parameter's value; {value} is the filter's, {op} its operator "
        "(eq, lt, …), for APIs with their own syntax such as ServiceNow's sysparm_query.",
    )
    operators: dict[str, str] = Field(
        default_factory=dict,
        description="How the API spells each operator in {op}, e.g. {gt: '>', eq: '='}.",
    )
    join: str | None = Field(
        default=None,
        description="Joins several filters in the same parameter ('^' for ServiceNow, "
        "' and ' for OData); without it a parameter carries one filter.",
    )
    separator: str = Field(
        default=",",
        min_length=1,
        description="Joins the values of an 'in' filter (id=1,2,3); each is quoted as a value.",
    )
    quote: Literal["none", "odata", "servicenow"] = Field(
        default="none",
        description="odata: a text value's ' doubled, as OData strings need; servicenow: "
        "its ^ doubled, as encoded queries need.",
    )


class Stream(ConnectorConfig):
    path: str = Field(pattern=r"^/", description="Path under the base URL.")
    params: dict[str, str] = Field(default_factory=dict, description="Query parameters.")
    records: Expression = Field(
        default="$", description="Where the records are in each page's body (JSONata)."
    )
    pagination: PaginatorSpec | None = Field(
        default=None, description="Overrides the spec's pagination for this stream."
    )
    primary_key: list[str] = Field(default_factory=list)
    cursor_field: str | None = Field(
        default=None, description="A field that grows with each change: incremental reads."
    )
    cursor_param: str | None = Field(
        default=None, description="The query parameter that asks for records after a cursor."
    )
    filters: dict[str, FilterParam] = Field(
        default_factory=dict,
        description="Filters the API does itself (pushdown). A 'gt' filter on the cursor "
        "field also serves incremental reads.",
    )
    select_param: str | None = Field(
        default=None, description="The parameter that names the fields to return ($select)."
    )
    json_schema: dict[str, Any] = Field(default_factory=dict, alias="schema")
    mapping: Expression | None = Field(
        default=None, description="JSONata from one API record to the hub's record."
    )


class Operation(ConnectorConfig):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    path: str = Field(pattern=r"^/", description="May hold {input} placeholders.")
    description: str = ""
    body: Expression | None = Field(
        default=None, description="JSONata from the operation's input to the request body."
    )
    result: Expression | None = Field(
        default=None, description="JSONata from the answer's body to the result."
    )
    params: dict[str, str] = Field(
        default_factory=dict, description="Query parameters; may hold {input} placeholders."
    )
    optional: list[str] = Field(
        default_factory=list,
        description="Inputs that may be left out: a parameter naming one is then not sent.",
    )
    idempotency_header: str | None = Field(
        default=None, description="Header carrying an idempotency key, where the API has one."
    )
    input_schema: dict[str, Any] = Field(default_factory=dict)


class DeclarativeSpec(ConnectorConfig):
    """A REST API, declared."""

    connector_spec: Literal[1] = Field(
        default=1,
        description="The spec format's version. A file holding a spec starts with "
        "'connectorSpec: 1', which also tells the project loader it is not a resource.",
    )
    title: str = ""
    base_url: str = Field(description="e.g. https://{config.instance}.service-now.com/api")
    base_urls: dict[str, str] = Field(
        default_factory=dict, description="Per Environment (sandbox, production, …)."
    )
    config: dict[str, ConfigField] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    auth: Auth | None = None
    auth_options: dict[str, Auth] = Field(
        default_factory=dict,
        description="Ways to authenticate a Connection can choose between, with 'authOption'.",
    )
    auth_option: str | None = Field(
        default=None, description="Which of 'authOptions', e.g. '{config.authMethod}'."
    )
    pagination: PaginatorSpec = Field(default_factory=lambda: NoPaging(type="none"))
    errors: list[ErrorRule] = Field(default_factory=list)
    retries: RetryPolicy = Field(default_factory=RetryPolicy)
    budget: Budget | None = None
    max_pages: int = Field(default=100_000, ge=1, description="Longest read, in pages.")
    streams: dict[str, Stream] = Field(default_factory=dict)
    operations: dict[str, Operation] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_way_to_authenticate(self) -> DeclarativeSpec:
        if self.auth_options and (self.auth is not None or not self.auth_option):
            raise ValueError("with 'authOptions', set 'authOption' and leave out 'auth'")
        return self

    def auth_for(self, values: dict[str, str]) -> Auth | None:
        """The way to authenticate, the Connection's choice among the options if any."""
        if not self.auth_options:
            return self.auth
        choice = render(self.auth_option or "", values)
        if choice not in self.auth_options:
            raise ValueError(f"choose one of {sorted(self.auth_options)} to authenticate")
        return self.auth_options[choice]

    @model_validator(mode="after")
    def _placeholders_declared(self) -> DeclarativeSpec:
        text = self.model_dump_json()
        unknown = sorted(set(PLACEHOLDER.findall(text)) - set(self.config))
        if unknown:
            raise ValueError(f"uses {{config.…}} values not declared under 'config': {unknown}")
        return self


def render(template: str, values: dict[str, str], *, in_path: bool = False) -> str:
    """``template`` with each ``{config.NAME}`` replaced by the Connection's value,
    percent-encoded where it lands in a URL path."""

    def value(match: re.Match[str]) -> str:
        text = values.get(match.group(1), "")
        return quote(text, safe="@:") if in_path else text

    return PLACEHOLDER.sub(value, template)
