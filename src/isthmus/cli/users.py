"""Commands on the people who sign in to the portal."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import typer
from rich.table import Table

from isthmus.cli.common import HomeOption, cli_actor, console, fail, ok, run, settings
from isthmus.governance.audit import AuditEntry
from isthmus.governance.people import USER_NAME, hash_password
from isthmus.store import Store

users = typer.Typer(help="People who sign in to the developer portal.", no_args_is_help=True)


def _store(home: Path | None) -> Store:
    return Store.open(settings(home).resolved_database_url())


def _password(given: str | None) -> str:
    if given is not None:
        return given
    if not sys.stdin.isatty():  # piped: keeps it out of the shell's history
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


async def _audit(store: Store, action: str, name: str, detail: dict[str, object]) -> None:
    await store.audit.append([AuditEntry(cli_actor(), action, f"user/{name}", "ok", dict(detail))])


@users.command("add")
def user_add(
    name: str = typer.Argument(..., help="Sign-in name: lower-case letters, digits, . _ -"),
    team: list[str] = typer.Option(
        [], "--team", "-t", help="A team they belong to (resources' metadata.owner); repeat."
    ),
    display_name: str = typer.Option("", "--display-name", help="Shown in the portal."),
    admin: bool = typer.Option(False, "--admin", help="May see and decide everything."),
    password: str | None = typer.Option(
        None, help="Omit it to be asked (or to read one line of standard input)."
    ),
    home: Path | None = HomeOption,
) -> None:
    """Add a person; they own what names them or one of their teams."""
    if not re.match(USER_NAME, name):
        fail(f"'{name}' is not a valid name (lower-case letters, digits, '.', '_', '-')")
        raise typer.Exit(1)
    hashed = hash_password(_password(password))

    async def go() -> None:
        async with _store(home) as store:
            people = await store.users.list()
            # owners name people or teams: one name must not mean both
            teams = {t for p in people for t in p.teams}
            clash = ({name} & teams) | (set(team) & {p.name for p in people})
            if clash:
                fail(f"'{', '.join(sorted(clash))}' names both a person and a team")
                raise typer.Exit(1)
            await store.users.add(name, display_name or name, hashed, team, admin)
            await _audit(store, "user.add", name, {"teams": team, "admin": admin})

    run(go())
    ok(f"added {name}" + (f" (teams: {', '.join(team)})" if team else ""))


@users.command("list")
def user_list(home: Path | None = HomeOption) -> None:
    """List people (never their passwords)."""

    async def go() -> None:
        async with _store(home) as store:
            people = await store.users.list()
        table = Table("name", "display name", "teams", "admin")
        for person in people:
            table.add_row(person.name, person.display_name, ", ".join(person.teams),
                          "yes" if person.admin else "")  # fmt: skip
        console.print(table)

    run(go())


@users.command("password")
def user_password(
    name: str, password: str | None = typer.Option(None), home: Path | None = HomeOption
) -> None:
    """Set a new password."""
    hashed = hash_password(_password(password))

    async def go() -> None:
        async with _store(home) as store:
            await store.users.set_password(name, hashed)
            await _audit(store, "user.password", name, {})

    run(go())
    ok(f"new password for {name}")


@users.command("remove")
def user_remove(name: str, home: Path | None = HomeOption) -> None:
    """Remove a person; their sessions end at their next request."""

    async def go() -> None:
        async with _store(home) as store:
            await store.users.remove(name)
            await _audit(store, "user.remove", name, {})

    run(go())
    ok(f"removed {name}")
