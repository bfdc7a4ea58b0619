"""What every generated OpenAPI document says about the gateway itself: the headers it
adds to answers, the bounds of the collection parameters it parses, and its ways to
authenticate.

Each bound here is one the gateway enforces or one its way of building a value implies,
named by the constant the enforcing code uses, so the document and the behaviour cannot
drift apart: see ``gateway/collections.py``, ``gateway/ratelimit.py``, ``gateway/cors.py``
and ``governance/tokens.py``.
"""

from __future__ import annotations

from typing import Any

from isthmus.gateway import collections as paging
from isthmus.gateway.filtering import MAX_LENGTH as FILTER_MAX_LENGTH
from isthmus.gateway.ratelimit import RATELIMIT_MAX_LENGTH, RATELIMIT_POLICY_MAX_LENGTH
from isthmus.governance.tokens import MAX_TTL_SECONDS
from isthmus.model import Api
from isthmus.model.collection import Collection
from isthmus.model.cors import MAX_ORIGIN_LENGTH

ALLOW_ORIGIN = "Access-Control-Allow-Origin"
# On successful and 4xx answers; 429 adds Retry-After.
ANSWER_HEADERS = ("RateLimit", "RateLimit-Policy", ALLOW_ORIGIN)
_CURSOR_PATTERN = "^[A-Za-z0-9_-]+$"  # base64url without padding, as write_cursor makes it

# The draft-ietf-httpapi-ratelimit-headers fields the gateway adds to its answers when
# the calling App's Plan sets limits (see gateway/ratelimit.py), and Retry-After on 429.
_LIMIT_HEADERS: dict[str, dict[str, Any]] = {
    "RateLimit": {
        "description": "Where the App stands in the policy closest to its limit, e.g. "
        "'\"rate\";r=7;t=1' (r: requests left, t: seconds until the window resets). "
        "Sent when the App's Plan sets limits.",
        "schema": {
            "type": "string",
            "pattern": '^"[a-z]+";r=[0-9]+;t=[0-9]+$',
            # a policy's name, at most a Plan's largest quota, at most a day's seconds
            "maxLength": RATELIMIT_MAX_LENGTH,
        },
    },
    "RateLimit-Policy": {
        "description": "The App's Plan: each policy's quota (q) per window (w, seconds), "
        'e.g. \'"burst";q=20;w=1, "daily";q=10000;w=86400\'. Sent when the Plan sets limits.',
        "schema": {
            "type": "string",
            "pattern": '^"[a-z]+";q=[0-9]+;w=[0-9]+(, "[a-z]+";q=[0-9]+;w=[0-9]+)*$',
            "maxLength": RATELIMIT_POLICY_MAX_LENGTH,  # three policies at most
        },
    },
    "Retry-After": {
        "description": "Seconds to wait before the next request can be admitted.",
        "required": True,
        # a window is at most a day (a Plan's period and its daily quota)
        "schema": {"type": "integer", "format": "int32", "minimum": 0, "maximum": 86400},
    },
}


def headers(api: Api) -> dict[str, Any]:
    """The document's ``components.headers``: the limit headers and the Api's CORS one."""
    found = {
        name: {**value, "schema": dict(value["schema"])} for name, value in _LIMIT_HEADERS.items()
    }
    found[ALLOW_ORIGIN] = _allow_origin(api)
    return found


def _allow_origin(api: Api) -> dict[str, Any]:
    cors = api.spec.cors
    if cors is None:
        return {
            "description": "Not sent: this Api allows no browser origins (it sets no 'cors'), "
            "so browsers keep its answers from other sites' pages.",
            "schema": {"type": "string", "format": "uri", "maxLength": MAX_ORIGIN_LENGTH},
        }
    return {
        "description": "The request's Origin, sent when it is one of the origins this Api "
        "allows (with Vary: Origin); absent for any other origin and for calls without one.",
        "schema": {"type": "string", "enum": list(cors.allow_origins)},
    }


def header_refs(names: tuple[str, ...]) -> dict[str, Any]:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


def security(issuer: str, name: str) -> dict[str, Any]:
    token_url = f"{issuer}/oauth/token"
    minutes = MAX_TTL_SECONDS // 60
    return {
        "apiKey": {
            "type": "apiKey",
            "in": "header",
            "name": "X-Api-Key",
            "description": "One of the App's API keys, in the X-Api-Key header.",
        },
        "oauth2": {
            "type": "oauth2",
            "description": "A short-lived access token (a JWT signed by the hub, validated "
            "as RFC8725 advises: the algorithm is the signing key's own, never the token's), "
            f"from {token_url} with the App's name as client_id and its client secret (or one "
            f"of its API keys) as client_secret. Tokens live at most {minutes} minutes. No "
            "refresh tokens are issued to client credentials (RFC 6749 4.4.3): to refresh, "
            "ask the token URL again with the client credentials (so refreshUrl is the "
            "token URL).",
            "flows": {
                "clientCredentials": {
                    "tokenUrl": token_url,
                    "refreshUrl": token_url,
                    "scopes": {name: f"Call {name}"},
                }
            },
        },
    }


def _value_schema(kind: str) -> dict[str, Any]:
    """A field's value in the query, as the gateway takes it (collections.parse_query)."""
    if kind == "integer":  # text of digits, compared as a 64-bit integer
        return {
            "type": "string",
            "pattern": paging.INTEGER_PATTERN,
            "maxLength": len(str(paging.INT64_MIN)),
        }
    if kind == "number":
        return {"type": "number"}
    if kind == "boolean":
        return {"type": "boolean"}
    if kind == "date-time":
        return {"type": "string", "format": "date-time", "maxLength": paging.MAX_MOMENT_LENGTH}
    return {"type": "string", "maxLength": paging.MAX_VALUE_LENGTH}


def collection_parameters(collection: Collection) -> list[dict[str, Any]]:
    sortable = [n for n, f in collection.fields.items() if f.sortable]
    filterable = [n for n, f in collection.fields.items() if f.filterable]
    out: list[dict[str, Any]] = [
        {
            "name": "limit",
            "in": "query",
            "description": f"Records per page (default {collection.default_limit}).",
            "schema": {
                "type": "integer",
                "format": "int32",
                "minimum": 1,
                "maximum": collection.max_limit,
            },
            "example": collection.default_limit,
        },
        {
            "name": "cursor",
            "in": "query",
            "description": "Where the next page starts: follow 'nextLink' rather than building it.",
            "schema": {
                "type": "string",
                "pattern": _CURSOR_PATTERN,
                "maxLength": paging.MAX_CURSOR_LENGTH,
            },
        },
        {
            "name": "sort",
            "in": "query",
            "description": f"Fields to sort by, comma-separated, '-' for descending: {sortable}.",
            "schema": {"type": "string", "maxLength": paging.MAX_SORT_LENGTH},
        },
        {
            "name": "filter",
            "in": "query",
            "description": "An OData filter expression over "
            f"{filterable}, e.g. \"{filterable[0] if filterable else 'name'} eq 'x'\"; "
            "eq ne gt ge lt le in, and or not, contains startswith endswith.",
            "schema": {"type": "string", "maxLength": FILTER_MAX_LENGTH},
        },
    ]
    for name in filterable:
        field = collection.fields[name]
        description = field.description or f"Only records whose {name} equals this."
        if field.type == "integer":
            description += " Digits: compared as a 64-bit integer."
        out.append(
            {"name": name, "in": "query", "description": description,
             "schema": _value_schema(field.type)}
        )  # fmt: skip
    return out


def next_link_schema() -> dict[str, Any]:
    return {
        "type": "string",
        "format": "uri",
        "maxLength": paging.MAX_LINK_LENGTH,  # a longer link is refused, not written
        "description": "The next page; absent on the last.",
    }
