"""Commands on credentials: App API keys and vault secrets."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from isthmus.cli.common import (
    HomeOption,
    cli_actor,
    console,
    err,
    fail,
    ok,
    run,
    settings,
    warn,
)
from isthmus.errors import NotFound
from isthmus.governance.audit import AuditEntry
from isthmus.governance.keyring import new_key
from isthmus.governance.tokens import TokenAuthority
from isthmus.governance.vault import Rekeyed, Vault
from isthmus.model import App, Connection, ResourceKey
from isthmus.model.base import NAME_PATTERN
from isthmus.store import Store

keys = typer.Typer(help="API keys of Apps.", no_args_is_help=True)
signing_keys = typer.Typer(help="Keys that sign OAuth2 access tokens.", no_args_is_help=True)
secrets = typer.Typer(
    help="Secrets in the vault (referenced as secret://NAME).", no_args_is_help=True
)


def _store(home: Path | None) -> Store:
    return Store.open(settings(home).resolved_database_url())


@keys.command("create")
def key_create(
    app: str = typer.Argument(..., help="The App the key identifies."),
    environment: str = typer.Option("sandbox", "--environment", "-e"),
    label: str = typer.Option("", help="A note to tell keys apart."),
    home: Path | None = HomeOption,
) -> None:
    """Issue a key. It is printed once and stored only as a digest."""
    if not re.match(NAME_PATTERN, environment):
        fail(f"'{environment}' is not an Environment name (lower-case letters, digits, '-')")
        raise typer.Exit(1)

    async def go() -> tuple[str, bool]:
        async with _store(home) as store:
            if await store.resources.get(ResourceKey(App.__name__, app)) is None:
                raise NotFound(f"No App '{app}'.", remediation="Apply a project that declares it.")
            served = any(
                c.environment == environment
                for c in await store.resources.list(Connection.__name__)
            )
            _, plain = await store.keys.create(app, environment, label)
            return plain, served

    plain, served = run(go())
    if not served:
        warn(f"no Connection is declared for Environment '{environment}' yet")
    err.print(f"API key for App '{app}' ({environment}); shown once, store it now:")
    typer.echo(plain)


@keys.command("list")
def key_list(app: str | None = typer.Argument(None), home: Path | None = HomeOption) -> None:
    """List keys (ids and state, never the keys)."""

    async def go() -> None:
        async with _store(home) as store:
            rows = await store.keys.list(app)
        table = Table("id", "app", "environment", "label", "created", "revoked")
        for k in rows:
            table.add_row(
                k.id,
                k.app,
                k.environment,
                k.label,
                f"{k.created_at:%Y-%m-%d %H:%M}",
                f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "",
            )
        console.print(table)

    run(go())


@keys.command("revoke")
def key_revoke(key_id: str, home: Path | None = HomeOption) -> None:
    """Revoke a key; a running gateway refuses it within a second."""

    async def go() -> None:
        async with _store(home) as store:
            await store.keys.revoke(key_id)

    run(go())
    ok(f"revoked {key_id}")


def _vault(store: Store, home: Path | None) -> Vault:
    s = settings(home)
    return Vault.open(store.secrets, s)


@secrets.command("set")
def secret_set(
    name: str,
    value: str | None = typer.Option(
        None,
        help="The value; omit it to read all of standard input (keeps it out of history; "
        "a PEM key keeps its lines).",
    ),
    home: Path | None = HomeOption,
) -> None:
    """Store a secret, encrypted."""
    if value is None:
        value = (  # all of it: a PEM key spans lines
            sys.stdin.read().rstrip("\n")
            if not sys.stdin.isatty()
            else typer.prompt("Value", hide_input=True)
        )
    if not value:
        fail("the value is empty")
        raise typer.Exit(1)

    async def go() -> None:
        async with _store(home) as store:
            vault = _vault(store, home)
            existed = Vault.name_of(name) in await vault.names()
            await vault.set(name, value)
            detail = {"replaced": existed}
            await _audit(store, "secret.write", f"secret/{Vault.name_of(name)}", detail)

    run(go())
    ok(f"stored; reference it as secret://{Vault.name_of(name)}")


@secrets.command("list")
def secret_list(home: Path | None = HomeOption) -> None:
    """List secret names (never values)."""

    async def go() -> list[str]:
        async with _store(home) as store:
            return await _vault(store, home).names()

    for name in run(go()):
        typer.echo(f"secret://{name}")


@secrets.command("delete")
def secret_delete(name: str, home: Path | None = HomeOption) -> None:
    """Delete a secret."""

    async def go() -> None:
        async with _store(home) as store:
            await _vault(store, home).delete(name)
            await _audit(store, "secret.delete", f"secret/{Vault.name_of(name)}")

    run(go())
    ok(f"deleted {name}")


@secrets.command("rekey")
def secret_rekey(home: Path | None = HomeOption) -> None:
    """Seal every value anew under the current master key (after changing it in the
    configuration); prints what remains under other keys."""

    async def go() -> Rekeyed:
        async with _store(home) as store:
            done = await _vault(store, home).rekey()
            await _audit(store, "vault.rekey", "vault", {"resealed": done.resealed})
            return done

    done = run(go())
    ok(f"sealed anew: {done.resealed} values")
    if done.remaining:
        warn(f"still under other keys (give the hub those keys): {done.remaining}")
        raise typer.Exit(1)


@secrets.command("rotate-master-key")
def secret_rotate_master_key(home: Path | None = HomeOption) -> None:
    """A new master key in the key file; every value sealed anew. The old key stays in
    the file (running hubs switch to the new one at their next write) until
    'isthmus secret forget-old-keys'."""

    async def go() -> tuple[str, Rekeyed]:
        async with _store(home) as store:
            vault = _vault(store, home)
            old = vault.keys.current_id
            new = vault.keys.rotate_file()
            done = await vault.rekey()
            detail = {"resealed": done.resealed, "key": new, "previousKey": old}
            await _audit(store, "vault.rotate", "vault", detail)
            return new, done

    new, done = run(go())
    ok(f"master key {new}; sealed anew: {done.resealed} values")
    warn("the old key stays in the key file: run 'isthmus secret forget-old-keys' next")


@secrets.command("forget-old-keys")
def secret_forget_old_keys(home: Path | None = HomeOption) -> None:
    """Drop the key file's older keys, once every value is sealed under the current one."""

    async def go() -> Rekeyed:
        async with _store(home) as store:
            done = await _vault(store, home).forget_old_keys()
            await _audit(store, "vault.forget-old-keys", "vault", {"resealed": done.resealed})
            return done

    done = run(go())
    ok(f"only the current key is left (sealed anew first: {done.resealed} values)")


@secrets.command("new-master-key")
def secret_new_master_key() -> None:
    """Print a new master key (for ISTHMUS_MASTER_KEY); nothing is stored."""
    typer.echo(new_key())


async def _audit(
    store: Store, action: str, target: str, detail: dict[str, Any] | None = None
) -> None:
    await store.audit.append([AuditEntry(cli_actor(), action, target, "ok", detail or {})])


@signing_keys.command("list")
def signing_key_list(home: Path | None = HomeOption) -> None:
    """List signing keys (public data only)."""

    async def go() -> None:
        async with _store(home) as store:
            rows = await store.signing_keys.list()
        table = Table("kid", "alg", "created", "retired")
        for k in rows:
            retired = f"{k.retired_at:%Y-%m-%d %H:%M}" if k.retired_at else ""
            table.add_row(k.kid, k.alg, f"{k.created_at:%Y-%m-%d %H:%M}", retired)
        console.print(table)

    run(go())


@signing_keys.command("rotate")
def signing_key_rotate(home: Path | None = HomeOption) -> None:
    """Sign new tokens with a new key; tokens signed before stay valid until they expire."""

    async def go() -> str:
        s = settings(home)
        async with _store(home) as store:
            authority = TokenAuthority(store.signing_keys, _vault(store, home), s.token_algorithm)
            return await authority.rotate()

    ok(f"new signing key {run(go())}; running gateways pick it up within a second")
