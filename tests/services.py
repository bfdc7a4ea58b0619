"""Access to the real services the suite uses. They run on every development and CI
machine, so a missing service is a failure that says how to start it, never a skip."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

POSTGRES_ADMIN_DSN = os.environ.get(
    "ISTHMUS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


START = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "Redis": "redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' "
    "--appendonly no --dir /var/lib/redis",
    "MariaDB": "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd",
    "RabbitMQ": "rabbitmq-server -detached",
    "NATS": "start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- "
    "-a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server",
    "Mosquitto": "mosquitto -d -c /etc/mosquitto/mosquitto.conf",
}


def unavailable(service: str, reason: object) -> NoReturn:
    pytest.fail(
        f"{service} is not reachable ({reason}); start it with: {START[service]}", pytrace=False
    )


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


def fetched(path: Path, what: str) -> Path:
    """A file or tool ``make test`` puts under .cache (npm checkers, GitHub's OpenAPI
    document): missing is a failure that says how to get it, as for the services."""
    if not path.exists():
        pytest.fail(
            f"{what} is missing ({path}); 'make test' fetches it from the npm registry",
            pytrace=False,
        )
    return path
