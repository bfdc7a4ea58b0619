"""Credentials of Apps: issued, rotated with a grace period, revoked, collected once.

Two kinds: an **API key** travels with every call (handy in sandboxes and low-code tools
that cannot fetch tokens); a **client secret** is only traded at ``/oauth/token`` for a
short-lived access token (``client_id`` is the App's name). Only digests are stored. A
credential issued by someone other than the App's owner (an approval) is sealed by the
vault until the owner collects it — once — so the approver never sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from isthmus.errors import NotFound
from isthmus.governance.audit import AuditEntry, AuditSink
from isthmus.governance.people import Principal
from isthmus.governance.vault import Vault
from isthmus.model import App, ResourceKey
from isthmus.store import Store
from isthmus.store.keys import ApiKeyInfo, CredentialKind

MAX_GRACE = timedelta(days=30)
DEFAULT_GRACE = timedelta(hours=24)


@dataclass(frozen=True)
class Issued:
    """A credential and its plain value, to be shown once."""

    info: ApiKeyInfo
    value: str


class Credentials:
    def __init__(self, store: Store, vault: Vault, audit: AuditSink) -> None:
        self.store = store
        self.vault = vault
        self.audit = audit

    async def app(self, name: str) -> App:
        app = await self.store.resources.get(ResourceKey("App", name))
        if not isinstance(app, App):
            raise NotFound(f"No App '{name}'.", remediation="Create the App first.")
        return app

    async def _owned(self, actor: Principal, key_id: str, doing: str) -> ApiKeyInfo:
        info = await self.store.keys.get(key_id)
        actor.require_owner(await self.app(info.app), doing)
        return info

    async def list(self, actor: Principal, app: str) -> list[ApiKeyInfo]:
        actor.require_owner(await self.app(app), "see its credentials")
        return await self.store.keys.list(app)

    async def issue(
        self, actor: Principal, app: str, environment: str, kind: CredentialKind, label: str = ""
    ) -> Issued:
        actor.require_owner(await self.app(app), "get credentials for it")
        info, plain = await self.store.keys.create(app, environment, label, kind)
        await self.record(actor, "credential.issue", info)
        return Issued(info, plain)

    async def rotate(self, actor: Principal, key_id: str, grace: timedelta) -> Issued:
        """A new value; the old one keeps working for ``grace`` (at most 30 days)."""
        await self._owned(actor, key_id, "rotate its credentials")
        grace = max(timedelta(0), min(grace, MAX_GRACE))
        expires = datetime.now(UTC) + grace
        info, plain = await self.store.keys.rotate(key_id, expires)
        detail = {"replaces": key_id, "oldExpiresAt": expires.isoformat()}
        await self.record(actor, "credential.rotate", info, detail)
        return Issued(info, plain)

    async def revoke(self, actor: Principal, key_id: str) -> None:
        info = await self._owned(actor, key_id, "revoke its credentials")
        await self.store.keys.revoke(key_id)
        await self.record(actor, "credential.revoke", info)

    async def collect(self, actor: Principal, key_id: str) -> Issued:
        """The value an approval issued, handed out once."""
        info = await self._owned(actor, key_id, "collect its credentials")
        # opened before it is taken: a value that cannot be opened stays to collect
        plain = await self.store.keys.collect(key_id, lambda sealed: self.vault.unseal_for(
            key_id, sealed))  # fmt: skip
        await self.record(actor, "credential.collect", info)
        return Issued(await self.store.keys.get(key_id), plain)

    async def record(
        self, actor: Principal, action: str, info: ApiKeyInfo, extra: dict[str, str] | None = None
    ) -> None:
        detail = {"app": info.app, "environment": info.environment, "kind": info.kind}
        await self.audit.record(
            AuditEntry(
                actor.name, action, f"credential/{info.id}", "ok", {**detail, **(extra or {})}
            )
        )
