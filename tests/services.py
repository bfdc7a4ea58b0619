"""Access to the real services the suite uses, with the CI rule: when
ISTHMUS_REQUIRE_SERVICES=1 a missing service fails the test instead of skipping it."""

from __future__ import annotations

import os

import pytest

POSTGRES_ADMIN_DSN = os.environ.get(
    "ISTHMUS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def unavailable(service: str, reason: object) -> None:
    message = f"{service} is not reachable: {reason}"
    if os.environ.get("ISTHMUS_REQUIRE_SERVICES") == "1":
        pytest.fail(message + " (ISTHMUS_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(message)
