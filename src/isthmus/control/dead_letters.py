"""Dead letters of Subscriptions (and of triggers): listed, inspected, replayed once."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel

from isthmus.errors import Conflict, NotFound
from isthmus.events.delivery import DeliveryFailed
from isthmus.events.naming import TRIGGER_PREFIX
from isthmus.hub import Hub
from isthmus.model import ResourceKey
from isthmus.store.dead_letters import DeadLetter

router = APIRouter(tags=["Subscription"])


class DeadLetterOut(BaseModel):
    id: int
    subscription: str
    environment: str
    event_id: str
    error: str
    attempts: int
    failed_at: datetime
    replayed_at: datetime | None
    event: Any


def _out(letter: DeadLetter) -> DeadLetterOut:
    fields = {**letter.__dict__, "event": orjson.loads(letter.event)}
    return DeadLetterOut(**fields)


@router.get("/dead-letters", summary="Events Subscriptions could not deliver (newest first)")
async def list_dead_letters(
    request: Request,
    subscription: str | None = None,
    environment: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeadLetterOut]:
    hub: Hub = request.app.state.hub
    return [_out(d) for d in await hub.store.dead_letters.list(subscription, environment, limit)]


@router.get("/dead-letters/{id}", summary="One dead letter, with the event and the error")
async def get_dead_letter(id: Annotated[int, Path(ge=1)], request: Request) -> DeadLetterOut:
    hub: Hub = request.app.state.hub
    letter = await hub.store.dead_letters.get(id)
    if letter is None:
        raise NotFound(f"No dead letter {id}.")
    return _out(letter)


@router.post("/dead-letters/{id}/replay", summary="Deliver a dead letter once more (at most once)")
async def replay_dead_letter(id: Annotated[int, Path(ge=1)], request: Request) -> dict[str, Any]:
    hub: Hub = request.app.state.hub
    letter = await hub.store.dead_letters.get(id)
    if letter is None:
        raise NotFound(f"No dead letter {id}.")
    if letter.subscription.startswith(TRIGGER_PREFIX):
        raise Conflict(
            f"Dead letter {id} is an event a trigger could not publish: there is nothing "
            "to deliver it to again.",
            remediation="Fix the source (e.g. the outbox row's payload) and write it again.",
        )
    key = ResourceKey("Subscription", letter.subscription, letter.environment)
    deliverer = hub.deliveries.deliverers.get(key)
    if deliverer is None:
        raise Conflict(
            f"Subscription '{letter.subscription}' ({letter.environment}) is not delivering.",
            remediation="Resume it (spec.paused: false) or apply it again, then replay.",
        )
    if not await hub.store.dead_letters.claim_replay(id):
        raise Conflict(
            f"Dead letter {id} was replayed already.",
            remediation="A replay happens once; the receiver has the event's id to check.",
        )
    try:
        await deliverer.post(letter.event, orjson.loads(letter.event))
    except DeliveryFailed as failure:
        new_id = await hub.store.dead_letters.add(
            letter.subscription, letter.environment, letter.event_id, letter.event,
            str(failure), letter.attempts + 1,
        )  # fmt: skip
        return {"delivered": False, "error": str(failure), "deadLetter": new_id}
    return {"delivered": True}
