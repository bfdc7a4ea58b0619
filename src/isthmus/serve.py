"""Running the hub: the gateway and the control plane on their own ports, one process."""

from __future__ import annotations

import asyncio
import signal
import socket
from collections.abc import Awaitable, Callable, Generator
from contextlib import ExitStack, contextmanager
from typing import Any

import uvicorn

from isthmus.control.app import create_control_app
from isthmus.errors import ConfigurationError
from isthmus.gateway.app import Gateway
from isthmus.gateway.cache import ResponseCache
from isthmus.hub import Hub
from isthmus.settings import Settings
from isthmus.tracing import GatewayTracing, provider_for


class PortUnavailable(ConfigurationError):
    code = "port-unavailable"
    title = "Cannot listen on the port"
    remediation = (
        "Stop what uses the port (another hub?) or choose others with --gateway-port / "
        "--control-port (ISTHMUS_GATEWAY_PORT / ISTHMUS_CONTROL_PORT)."
    )


class _Server(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # Two servers share one process: signals are handled once, in serve().
        yield


def listen(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A bound, listening socket. Bound here rather than by uvicorn, which exits the
    process on failure; this way a taken port is a clear error.

    With ``reuse_port`` several hub processes listen on the same port and the kernel
    spreads connections over them (SO_REUSEPORT): the way to use more than one core."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    # Accepted connections inherit this. Without it Nagle's algorithm holds back each
    # answer's body behind its headers until the client's delayed ACK: 40 ms a request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise PortUnavailable(f"Cannot listen on {host}:{port} ({exc.strerror}).") from exc
    return sock


def _server(app: Any) -> _Server:
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_config=None,
        access_log=False,
        server_header=False,
        date_header=False,
        # The gateway sets X-Forwarded-For itself; it must not trust a caller's.
        proxy_headers=False,
    )
    return _Server(config)


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
            gateway = _server(
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
                )
            )
            control = _server(create_control_app(hub))
            servers = (gateway, control)

            def stop() -> None:
                for server in servers:
                    server.should_exit = True

            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop)
            try:
                tasks = [
                    asyncio.create_task(gateway.serve(sockets=[gateway_socket])),
                    asyncio.create_task(control.serve(sockets=[control_socket])),
                ]
                while not all(server.started for server in servers):
                    if any(task.done() for task in tasks):
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
