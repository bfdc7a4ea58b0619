"""Optional OpenTelemetry tracing of gateway requests (extra ``isthmus[otel]``).

Off unless ``ISTHMUS_OTEL_ENDPOINT`` names an OTLP/HTTP collector. Then every gateway
request is a server span — continuing the caller's W3C ``traceparent`` — and the trace
context is passed on to the backend, so one trace runs from the low-code app through
the hub into the System. The imports stay lazy: without the extra nothing is loaded.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from isthmus.errors import ConfigurationError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer


def provider_for(endpoint: str, service: str = "isthmus-gateway") -> TracerProvider:
    """A tracer provider exporting to an OTLP/HTTP collector in batches."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise ConfigurationError(
            "Tracing needs the OpenTelemetry packages.",
            remediation="Install them: pip install 'isthmus[otel]'.",
        ) from exc
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider


_NO_SPAN: AbstractContextManager[None] = nullcontext()


class GatewayTracing:
    """Spans for gateway requests, or nothing at all when no tracer is given."""

    def __init__(self, tracer: Tracer | None) -> None:
        self.tracer = tracer

    def request(
        self, method: str, headers: list[tuple[bytes, bytes]]
    ) -> AbstractContextManager[Span | None]:
        """A server span for one request, continuing the caller's trace; with tracing
        off, a shared do-nothing context (this runs on every request)."""
        if self.tracer is None:
            return _NO_SPAN
        return self._span(self.tracer, method, headers)

    @staticmethod
    @contextmanager
    def _span(
        tracer: Tracer, method: str, headers: list[tuple[bytes, bytes]]
    ) -> Iterator[Span | None]:
        from opentelemetry import propagate
        from opentelemetry.trace import SpanKind

        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in headers}
        parent = propagate.extract(carrier)
        with tracer.start_as_current_span(
            f"{method} gateway", context=parent, kind=SpanKind.SERVER
        ) as span:
            span.set_attribute("http.request.method", method)
            yield span

    @staticmethod
    def finish(span: Span | None, attributes: dict[str, Any], status: int) -> None:
        if span is None:
            return
        from opentelemetry.trace import Status, StatusCode

        route = attributes.pop("route", "")
        if route:
            span.update_name(f"{attributes.get('method', '')} {route}".strip())
            span.set_attribute("http.route", route)
        for key, value in attributes.items():
            if value:
                span.set_attribute(f"isthmus.{key}", value)
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR))

    def inject(self, headers: MutableMapping[str, str]) -> None:
        """Pass the current trace on to the backend (``traceparent``)."""
        if self.tracer is None:
            return
        from opentelemetry import propagate

        propagate.inject(headers)
