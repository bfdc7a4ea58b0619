"""The vault: AES-256-GCM under a master key, rotation by file or by configuration,
values bound to their names, the old Fernet format migrated, writes audited."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from cryptography.fernet import Fernet

from isthmus.errors import ConfigurationError
from isthmus.governance.keyring import VERSION, KeySource, MasterKeys, new_key
from isthmus.governance.tokens import TokenAuthority
from isthmus.governance.vault import OldKeysInUse, Vault, VaultKeyMismatch
from isthmus.hub import Hub
from isthmus.settings import Settings
from isthmus.store import Store
from tests.gateway.conftest import Running
from tests.helpers import assert_problem

CANARY = "canary-vault-8d1f2a77c0"


def vault_on(store: Store, keys: MasterKeys) -> Vault:
    return Vault(store.secrets, keys)


async def test_values_are_sealed_with_aes_gcm_and_bound_to_their_names(store: Store) -> None:
    vault = Vault.with_key(store.secrets, new_key())
    await vault.set("crm-token", CANARY)
    await vault.set("other", "x")
    sealed = await store.secrets.get("crm-token")
    assert sealed is not None
    assert sealed.startswith(VERSION)
    assert CANARY.encode() not in sealed
    assert await vault.resolve("secret://crm-token") == CANARY
    # the same ciphertext under another name does not open: the name is authenticated
    assert await store.secrets.reseal("other", (await store.secrets.get("other")) or b"", sealed)
    with pytest.raises(VaultKeyMismatch):
        await vault.resolve("secret://other")
    with pytest.raises(VaultKeyMismatch):
        await Vault.with_key(store.secrets, new_key()).resolve("secret://crm-token")


async def test_a_key_file_rotation_reseals_everything_and_other_processes_follow(
    store: Store, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    keys = MasterKeys.in_home(home)
    assert (home / "master.key").stat().st_mode & 0o077 == 0
    vault = vault_on(store, keys)
    authority = TokenAuthority(store.signing_keys, vault, "ES256")
    await authority.ensure_key()
    await vault.set("crm-token", CANARY)
    old = keys.current_id
    other_process = vault_on(store, MasterKeys.in_home(home))  # read the file before

    new = keys.rotate_file()
    assert new != old
    assert (await vault.sealed_by()) == {old: 2}
    done = await vault.rekey()
    assert (done.resealed, done.remaining) == (2, {})
    await vault.forget_old_keys()
    assert (await vault.sealed_by()) == {new: 2}
    assert len([ln for ln in (home / "master.key").read_text().splitlines() if ln[:1] != "#"]) == 1
    # the other process meets a key id it does not know: it reads the file again
    assert await other_process.resolve("secret://crm-token") == CANARY
    assert (await authority.load()).signer is not None  # the signing key opens too


async def test_rotation_by_configuration_keeps_old_values_readable_until_rekeyed(
    store: Store,
) -> None:
    first, second = new_key(), new_key()
    await Vault.with_key(store.secrets, first).set("crm-token", CANARY)
    rotated = vault_on(store, MasterKeys(KeySource(second, (first,))))
    assert await rotated.resolve("secret://crm-token") == CANARY
    with pytest.raises(VaultKeyMismatch):  # without the previous key it does not open yet
        await Vault.with_key(store.secrets, second).resolve("secret://crm-token")
    done = await rotated.rekey()
    assert done.resealed == 1
    assert done.remaining == {}
    assert await Vault.with_key(store.secrets, second).resolve("secret://crm-token") == CANARY
    with pytest.raises(ConfigurationError):  # a configured key is not the file's to rotate
        rotated.keys.rotate_file()


async def test_a_value_under_an_unknown_key_is_left_and_reported(store: Store) -> None:
    await Vault.with_key(store.secrets, new_key()).set("lost", CANARY)
    vault = Vault.with_key(store.secrets, new_key())
    done = await vault.rekey()
    assert done.resealed == 0
    assert sum(done.remaining.values()) == 1


async def test_the_old_fernet_format_opens_with_the_old_key_and_is_migrated(
    store: Store, tmp_path: Path
) -> None:
    legacy = Fernet.generate_key()
    await store.secrets.put("crm-token", Fernet(legacy).encrypt(CANARY.encode()))
    home = tmp_path / "home"
    home.mkdir()
    (home / "vault.key").write_text(legacy.decode() + "\n")
    vault = vault_on(store, MasterKeys.in_home(home))
    assert (await vault.sealed_by()) == {"fernet": 1}
    assert await vault.resolve("secret://crm-token") == CANARY
    await vault.rekey()
    assert (await vault.sealed_by()) == {vault.keys.current_id: 1}
    (home / "vault.key").unlink()
    assert await vault_on(store, MasterKeys.in_home(home)).resolve("secret://crm-token") == CANARY


def test_a_malformed_master_key_is_a_clear_configuration_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        MasterKeys(KeySource("too-short"))
    assert "32 bytes" in caught.value.detail
    assert "too-short" not in caught.value.detail


async def test_the_admin_api_rotates_and_audits_without_values(running: Running) -> None:
    body = orjson.dumps({"value": CANARY})
    reply = await running.admin_call("PUT", "/admin/v1/secrets/canary-one", body=body)
    assert reply.status == 204
    state = (await running.admin_call("GET", "/admin/v1/vault")).json()
    before = state["current_key"]
    assert state["sealed_by"][before] >= 2  # the secret and the signing key
    reply = await running.admin_call("POST", "/admin/v1/vault/rotate")
    assert reply.status == 200, reply.body
    rotated = reply.json()
    assert rotated["current_key"] != before
    assert rotated["sealed_by"] == {rotated["current_key"]: state["sealed_by"][before]}
    assert rotated["resealed"] == state["sealed_by"][before]
    forgot = await running.admin_call("POST", "/admin/v1/vault/forget-old-keys")
    assert forgot.status == 200, forgot.body
    audit = await running.admin_call("GET", "/admin/v1/audit", query="action=secret.")
    entries = audit.json()["entries"]
    assert [e["target"] for e in entries] == ["secret/canary-one"]
    assert entries[0]["actor"] == "admin"
    vault_log = await running.admin_call("GET", "/admin/v1/audit", query="target=vault")
    actions = [e["action"] for e in vault_log.json()["entries"]]
    assert actions == ["vault.forget-old-keys", "vault.rotate"]
    assert CANARY not in audit.body.decode() + vault_log.body.decode()
    # the gateway still signs and verifies with the resealed signing key
    assert (await running.hub.tokens.load()).signer is not None


async def test_rekey_with_nothing_to_do_and_an_empty_value(running: Running) -> None:
    reply = await running.admin_call("POST", "/admin/v1/vault/rekey")
    assert reply.status == 200
    assert reply.json()["resealed"] == 0
    wrong = await running.admin_call("PUT", "/admin/v1/secrets/x", body=b'{"value": ""}')
    assert_problem(wrong, 422, "validation-failed")


async def test_a_rotation_keeps_credentials_awaiting_pickup(store: Store, tmp_path: Path) -> None:
    vault = vault_on(store, MasterKeys.in_home(tmp_path / "home"))
    info, plain = await store.keys.create(
        "app", "production", kind="client-secret", seal=vault.seal_for
    )
    vault.keys.rotate_file()
    done = await vault.rekey()
    assert done.resealed == 1
    await vault.forget_old_keys()
    assert await store.keys.collect(info.id, lambda s: vault.unseal_for(info.id, s)) == plain


async def test_a_value_that_cannot_be_opened_stays_to_collect(store: Store) -> None:
    vault = Vault.with_key(store.secrets, new_key())
    info, plain = await store.keys.create("app", "production", seal=vault.seal_for)
    stranger = Vault.with_key(store.secrets, new_key())
    with pytest.raises(VaultKeyMismatch):
        await store.keys.collect(info.id, lambda s: stranger.unseal_for(info.id, s))
    assert await store.keys.collect(info.id, lambda s: vault.unseal_for(info.id, s)) == plain


async def test_a_running_process_follows_a_rotation_before_it_writes(
    store: Store, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    running = vault_on(store, MasterKeys.in_home(home))
    operator = vault_on(store, MasterKeys.in_home(home))
    new = operator.keys.rotate_file()
    await running.set("written-after", CANARY)  # the running process seals under `new`
    assert (await operator.sealed_by()) == {new: 1}
    await operator.forget_old_keys()
    assert await operator.resolve("secret://written-after") == CANARY


async def test_old_keys_are_not_forgotten_while_values_need_them(store: Store) -> None:
    first, second = new_key(), new_key()
    await Vault.with_key(store.secrets, first).set("kept", CANARY)
    vault = Vault.with_key(store.secrets, second)  # lacks the first key
    with pytest.raises(OldKeysInUse):
        await vault.forget_old_keys()


async def test_starting_a_hub_does_not_reseal_under_a_new_configured_key(
    tmp_path: Path,
) -> None:
    first, second = new_key(), new_key()
    settings = Settings(home=tmp_path / "home", master_key=first)
    async with Hub(settings) as hub:
        await hub.vault.set("crm-token", CANARY)
    rolled = Settings(home=tmp_path / "home", master_key=second, master_keys_previous=first)
    async with Hub(rolled) as hub:
        assert await hub.vault.resolve("secret://crm-token") == CANARY
    # a hub not restarted yet (only the first key) still reads everything
    async with Hub(settings) as hub:
        assert await hub.vault.resolve("secret://crm-token") == CANARY
