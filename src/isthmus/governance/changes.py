"""Resource changes in the audit log: who changed what, with the document before and
after. Resources never hold secret values (literal secrets are refused on every write
path), so both documents are safe to keep."""

from __future__ import annotations

from typing import Any

from isthmus.governance.audit import AuditEntry, AuditSink
from isthmus.model import Resource, ResourceKey
from isthmus.store import Change


def target(key: ResourceKey) -> str:
    """How the audit log names a resource: ``connection/crm@sandbox``, ``api/customers``."""
    where = f"@{key.environment}" if key.environment else ""
    return f"{key.kind.lower()}/{key.name}{where}"


def change_entry(actor: str, change: Change, before: Resource | None) -> AuditEntry:
    detail: dict[str, Any] = {
        "before": before.canonical() if before is not None else None,
        "after": change.resource.canonical() if change.resource is not None else None,
    }
    return AuditEntry(actor, f"resource.{change.action}", target(change.key), "ok", detail)


async def record_change(
    audit: AuditSink, actor: str, change: Change, before: Resource | None
) -> None:
    await audit.record(change_entry(actor, change, before))
