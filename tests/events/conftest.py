"""The events tests use the running hub of the gateway tests, with the EventType and
event routes those tests apply."""

from __future__ import annotations

from tests.gateway.conftest import backend, running
from tests.gateway.test_events import events

__all__ = ["backend", "events", "running"]
