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


def redis_url() -> str:
    """The Redis on loopback, checked to answer."""
    import redis

    url = os.environ.get("ISTHMUS_TEST_REDIS", "redis://127.0.0.1:6379/0")
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable("Redis", exc)
    finally:
        client.close()
    return url
