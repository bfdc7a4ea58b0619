"""``isthmus audit``: read the audit log from the store."""

from __future__ import annotations

from pathlib import Path

import orjson
import typer
from rich.table import Table

from isthmus.cli.common import HomeOption, console, run, settings
from isthmus.store import Store
from isthmus.store.audit import AuditFilter


def audit(
    actor: str | None = typer.Option(None, help="Only what this App or admin did."),
    action: str | None = typer.Option(None, help="An action, or a prefix ending in '.' (sql.)."),
    target: str | None = typer.Option(None, help="e.g. connection/crm@production"),
    outcome: str | None = typer.Option(None, help="ok, refused or failed"),
    limit: int = typer.Option(50, min=1, max=10_000),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
    home: Path | None = HomeOption,
) -> None:
    """Show the audit log, newest first: who did what, to what, with what outcome."""

    async def go() -> None:
        async with Store.open(settings(home).resolved_database_url()) as store:
            where = AuditFilter(actor, action, target, outcome, limit=limit)
            entries = await store.audit.list(where)
        if as_json:
            for e in entries:
                console.out(orjson.dumps(e.__dict__, default=str).decode(), highlight=False)
            return
        table = Table("id", "at (UTC)", "actor", "action", "target", "outcome", "detail")
        for e in entries:
            shown = {k: v for k, v in e.detail.items() if k != "sql"}
            table.add_row(
                str(e.id),
                f"{e.at:%Y-%m-%d %H:%M:%S}",
                e.actor,
                e.action,
                e.target,
                e.outcome,
                " ".join(f"{k}={v}" for k, v in shown.items()),
            )
        if entries:
            console.print(table)
        else:
            console.print("No audit entries match.")

    run(go())
