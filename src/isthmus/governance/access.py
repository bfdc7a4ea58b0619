"""Access requests: an App's owner asks for an Api (a version, a Plan) in an Environment,
with a justification; the Api's owner approves or rejects, with a reason.

Environments the Api lists in ``spec.selfService`` (the sandbox, by default) are granted
at once. An approval grants the Api in its Environment (and in the sandbox), and issues
what the App lacks: a client secret for that Environment and a sandbox API key — sealed
for the App's owner to collect once. Every step is audited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from isthmus.errors import BadRequest, Conflict, NotFound
from isthmus.governance.audit import AuditEntry, AuditSink
from isthmus.governance.credentials import Credentials, Issued
from isthmus.governance.people import NotOwner, Principal
from isthmus.governance.vault import Vault
from isthmus.model import Api, App, ResourceKey
from isthmus.store import Store
from isthmus.store.access import AccessRequest, Grant
from isthmus.store.keys import CredentialKind

SANDBOX = "sandbox"
SERVED = ("published", "deprecated")
MIN_JUSTIFICATION = 10


@dataclass(frozen=True)
class Outcome:
    """A request as it stands, and credentials issued to the actor (shown once)."""

    request: AccessRequest
    issued: list[Issued] = field(default_factory=list)
    awaiting_pickup: list[str] = field(default_factory=list)  # credential ids


class AccessRequests:
    def __init__(self, store: Store, vault: Vault, audit: AuditSink) -> None:
        self.store = store
        self.vault = vault
        self.audit = audit
        self.credentials = Credentials(store, vault, audit)

    async def api(self, name: str) -> Api:
        api = await self.store.resources.get(ResourceKey("Api", name))
        if not isinstance(api, Api):
            raise NotFound(f"No Api '{name}'.", remediation="Find Apis in the catalog.")
        return api

    async def ask(
        self, actor: Principal, app: str, api: str, version: str, environment: str,
        justification: str, plan: str | None = None,
    ) -> Outcome:  # fmt: skip
        target = await self.api(api)
        asker = await self.credentials.app(app)
        actor.require_owner(asker, "ask for access for it")
        served = [v.name for v in target.spec.versions if v.status in SERVED]
        if version not in served:
            raise BadRequest(
                f"Api '{api}' serves no version '{version}'.",
                remediation=f"Ask for one of: {', '.join(served) or 'none yet'}.",
            )
        if plan is not None and await self.store.resources.get(ResourceKey("Plan", plan)) is None:
            raise BadRequest(f"No Plan '{plan}'.", remediation="Pick a Plan from the catalog.")
        # a Plan other than the App's own changes its limits: the Api's owner decides that
        own_plan = asker.spec.plan
        self_service = environment in target.spec.self_service and plan in (None, own_plan)
        if not self_service and len(justification.strip()) < MIN_JUSTIFICATION:
            raise BadRequest(
                "Say why the App needs this access (a sentence the Api's owner can judge).",
                remediation=f"Write at least {MIN_JUSTIFICATION} characters of justification.",
            )
        if api in await self._granted(asker, environment):
            raise Conflict(
                f"App '{app}' already has access to '{api}' in {environment}.",
                remediation="Use its credentials; see them under the App.",
            )
        request = await self.store.access.add_request(
            app, api, version, environment, plan, justification.strip(), actor.name
        )
        await self._record(actor, "access.request", request)
        if not self_service:
            return Outcome(request)
        by = f"{actor.name} (self-service)"
        return await self._approve(actor, request, by, None, self_service=True)

    async def decide(
        self, actor: Principal, request_id: int, approve: bool, reason: str | None
    ) -> Outcome:
        request = await self.store.access.request(request_id)
        target = await self.api(request.api)
        actor.require_owner(target, "decide on access to it")
        if not approve:
            if not reason or not reason.strip():
                raise BadRequest(
                    "A rejection needs a reason.",
                    remediation="Tell the App's owner what would make you approve.",
                )
            async with self.store.engine.begin() as conn:
                await self.store.access.decide(request_id, "rejected", actor.name, reason, conn)
            decided = await self.store.access.request(request_id)
            await self._record(actor, "access.reject", decided)
            return Outcome(decided)
        return await self._approve(actor, request, actor.name, reason, self_service=False)

    async def withdraw(self, actor: Principal, request_id: int) -> AccessRequest:
        request = await self.store.access.request(request_id)
        actor.require_owner(await self.credentials.app(request.app), "withdraw its requests")
        async with self.store.engine.begin() as conn:
            await self.store.access.decide(request_id, "withdrawn", actor.name, None, conn)
        withdrawn = await self.store.access.request(request_id)
        await self._record(actor, "access.withdraw", withdrawn)
        return withdrawn

    async def revoke_grant(self, actor: Principal, grant_id: int) -> Grant:
        grant = await self.store.access.grant(grant_id)
        actor.require_owner(await self.api(grant.api), "revoke access to it")
        await self.store.access.revoke_grant(grant_id, actor.name)
        detail = {"app": grant.app, "api": grant.api, "environment": grant.environment}
        await self.audit.record(
            AuditEntry(actor.name, "grant.revoke", f"app/{grant.app}", "ok", detail)
        )
        return await self.store.access.grant(grant_id)

    async def visible(self, actor: Principal, status: str | None = None) -> list[AccessRequest]:
        """What ``actor`` may see: requests of the Apps they own and for the Apis they own."""
        if actor.admin:
            return await self.store.access.requests(status=status)
        resources = await self.store.resources.list()
        apps = [r.metadata.name for r in resources if r.kind == "App" and actor.owns(r)]
        apis = [r.metadata.name for r in resources if r.kind == "Api" and actor.owns(r)]
        return await self.store.access.requests(apps=apps, apis=apis, status=status)

    async def seen_by(self, actor: Principal, request_id: int) -> AccessRequest:
        request = await self.store.access.request(request_id)
        if any(r.id == request_id for r in await self.visible(actor)):
            return request
        raise NotOwner(f"Access request {request_id} is for neither your Apps nor your Apis.")

    async def _granted(self, app: App, environment: str) -> set[str]:
        grants = await self.store.access.grants(app.metadata.name)
        return set(app.spec.apis) | {g.api for g in grants if g.environment == environment}

    async def _approve(
        self, actor: Principal, request: AccessRequest, by: str, reason: str | None, *,
        self_service: bool,
    ) -> Outcome:  # fmt: skip
        """Grant, and issue what the App lacks, in one transaction with the decision.
        Self-service hands the credentials to the asker at once; an approval seals them
        for the App's owner to collect."""
        now = datetime.now(UTC)
        have = {(k.kind, k.environment) for k in await self.store.keys.list(request.app)
                if k.active(now)}  # fmt: skip
        needed: list[tuple[CredentialKind, str]] = []
        if request.environment != SANDBOX and ("client-secret", request.environment) not in have:
            needed.append(("client-secret", request.environment))
        if ("api-key", SANDBOX) not in have:
            needed.append(("api-key", SANDBOX))
        grant_in = [request.environment]
        app = await self.credentials.app(request.app)
        if request.environment != SANDBOX and request.api not in await self._granted(app, SANDBOX):
            grant_in.append(SANDBOX)  # production access comes with the sandbox's

        issued: list[Issued] = []
        async with self.store.engine.begin() as conn:
            await self.store.access.decide(request.id, "approved", by, reason, conn)
            for environment in grant_in:
                plan = request.plan if environment == request.environment else None
                await self.store.access.add_grant(
                    conn, request.app, request.api, environment, plan, request.id, by
                )
            for kind, environment in needed:
                info, plain = await self.store.keys.create(
                    request.app, environment, f"access request {request.id}", kind,
                    seal=None if self_service else self.vault.seal_for, conn=conn,
                )  # fmt: skip
                issued.append(Issued(info, plain))
        decided = await self.store.access.request(request.id)
        await self._record(actor, "access.approve", decided)
        for credential in issued:
            await self.credentials.record(actor, "credential.issue", credential.info)
        if self_service:
            return Outcome(decided, issued)
        return Outcome(decided, [], [credential.info.id for credential in issued])

    async def _record(self, actor: Principal, action: str, request: AccessRequest) -> None:
        detail = {
            "request": request.id,
            "api": request.api,
            "version": request.version,
            "environment": request.environment,
            "plan": request.plan,
            "status": request.status,
        }
        if request.reason:
            detail["reason"] = request.reason
        await self.audit.record(AuditEntry(actor.name, action, f"app/{request.app}", "ok", detail))
