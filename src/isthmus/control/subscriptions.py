"""Pausing and resuming a Subscription without editing its YAML by hand: the stored
resource's ``spec.paused`` changes (so ``isthmus export`` shows it), the bus keeps the
Subscription's events meanwhile, and they flow again on resume."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from isthmus.control.resources import write_checked
from isthmus.control.security import actor
from isthmus.errors import NotFound
from isthmus.hub import Hub
from isthmus.model import ResourceKey, Subscription
from isthmus.model.base import NAME_PATTERN

router = APIRouter(prefix="/subscriptions", tags=["Subscription"])

Name = Annotated[str, Path(pattern=NAME_PATTERN, description="The Subscription's name.")]
Environment = Annotated[str, Query(pattern=NAME_PATTERN, description="Its Environment.")]


async def _set_paused(request: Request, name: str, environment: str, paused: bool) -> Any:
    hub: Hub = request.app.state.hub
    key = ResourceKey("Subscription", name, environment)
    revision, everything = await hub.store.resources.snapshot()
    stored = next((r for r in everything if r.key == key), None)
    if not isinstance(stored, Subscription):
        raise NotFound(f"No Subscription '{name}' in Environment '{environment}'.")
    if stored.spec.paused == paused:
        return stored.canonical()  # already so: nothing to write
    changed = stored.model_copy(update={"spec": stored.spec.model_copy(update={"paused": paused})})
    # written only if nothing changed since it was read: no other edit is lost
    await write_checked(hub, changed, "update", actor(request), read_at=revision)
    return changed.canonical()


@router.post("/{name}/pause", summary="Stop delivering; the bus keeps its events meanwhile")
async def pause(request: Request, name: Name, environment: Environment) -> Any:
    return await _set_paused(request, name, environment, True)


@router.post("/{name}/resume", summary="Deliver again, starting with what was kept")
async def resume(request: Request, name: Name, environment: Environment) -> Any:
    return await _set_paused(request, name, environment, False)
