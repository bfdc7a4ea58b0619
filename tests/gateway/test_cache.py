"""The response cache: what is reused, for whom, and for how long (counted at the backend)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.gateway.conftest import Backend, Running, publish, resource


async def cached_api(running: Running, path: str, **cache: Any) -> str:
    route = {
        "path": "/thing",
        "target": {"type": "proxy", "connection": "crm", "path": path},
        "cache": {"ttlSeconds": 60, **cache},
    }
    await publish(running, "cached", [{"name": "v1", "routes": [route]}], ("portal", "other"))
    return "/cached/v1/thing"


async def test_answers_are_reused_within_the_ttl(running: Running, backend: Backend) -> None:
    url = await cached_api(running, "/cc/public")
    first = await running.get(url, running.key)
    assert first.headers["cache-status"] == "isthmus; fwd=miss; stored"
    second = await running.get(url, running.key)
    assert second.json() == first.json()
    assert second.headers["cache-status"].startswith("isthmus; hit; ttl=")
    assert second.headers["age"] == "0"
    assert len(backend.seen) == 1
    # a different query is a different answer
    await running.get(url, running.key, query="page=2")
    assert len(backend.seen) == 2


async def test_answers_are_kept_apart_per_app(running: Running, backend: Backend) -> None:
    url = await cached_api(running, "/cc/public")
    _, other_key = await running.hub.store.keys.create("other", "sandbox")
    await running.hub.snapshots.refresh()
    await running.get(url, running.key)
    await running.get(url, other_key)
    assert len(backend.seen) == 2
    await running.get(url, other_key)
    assert len(backend.seen) == 2


async def test_shared_answers_when_the_route_says_so(running: Running, backend: Backend) -> None:
    url = await cached_api(running, "/cc/public", perApp=False)
    _, other_key = await running.hub.store.keys.create("other", "sandbox")
    await running.hub.snapshots.refresh()
    await running.get(url, running.key)
    reply = await running.get(url, other_key)
    assert reply.headers["cache-status"].startswith("isthmus; hit")
    assert len(backend.seen) == 1


@pytest.mark.parametrize("directive", ["no-store", "no-cache", "max-age_0"])
async def test_backend_cache_control_is_respected(
    running: Running, backend: Backend, directive: str
) -> None:
    url = await cached_api(running, f"/cc/{directive}")
    await running.get(url, running.key)
    await running.get(url, running.key)
    assert len(backend.seen) == 2


async def test_private_answers_are_never_shared(running: Running, backend: Backend) -> None:
    url = await cached_api(running, "/cc/private", perApp=False)
    await running.get(url, running.key)
    await running.get(url, running.key)
    assert len(backend.seen) == 2


async def test_max_age_shortens_the_ttl(running: Running, backend: Backend) -> None:
    url = await cached_api(running, "/cc/max-age_1")
    await running.get(url, running.key)
    assert (await running.get(url, running.key)).headers["cache-status"].startswith("isthmus; hit")
    await asyncio.sleep(1.1)
    await running.get(url, running.key)
    assert len(backend.seen) == 2


async def test_vary_and_client_no_cache(running: Running, backend: Backend) -> None:
    url = await cached_api(running, "/cc/vary")
    english = await running.get(url, running.key, headers={"Accept-Language": "en"})
    german = await running.get(url, running.key, headers={"Accept-Language": "de"})
    assert (english.json()["lang"], german.json()["lang"]) == ("en", "de")
    again = await running.get(url, running.key, headers={"Accept-Language": "de"})
    assert again.json()["lang"] == "de"
    assert len(backend.seen) == 2
    fresh = await running.get(
        url, running.key, headers={"Accept-Language": "de", "Cache-Control": "no-cache"}
    )
    assert fresh.headers["cache-status"].startswith("isthmus; fwd=request")
    assert len(backend.seen) == 3


async def test_a_configuration_change_empties_the_cache(running: Running, backend: Backend) -> None:
    url = await cached_api(running, "/cc/public")
    await running.get(url, running.key)
    await cached_api(running, "/cc/public", ttlSeconds=30)  # a new revision
    await running.get(url, running.key)
    assert len(backend.seen) == 2


async def test_errors_are_not_cached_and_limits_still_count(
    running: Running, backend: Backend
) -> None:
    url = await cached_api(running, "/missing")
    await running.get(url, running.key)
    await running.get(url, running.key)
    assert len(backend.seen) == 2


def test_only_get_routes_cache() -> None:
    with pytest.raises(ValueError, match="only GET"):
        resource(
            {
                "kind": "Api",
                "metadata": {"name": "a"},
                "spec": {
                    "versions": [
                        {
                            "name": "v1",
                            "routes": [
                                {
                                    "method": "POST",
                                    "path": "/x",
                                    "cache": {"ttlSeconds": 5},
                                    "target": {"type": "proxy", "connection": "c"},
                                }
                            ],
                        }
                    ]
                },
            }
        )
