"""Contracts taken from an Api version's imported OpenAPI document.

Schemas are not copied out of the document: each check is a ``$ref`` into it, resolved
through registries that hold the whole document, so ``$ref``s between components
(circular ones too) work as they do in the document.
"""

from __future__ import annotations

from typing import Any

from isthmus.gateway.schemas import OpenApiDocument, SchemaCheck
from isthmus.gateway.validation import CompiledContract, ParameterCheck
from isthmus.model.api import ApiVersion, Route

BASE = "urn:isthmus:openapi"


def _escape(step: str) -> str:
    return step.replace("~", "~0").replace("/", "~1")


class ImportedContract:
    """One version's document, ready to give each route its checks."""

    def __init__(self, version: ApiVersion) -> None:
        assert version.openapi is not None
        self.document = version.openapi
        self.registered = OpenApiDocument(BASE, self.document)

    def _resolve(self, node: Any, pointer: str) -> tuple[Any, str]:
        """Follow local ``$ref``s (a parameter or body defined in components)."""
        for _ in range(32):
            if not isinstance(node, dict) or not str(node.get("$ref", "")).startswith("#/"):
                return node, pointer
            pointer = node["$ref"][1:]
            node = self.document
            for step in pointer.strip("/").split("/"):
                key = step.replace("~1", "/").replace("~0", "~")
                node = node.get(key) if isinstance(node, dict) else None
        return None, pointer

    def _validator(self, pointer: str) -> SchemaCheck:
        return SchemaCheck({"$ref": f"{BASE}#{pointer}"}, self.registered)

    def _operation(self, route: Route) -> tuple[dict[str, Any], str, dict[str, Any]]:
        item_pointer = f"/paths/{_escape(route.path)}"
        item = self.document["paths"][route.path]
        method = route.method.lower()
        return item[method], f"{item_pointer}/{method}", item

    def request(self, route: Route) -> CompiledContract:
        operation, pointer, item = self._operation(route)
        parts: dict[str, dict[str, ParameterCheck]] = {"path": {}, "query": {}, "header": {}}
        declared = [
            (p, f"/paths/{_escape(route.path)}/parameters/{i}")
            for i, p in enumerate(item.get("parameters") or [])
        ] + [
            (p, f"{pointer}/parameters/{i}")
            for i, p in enumerate(operation.get("parameters") or [])
        ]
        for raw, at in declared:  # operation-level parameters come last and win
            parameter, at = self._resolve(raw, at)
            if not isinstance(parameter, dict) or parameter.get("in") not in parts:
                continue
            schema, _ = self._resolve(parameter.get("schema", {}), f"{at}/schema")
            kind = schema.get("type") if isinstance(schema, dict) else None
            name = str(parameter["name"])
            parts[parameter["in"]][name.lower() if parameter["in"] == "header" else name] = (
                ParameterCheck(
                    self._validator(f"{at}/schema"),
                    kind if isinstance(kind, str) else None,
                    bool(parameter.get("required")) or parameter["in"] == "path",
                )
            )
        body = None
        request_body, body_at = self._resolve(
            operation.get("requestBody"), f"{pointer}/requestBody"
        )
        if isinstance(request_body, dict) and request_body.get("required"):
            content = request_body.get("content") or {}
            if "application/json" in content and "schema" in content["application/json"]:
                body = self._validator(f"{body_at}/content/application~1json/schema")
        return CompiledContract(parts["path"], parts["query"], parts["header"], body, True)

    def response(self, route: Route) -> SchemaCheck | None:
        operation, pointer, _ = self._operation(route)
        responses = operation.get("responses") or {}
        for status in ("200", "201", "2XX", "2xx"):
            if status not in responses:
                continue
            answer, at = self._resolve(responses[status], f"{pointer}/responses/{status}")
            content = answer.get("content") if isinstance(answer, dict) else None
            if isinstance(content, dict) and "schema" in content.get("application/json", {}):
                return self._validator(f"{at}/content/application~1json/schema")
        return None
