"""What the gateway measures: request durations and counts per Api, version, route
template, status class and App, exposed on the control plane's ``/metrics``.

Labels are bounded (route templates, not paths; App names, not keys) so the number of
series stays proportional to what is declared, whatever callers send.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

LABELS = ("api", "version", "route", "status_class", "app")
# Tuned for an API gateway: most answers within milliseconds, a long tail of slow backends.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


_STATUS_CLASS = {n: f"{n}xx" for n in range(1, 6)}


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.duration = Histogram(
            "isthmus_http_server_request_duration_seconds",
            "Time from receiving a request to sending its answer.",
            LABELS,
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.requests = Counter(
            "isthmus_http_server_requests",
            "Requests answered by the gateway.",
            LABELS,
            registry=self.registry,
        )

        # One pair of children per label set, looked up in a dict: labels() costs more
        # than the observation itself on the hot path. Bounded as the labels are.
        self._children: dict[tuple[str, ...], tuple[Any, Any]] = {}

    def observe(
        self, *, api: str, version: str, route: str, status: int, app: str, seconds: float
    ) -> None:
        labels = (api, version, route, _STATUS_CLASS[status // 100], app)
        children = self._children.get(labels)
        if children is None:
            children = (self.duration.labels(*labels), self.requests.labels(*labels))
            self._children[labels] = children
        children[0].observe(seconds)
        children[1].inc()
