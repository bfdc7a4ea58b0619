"""Shared CLI helpers: settings, the console, and running coroutines."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError

from isthmus.errors import IsthmusError
from isthmus.settings import Settings

T = TypeVar("T")

# markup off: names, paths and messages come from users and must print as written;
# soft_wrap: never break a line, so file:line:column reports stay greppable.
console = Console(highlight=False, soft_wrap=True, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


def ok(message: str) -> None:
    console.print(Text("✓ ", style="green") + Text(message))


def fail(message: str) -> None:
    """One error line on stderr (the caller decides the exit status)."""
    err.print(Text("error ", style="red") + Text(message))


def bad(message: str) -> None:
    """One problem line of a report on stderr."""
    err.print(Text("✗ ", style="red") + Text(message))


def warn(message: str) -> None:
    err.print(Text("warning ", style="yellow") + Text(message))


def folder_or_exit(directory: Path, *, force: bool) -> None:
    """Refuse a path that is a file, or a non-empty folder unless ``force``."""
    if directory.exists() and not directory.is_dir():
        fail(f"{directory} is a file, not a folder")
        raise typer.Exit(1)
    if not force and directory.exists() and any(directory.iterdir()):
        fail(f"{directory} is not empty (use --force to write into it anyway)")
        raise typer.Exit(1)


def cli_actor() -> str:
    """Who acts from the command line, as the audit log names them."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name for this uid (a container)
        return "cli"


def settings(home: Path | None = None) -> Settings:
    values: dict[str, Any] = {}
    if home is not None:
        values["home"] = home
    return Settings(**values)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where installed (it comes with uvicorn[standard]): it roughly doubles what
    the gateway serves per core."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine; hub errors become a message and exit status 1, not a traceback."""
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            return runner.run(coroutine)
    except IsthmusError as exc:
        fail(f"[{exc.code}] {exc.detail}")
        err.print(f"  what to do: {exc.remediation}")
        raise typer.Exit(1) from None
    except SQLAlchemyError as exc:  # the driver's message can name hosts: keep it out
        fail(f"the store cannot be used ({type(exc).__name__})")
        err.print("  what to do: check ISTHMUS_DATABASE_URL and that the database is running")
        raise typer.Exit(1) from None
    except OSError as exc:
        fail(f"{exc.strerror or type(exc).__name__}: {exc.filename or ''}".rstrip(": "))
        raise typer.Exit(1) from None


HomeOption = typer.Option(
    None,
    "--home",
    envvar="ISTHMUS_HOME",
    help="Folder of the embedded store and keys (default: ./.isthmus).",
    show_default=False,
)
