"""Running the hub: the gateway and the control plane on their own ports, one process."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Generator
from contextlib import contextmanager
from typing import Any

import uvicorn

from isthmus.control.app import create_control_app
from isthmus.gateway.app import Gateway
from isthmus.hub import Hub
from isthmus.settings import Settings


class _Server(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # Two servers share one process: signals are handled once, in serve().
        yield


def _config(app: Any, settings: Settings, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=settings.host,
        port=port,
        lifespan="off",
        log_config=None,
        access_log=False,
        server_header=False,
        date_header=False,
    )


async def serve(
    settings: Settings, on_ready: Callable[[Hub], Awaitable[None]] | None = None
) -> None:
    """Serve until SIGINT/SIGTERM; ``on_ready`` runs once both ports accept connections."""
    async with Hub(settings) as hub:
        gateway = _Server(
            _config(
                Gateway(hub.snapshots, settings.gateway_max_body_bytes),
                settings,
                settings.gateway_port,
            )
        )
        control = _Server(_config(create_control_app(hub), settings, settings.control_port))
        servers = (gateway, control)

        def stop() -> None:
            for server in servers:
                server.should_exit = True

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop)
        try:
            tasks = [asyncio.create_task(server.serve()) for server in servers]
            while not all(server.started for server in servers):
                if any(task.done() for task in tasks):  # a port was taken, say
                    stop()
                    break
                await asyncio.sleep(0.05)
            else:
                if on_ready is not None:
                    await on_ready(hub)
            await asyncio.gather(*tasks)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        if not all(server.started for server in servers):
            raise SystemExit(
                f"could not listen on {settings.host}:{settings.gateway_port} and "
                f"{settings.control_port}; is another hub running? (set ISTHMUS_GATEWAY_PORT / "
                "ISTHMUS_CONTROL_PORT)"
            )
