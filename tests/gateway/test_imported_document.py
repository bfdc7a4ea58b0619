"""An imported OpenAPI document as the gateway serves it: the backend's servers and
authentication stay behind the gateway (internal addresses, a way around it)."""

from __future__ import annotations

import json
from typing import Any

from isthmus.governance.exports.native import native_document
from isthmus.model import Api

INTERNAL = ("internal.corp", "10.20.30.40")
DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Orders", "version": "1"},
    "servers": [{"url": "http://orders.prod.internal.corp:8080/api"}],
    "components": {"securitySchemes": {"backendBasic": {"type": "http", "scheme": "basic"}}},
    "webhooks": {"shipped": {"post": {"servers": [{"url": "https://10.20.30.40/hook"}]}}},
    "paths": {
        "/orders": {
            "servers": [{"url": "http://orders-db-proxy.internal.corp:9000"}],
            "get": {
                "operationId": "listOrders",
                "security": [{"backendBasic": []}],
                "responses": {
                    "200": {
                        "description": "ok",
                        "links": {
                            "next": {
                                "operationId": "listOrders",
                                "server": {"url": "https://10.20.30.40/x"},
                            }
                        },
                    }
                },
            },
            "post": {
                "operationId": "createOrder",
                "security": [],
                "servers": [{"url": "https://10.20.30.40/admin"}],
                "responses": {"200": {"description": "ok"}},
            },
        }
    },
}


def test_backend_servers_and_authentication_are_not_published() -> None:
    target = {"type": "proxy", "connection": "erp"}
    api = Api.model_validate(
        {
            "kind": "Api",
            "metadata": {"name": "orders"},
            "spec": {"versions": [{"name": "v1", "openapi": DOCUMENT, "routes": [
                {"method": "GET", "path": "/orders", "target": target},
                {"method": "POST", "path": "/orders", "target": target}]}]},
        }
    )  # fmt: skip
    served = native_document(api, "v1", "https://hub.example.test")
    text = json.dumps(served)
    for host in INTERNAL:
        assert host not in text
    assert served["servers"][0]["url"] == "https://hub.example.test/orders/v1"
    assert set(served["components"]["securitySchemes"]) == {"apiKey", "oauth2"}
    for method in ("get", "post"):
        assert "security" not in served["paths"]["/orders"][method]  # the gateway's, for all
    assert served["security"] == [{"apiKey": []}, {"oauth2": ["orders"]}]
    assert "webhooks" not in served
    assert DOCUMENT["paths"]["/orders"]["servers"]  # the stored document is left as it is


def test_an_imported_openapi_30_document_is_served_as_valid_31() -> None:
    from openapi_spec_validator import validate

    document = {
        "openapi": "3.0.3",
        "info": {"title": "Legacy", "version": "1"},
        "paths": {
            "/items": {
                "get": {
                    "operationId": "listItems",
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {"application/json": {"schema": {
                                "type": "object",
                                "properties": {"note": {"type": "string", "nullable": True}},
                            }}},
                        }
                    },
                }
            }
        },
    }  # fmt: skip
    api = Api.model_validate(
        {"kind": "Api", "metadata": {"name": "legacy"},
         "spec": {"versions": [{"name": "v1", "openapi": document, "routes": [
             {"method": "GET", "path": "/items",
              "target": {"type": "proxy", "connection": "erp"}}]}]}}
    )  # fmt: skip
    served = native_document(api, "v1", "https://hub.example.test")
    assert served["openapi"] == "3.1.0"
    validate(served)  # the gateway's own problem schemas included
    schema = served["paths"]["/items"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"]  # fmt: skip
    assert schema["properties"]["note"]["type"] == ["string", "null"]
    assert document["openapi"] == "3.0.3"  # the stored document is left as it is
