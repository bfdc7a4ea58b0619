"""Running the hub: the gateway and the control plane on their own ports, one process."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from contextlib import ExitStack

from isthmus.control.app import create_control_app
from isthmus.gateway.app import Gateway
from isthmus.gateway.cache import ResponseCache
from isthmus.hub import Hub
from isthmus.servers import Server, UvicornServer, gateway_server, listen, run_until_started
from isthmus.settings import Settings
from isthmus.tracing import GatewayTracing, provider_for


async def serve(
    settings: Settings, on_ready: Callable[[Hub], Awaitable[None]] | None = None
) -> None:
    """Serve until SIGINT/SIGTERM; ``on_ready`` runs once both ports accept connections.

    The gateway listens on ``host``; the control plane on ``control_host``, loopback by
    default, so exposing the gateway never exposes the admin API with it.
    """
    with ExitStack() as sockets:
        gateway_socket = sockets.enter_context(
            listen(settings.host, settings.gateway_port, reuse_port=settings.gateway_reuse_port)
        )
        control_socket = sockets.enter_context(listen(settings.control_host, settings.control_port))
        provider = provider_for(settings.otel_endpoint) if settings.otel_endpoint else None
        tracing = GatewayTracing(provider.get_tracer("isthmus.gateway") if provider else None)
        sockets.callback(lambda: provider.shutdown() if provider else None)
        async with Hub(settings) as hub:
            gateway = gateway_server(
                settings.gateway_server,
                Gateway(
                    hub.snapshots,
                    hub.limiter,
                    metrics=hub.metrics,
                    tracing=tracing,
                    cache=ResponseCache(settings.cache_max_entries, settings.cache_max_entry_bytes),
                    access_log=settings.access_log,
                    issuer=settings.issuer(),
                    token_ttl=settings.token_ttl_seconds,
                    max_body_bytes=settings.gateway_max_body_bytes,
                ),
                gateway_socket,
            )
            control = UvicornServer(create_control_app(hub), control_socket)
            servers: list[Server] = [gateway, control]

            def stop() -> None:
                for server in servers:
                    server.stop()

            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop)
            try:
                tasks = await run_until_started(servers)
                if all(server.started for server in servers) and on_ready is not None:
                    await on_ready(hub)
                await asyncio.gather(*tasks)
            finally:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)
