"""A 3.x document's ways to authenticate, said in Swagger 2.0."""

from __future__ import annotations

from typing import Any

from isthmus.governance.exports.schemas import deref


def security_definitions(doc: dict[str, Any]) -> dict[str, Any]:
    """``securityDefinitions`` and ``security`` of a 3.x document, in Swagger 2.0 terms,
    the API key first: a Power Platform connector uses the first definition it finds."""
    schemes = ((doc.get("components") or {}).get("securitySchemes")) or {}
    definitions: dict[str, Any] = {}
    for requirement in doc.get("security") or []:
        for name in requirement:
            if name in schemes and name not in definitions:
                converted = _scheme(deref(doc, schemes[name]))
                if converted is not None:
                    definitions[name] = converted
    # The connector uses the first definition it finds: an API key, where there is one.
    ordered = dict(sorted(definitions.items(), key=lambda kv: kv[1]["type"] != "apiKey"))
    requirements = [
        {name: (scopes if ordered[name]["type"] == "oauth2" else [])}
        for requirement in doc.get("security") or []
        for name, scopes in requirement.items()
        if name in ordered
    ]
    requirements.sort(key=lambda r: ordered[next(iter(r))]["type"] != "apiKey")
    return {"securityDefinitions": ordered, "security": requirements} if ordered else {}


def _scheme(scheme: dict[str, Any]) -> dict[str, Any] | None:
    kind = scheme.get("type")
    if kind == "apiKey" and scheme.get("in") in ("header", "query"):
        return {"type": "apiKey", "in": scheme["in"], "name": scheme["name"]}
    if kind == "http" and str(scheme.get("scheme", "")).lower() == "basic":
        return {"type": "basic"}
    if kind == "http" and str(scheme.get("scheme", "")).lower() == "bearer":
        return {"type": "apiKey", "in": "header", "name": "Authorization"}
    if kind != "oauth2":
        return None
    flows = scheme.get("flows") or {}
    for flow, name in (
        ("clientCredentials", "application"),
        ("authorizationCode", "accessCode"),
        ("implicit", "implicit"),
        ("password", "password"),
    ):
        if flow in flows:
            spec = flows[flow]
            out: dict[str, Any] = {"type": "oauth2", "flow": name, "scopes": spec.get("scopes", {})}
            if "tokenUrl" in spec:
                out["tokenUrl"] = spec["tokenUrl"]
            if "authorizationUrl" in spec:
                out["authorizationUrl"] = spec["authorizationUrl"]
            return out
    return None
