"""No credentials in URLs: a key, token or password in the query string ends up in
browser history, proxy and server logs and the Referer of the next page.

One case is declared and allowed: the OData face takes the App's key as ``api_key`` in
the query, because Power BI and Excel send a "Web API key" no other way
(``OData.Feed(url, null, [ApiKeyName="api_key"])``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from isthmus.governance.lint.context import VersionContext
from isthmus.governance.lint.findings import Severity
from isthmus.governance.lint.rules.base import Hit, rule
from isthmus.virtual.faces.odata import KEY_PARAMETER

# (path prefix, parameter name) where a key in the query is the declared way in.
DECLARED_QUERY_KEYS = frozenset({("/odata", KEY_PARAMETER)})

# Compared with separators removed, lower case: 'api_key', 'apiKey' and 'API-KEY' alike.
_CREDENTIAL = re.compile(
    r"^(key|auth|authorization|sig|signature|pwd)$"
    r"|(apikey|accesskey|secretkey|privatekey|token|secret|password|passwd|passphrase"
    r"|credentials?|sessionid)$"
)
# In a path, 'key' and a session id name the thing addressed (GET /settings/{key}, an
# S3 object key, /chat-sessions/{sessionId}): only unmistakable credentials count there.
_PATH_CREDENTIAL = re.compile(
    r"(apikey|accesskey|secretkey|privatekey|accesstoken|token|secret|password|passwd"
    r"|passphrase|credentials?)$"
)
# Names that end like a credential but are paging cursors.
_NOT_CREDENTIALS = frozenset({"pagetoken", "nexttoken", "continuationtoken", "synctoken"})


def looks_like_credential(name: str, where: str = "query") -> bool:
    plain = re.sub(r"[-_.$\s]", "", name).lower()
    pattern = _PATH_CREDENTIAL if where == "path" else _CREDENTIAL
    return plain not in _NOT_CREDENTIALS and bool(pattern.search(plain))


def _declared(path: str, name: str) -> bool:
    return any(path.startswith(prefix) and name == key for prefix, key in DECLARED_QUERY_KEYS)


@rule("no-secret-in-query", Severity.error, "No credentials in query strings or paths")
def no_secret_in_query(context: VersionContext) -> Iterator[Hit]:
    for op in context.operations():
        item = (context.document.get("paths") or {}).get(op.path) or {}
        own: list[Any] = op.spec.get("parameters") or []
        shared: list[Any] = item.get("parameters") or []
        for index, parameter in enumerate([*own, *shared]):
            if not isinstance(parameter, dict) or parameter.get("in") not in ("query", "path"):
                continue
            name, where = str(parameter.get("name")), str(parameter["in"])
            if not looks_like_credential(name, where) or _declared(op.path, name):
                continue
            yield Hit(
                op,
                f"{op.label} takes '{name}' in its {where}: a credential in the URL is "
                "written to logs and browser history",
                "Take credentials in a header (the gateway reads X-Api-Key and "
                "Authorization); rename the parameter if it is not a credential.",
                at=("parameters", index) if index < len(own) else (),
                field=("request", where, name),
                # an imported document is the backend's own contract: a vendor's API its
                # Api author cannot change (GitHub's ?token=) is worth a warning, not a refusal
                severity=Severity.warning if context.imported else None,
            )
    schemes = (context.document.get("components") or {}).get("securitySchemes") or {}
    for name, scheme in schemes.items():
        in_query = isinstance(scheme, dict) and scheme.get("in") == "query"
        if in_query and not _declared("/odata", str(scheme.get("name", ""))):
            yield Hit(
                None,
                f"security scheme '{name}' takes its key in the query string",
                "Take the key in a header.",
                at=("components", "securitySchemes", name),
            )
