"""OpenTelemetry: a server span per request, continuing the caller's trace into the backend."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from isthmus.gateway.app import Gateway
from isthmus.tracing import GatewayTracing
from tests.gateway.conftest import ISSUER, Backend, Running
from tests.helpers import asgi_call

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


async def test_requests_are_spans_of_the_callers_trace(running: Running, backend: Backend) -> None:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    gateway = Gateway(
        running.hub.snapshots,
        running.hub.limiter,
        issuer=ISSUER,
        tracing=GatewayTracing(provider.get_tracer("test")),
    )
    headers = {"X-Api-Key": running.key, "traceparent": PARENT}
    reply = await asgi_call(gateway, "GET", "/customers/v2/customers/9", headers=headers)
    assert reply.status == 200
    assert await asgi_call(gateway, "GET", "/customers/v2/boom", headers=headers)
    first, second = spans.get_finished_spans()
    assert first.kind == SpanKind.SERVER
    assert format(first.context.trace_id, "032x") == TRACE_ID  # the caller's trace goes on
    assert first.name == "GET /customers/v2/customers/{id}"
    assert first.attributes["http.route"] == "/customers/v2/customers/{id}"
    assert first.attributes["http.response.status_code"] == 200
    assert first.attributes["isthmus.app"] == "portal"
    assert second.status.status_code == StatusCode.ERROR  # the backend's 500 → 502
    sent = backend.seen[0]["headers"]["traceparent"]
    assert sent.split("-")[1] == TRACE_ID  # and reaches the backend
    assert sent.split("-")[2] == format(first.context.span_id, "016x")


async def test_without_a_tracer_nothing_is_traced(running: Running, backend: Backend) -> None:
    await running.get("/customers/v2/customers", running.key, headers={"traceparent": PARENT})
    assert backend.seen[0]["headers"]["traceparent"] == PARENT  # passed through untouched
