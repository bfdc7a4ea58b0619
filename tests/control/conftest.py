"""The control plane tests use the same running hub as the gateway tests."""

from __future__ import annotations

from tests.gateway.conftest import backend, running

__all__ = ["backend", "running"]
