"""Governance tests that need a hub use the gateway tests' running hub."""

from __future__ import annotations

from tests.gateway.conftest import backend, running

__all__ = ["backend", "running"]
