"""Exports of an Api version's contract in the formats low-code platforms import.

Every format is a pure function of the native OpenAPI 3.1 document (what the gateway
serves at ``…/openapi.json``) and the server URL the importing tool will call — the
production or the sandbox endpoint of the version.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from isthmus.governance.exports.base import ExportLimitExceeded, UnknownExportFormat, serialize
from isthmus.governance.exports.openapi30 import to_openapi30
from isthmus.governance.exports.openapi31 import is_openapi30, up_convert
from isthmus.governance.exports.postman import to_postman
from isthmus.governance.exports.power_platform import to_power_platform

Render = Callable[[dict[str, Any], str], dict[str, Any]]


def to_openapi31(document: dict[str, Any], server_url: str) -> dict[str, Any]:
    """The native document itself, on the chosen endpoint; a version whose imported
    document is 3.0 gets it up-converted, as the file's name and media type promise."""
    out = up_convert(document) if is_openapi30(document) else copy.deepcopy(document)
    out["servers"] = [{"url": server_url}]
    return out


@dataclass(frozen=True)
class ExportFormat:
    name: str
    render: Render
    media_type: str
    suffix: str  # of the file name: {api}-{version}[-{environment}]{suffix}
    summary: str

    def filename(self, api: str, version: str, environment: str = "production") -> str:
        where = "" if environment == "production" else f"-{environment}"
        return f"{api}-{version}{where}{self.suffix}"


FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat(
            "openapi-3.1",
            to_openapi31,
            "application/vnd.oai.openapi+json;version=3.1",
            ".openapi-3.1.json",
            "OpenAPI 3.1, as the gateway serves it",
        ),
        ExportFormat(
            "openapi-3.0",
            to_openapi30,
            "application/vnd.oai.openapi+json;version=3.0",
            ".openapi-3.0.json",
            "OpenAPI 3.0.3, for tools that do not read 3.1 yet",
        ),
        ExportFormat(
            "power-platform",
            to_power_platform,
            "application/json",
            ".swagger.json",
            "Swagger 2.0 custom connector for Power Apps, Power Automate and Copilot Studio",
        ),
        ExportFormat(
            "postman",
            to_postman,
            "application/json",
            ".postman_collection.json",
            "Postman collection v2.1",
        ),
    )
}


def export_format(name: str) -> ExportFormat:
    """The format called ``name``; a problem naming the known ones if there is none."""
    found = FORMATS.get(name)
    if found is None:
        raise UnknownExportFormat(
            f"There is no export format '{name}'; known: {', '.join(FORMATS)}.",
            extensions={"formats": list(FORMATS)},
        )
    return found


__all__ = [
    "FORMATS",
    "ExportFormat",
    "ExportLimitExceeded",
    "UnknownExportFormat",
    "export_format",
    "serialize",
    "to_openapi30",
    "to_openapi31",
    "to_postman",
    "to_power_platform",
]
