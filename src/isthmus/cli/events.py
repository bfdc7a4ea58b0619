"""``isthmus events``: the hub's events as documents."""

from __future__ import annotations

from pathlib import Path

import orjson
import typer

from isthmus.cli.common import HomeOption, console, ok, run, settings
from isthmus.events.asyncapi import events_document
from isthmus.store import Store

events = typer.Typer(help="Events: EventTypes and where they travel.", no_args_is_help=True)


@events.command("export")
def export(
    out: Path | None = typer.Option(None, "--out", "-o", help="Write to this file."),
    home: Path | None = HomeOption,
) -> None:
    """Write the AsyncAPI 3.0 document of every EventType (to standard output by default)."""

    async def go() -> bytes:
        async with Store.open(settings(home).resolved_database_url()) as store:
            return orjson.dumps(await events_document(store), option=orjson.OPT_INDENT_2)

    document = run(go())
    if out is None:
        console.out(document.decode(), highlight=False)
        return
    out.write_bytes(document + b"\n")
    ok(f"wrote {out}")
