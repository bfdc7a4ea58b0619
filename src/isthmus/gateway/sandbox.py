"""The sandbox endpoint: every served Api version also answers under
``/sandbox/{api}/{version}`` with exactly its contract, for sandbox credentials only,
routed to the sandbox Connections (or the mock, where a System has no sandbox).

The production address keeps serving whatever Environment the credential names, so
existing callers are unaffected; the sandbox address makes the Environment explicit in
the URL, which is what a try-it console or a copied example needs.
"""

from __future__ import annotations

import copy
from typing import Any

from isthmus.errors import Forbidden, NotFound

PREFIX = "/sandbox"
ENVIRONMENT = "sandbox"


class NotSandboxCredential(Forbidden):
    code = "not-sandbox-credential"
    title = "The sandbox endpoint takes sandbox credentials"
    remediation = (
        "Use a sandbox API key (isk_sandbox_…) or a token from a sandbox credential; call "
        "production without the '/sandbox' prefix."
    )


class NotUnderSandbox(NotFound):
    code = "route-not-found"
    title = "Not under the sandbox"
    remediation = (
        "The token endpoint and the key set are the same for every Environment: use "
        "/oauth/token and /.well-known/… without '/sandbox'; a sandbox credential gives "
        "sandbox tokens."
    )


def split(path: str) -> str | None:
    """The path under the sandbox prefix, or None for other paths."""
    if path.startswith(PREFIX + "/"):
        return path[len(PREFIX) :]
    return None


def check(environment: str) -> None:
    if environment != ENVIRONMENT:
        raise NotSandboxCredential(
            f"This is the sandbox endpoint; the credential is for '{environment}'."
        )


def document(production: dict[str, Any], issuer: str, api: str, version: str) -> dict[str, Any]:
    """The sandbox's document: production's, with the sandbox's server — the one thing
    the two do not share."""
    out = copy.deepcopy(production)
    server = dict((production.get("servers") or [{}])[0])
    server["url"] = f"{issuer}{PREFIX}/{api}/{version}"
    server["description"] = (
        "The sandbox: sandbox credentials only; sandbox Systems answer (or a mock giving "
        "the documented examples, where a System has no sandbox)."
    )
    out["servers"] = [server]
    return out
