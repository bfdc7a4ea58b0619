"""Shared CLI helpers: settings, the console, and running coroutines."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console

from isthmus.errors import IsthmusError
from isthmus.settings import Settings

T = TypeVar("T")

# soft_wrap: never break a line, so file:line:column reports stay greppable
console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def settings(home: Path | None = None) -> Settings:
    values: dict[str, Any] = {}
    if home is not None:
        values["home"] = home
    return Settings(**values)


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine; hub errors become a message and exit status 1, not a traceback."""
    try:
        return asyncio.run(coroutine)
    except IsthmusError as exc:
        err.print(f"[red]error[/red] [{exc.code}] {exc.detail}")
        err.print(f"  what to do: {exc.remediation}")
        raise typer.Exit(1) from None


HomeOption = typer.Option(
    None,
    "--home",
    envvar="ISTHMUS_HOME",
    help="Folder of the embedded store and keys (default: ./.isthmus).",
    show_default=False,
)
