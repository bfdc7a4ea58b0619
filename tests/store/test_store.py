"""The store on SQLite and PostgreSQL: the same tests, both databases."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from isthmus.errors import Conflict, NotFound
from isthmus.governance.keyring import new_key
from isthmus.governance.vault import SecretBusy, SecretMissing, Vault, VaultKeyMismatch
from isthmus.model import App, Connection, ResourceKey, System
from isthmus.store import Change, StaleRevision, Store
from isthmus.store.db import current_revision, migrate
from isthmus.store.keys import ActiveKey, digest


def system(name: str, owner: str = "team-a") -> System:
    return System.model_validate({"kind": "System", "metadata": {"name": name, "owner": owner}})


def connection(name: str, environment: str, url: str = "https://crm.example.com") -> Connection:
    return Connection.model_validate(
        {
            "kind": "Connection",
            "metadata": {"name": name, "environment": environment},
            "spec": {"system": "crm", "connector": "rest", "config": {"baseUrl": url}},
        }
    )


async def test_migrations_reach_head_and_are_idempotent(store: Store) -> None:
    assert await current_revision(store.engine) == "0008"
    await migrate(store.engine)  # a second start must not fail or change anything
    assert await current_revision(store.engine) == "0008"
    assert await store.resources.revision() == 0


async def test_create_update_delete_bump_the_revision(store: Store) -> None:
    crm = system("crm")
    r1 = await store.resources.apply([Change("create", crm.key, crm)])
    assert r1 == 1
    assert await store.resources.get(crm.key) == crm
    changed = system("crm", owner="team-b")
    r2 = await store.resources.apply([Change("update", crm.key, changed)])
    assert r2 == 2
    stored = await store.resources.get(crm.key)
    assert stored is not None
    assert stored.metadata.owner == "team-b"
    r3 = await store.resources.apply([Change("delete", crm.key, None)])
    assert r3 == 3
    assert await store.resources.get(crm.key) is None


async def test_environment_is_part_of_identity(store: Store) -> None:
    sandbox = connection("crm", "sandbox", "https://sandbox.example.com")
    production = connection("crm", "production", "https://crm.example.com")
    await store.resources.apply(
        [Change("create", sandbox.key, sandbox), Change("create", production.key, production)]
    )
    got = await store.resources.get(ResourceKey("Connection", "crm", "production"))
    assert got is not None
    assert got.spec.config["baseUrl"] == "https://crm.example.com"
    assert len(await store.resources.list("Connection")) == 2


async def test_a_failing_change_writes_nothing(store: Store) -> None:
    crm = system("crm")
    await store.resources.apply([Change("create", crm.key, crm)])
    erp = system("erp")
    before = await store.resources.revision()
    with pytest.raises(Conflict):
        # the second change collides, so the first must be rolled back with it
        await store.resources.apply(
            [Change("create", erp.key, erp), Change("create", crm.key, crm)]
        )
    assert await store.resources.get(erp.key) is None
    assert await store.resources.revision() == before


async def test_stale_revision_is_refused(store: Store) -> None:
    crm = system("crm")
    seen = await store.resources.revision()
    await store.resources.apply([Change("create", crm.key, crm)])
    erp = system("erp")
    with pytest.raises(StaleRevision):
        await store.resources.apply([Change("create", erp.key, erp)], expect_revision=seen)
    assert await store.resources.get(erp.key) is None


async def test_update_and_delete_of_missing_resources_conflict(store: Store) -> None:
    ghost = system("ghost")
    with pytest.raises(Conflict):
        await store.resources.apply([Change("update", ghost.key, ghost)])
    with pytest.raises(Conflict):
        await store.resources.apply([Change("delete", ghost.key, None)])


async def test_api_keys_are_stored_as_digests(store: Store) -> None:
    info, plain = await store.keys.create("my-app", "sandbox", "laptop")
    assert plain.startswith("isk_sandbox_" + info.id)
    index = await store.keys.active_digests()
    assert index == {digest(plain): ActiveKey(info.id, "my-app", "sandbox", "api-key", None)}
    listed = await store.keys.list("my-app")
    assert [k.id for k in listed] == [info.id]
    async with store.engine.connect() as conn:
        from sqlalchemy import text

        dump = str((await conn.execute(text("SELECT * FROM api_keys"))).all())
    assert plain not in dump
    await store.keys.revoke(info.id)
    assert await store.keys.active_digests() == {}
    with pytest.raises(NotFound):
        await store.keys.revoke(info.id)


async def test_vault_encrypts_at_rest(store: Store) -> None:
    vault = Vault.with_key(store.secrets, new_key())
    canary = "canary-" + "s3cr3t-value-7781"
    await vault.set("crm-token", canary)
    assert await vault.resolve("secret://crm-token") == canary
    raw = await store.secrets.get("crm-token")
    assert raw is not None
    assert canary.encode() not in raw
    assert await vault.names() == ["crm-token"]
    other = Vault.with_key(store.secrets, new_key())
    with pytest.raises(VaultKeyMismatch):
        await other.resolve("secret://crm-token")
    with pytest.raises(SecretMissing):
        await vault.resolve("secret://nope")
    revision = await store.resources.revision()
    await vault.set("crm-token", "rotated")
    assert await store.resources.revision() == revision + 1  # connections must reopen
    await vault.delete("crm-token")
    assert await vault.names() == []


async def test_snapshot_reads_revision_with_resources(store: Store) -> None:
    app = App.model_validate({"kind": "App", "metadata": {"name": "my-app"}})
    await store.resources.apply([Change("create", app.key, app)])
    revision, resources = await store.resources.snapshot()
    assert revision == 1
    assert resources == [app]


def test_a_missing_driver_names_the_extra() -> None:
    from isthmus.errors import ConfigurationError
    from isthmus.store.db import create_engine

    with pytest.raises(ConfigurationError) as info:
        create_engine("postgresql+psycopg2cffi://u@127.0.0.1/x")
    assert "isthmus[postgres]" in info.value.remediation


async def test_concurrent_writers_never_share_a_revision(store: Store) -> None:
    import asyncio

    crm = system("crm")
    await asyncio.gather(
        *(store.keys.create(f"app-{i}", "sandbox") for i in range(5)),
        store.resources.apply([Change("create", crm.key, crm)]),
        *(store.secrets.put(f"s{i}", b"x") for i in range(3)),
    )
    assert await store.resources.revision() == 9


async def test_only_one_of_two_applies_from_the_same_revision_wins(store: Store) -> None:
    import asyncio

    seen = await store.resources.revision()
    first, second = system("first"), system("second")
    outcomes = await asyncio.gather(
        store.resources.apply([Change("create", first.key, first)], expect_revision=seen),
        store.resources.apply([Change("create", second.key, second)], expect_revision=seen),
        return_exceptions=True,
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["StaleRevision", "int"]
    assert len(await store.resources.list("System")) == 1


async def test_migrations_create_exactly_the_tables_the_code_uses(store: Store) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from isthmus.store.tables import metadata

    def drift(sync: Any) -> list[Any]:
        return compare_metadata(MigrationContext.configure(sync), metadata)  # type: ignore[no-any-return]

    async with store.engine.connect() as conn:
        differences = await conn.run_sync(drift)
    ours = [d for d in differences if d[0] != "remove_table" or d[1].name != "alembic_version"]
    assert ours == []


async def test_a_lease_has_one_holder_until_released_or_expired(store: Store) -> None:
    leases = store.leases
    assert await leases.take("secret/x", "a", 30)
    assert not await leases.take("secret/x", "b", 30)
    assert await leases.take("secret/x", "a", 30)  # the holder renews it
    await leases.release("secret/x", "b")  # not the holder: nothing happens
    assert not await leases.take("secret/x", "b", 30)
    await leases.release("secret/x", "a")
    assert await leases.take("secret/x", "b", 0.05)
    await asyncio.sleep(0.1)  # b died holding it: it expires
    assert await leases.take("secret/x", "c", 30)


async def test_the_vault_lock_makes_holders_take_turns(store: Store) -> None:
    vault = Vault.with_key(store.secrets, new_key())
    inside: list[str] = []

    async def turn(who: str) -> None:
        async with vault.lock("secret://refresh"):
            inside.append(f"{who}+")
            await asyncio.sleep(0.02)
            inside.append(f"{who}-")

    await asyncio.gather(*(turn(w) for w in "abcd"))
    assert all(inside[i][0] == inside[i + 1][0] for i in range(0, 8, 2))  # never interleaved
    async with vault.lock("secret://refresh"):
        with pytest.raises(SecretBusy):
            await vault.lock("secret://refresh", wait_seconds=0.1).__aenter__()
