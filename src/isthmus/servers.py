"""HTTP servers for the hub's two planes, on sockets the hub binds itself.

The gateway runs on granian's embedded server by default: its HTTP handling is Rust on
its own thread, so the event loop's core is left to the gateway's own work (about 1.4x
the throughput of uvicorn in the same process; docs/benchmarks.md). The control plane,
a FastAPI app where throughput matters little, runs on uvicorn.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Generator
from contextlib import contextmanager
from typing import Any, Protocol, cast

import uvicorn
from granian.constants import Interfaces
from granian.server.embed import Server as GranianEmbedded

from isthmus.errors import ConfigurationError

BACKLOG = 2048


class PortUnavailable(ConfigurationError):
    code = "port-unavailable"
    title = "Cannot listen on the port"
    remediation = (
        "Stop what uses the port (another hub?) or choose others with --gateway-port / "
        "--control-port (ISTHMUS_GATEWAY_PORT / ISTHMUS_CONTROL_PORT)."
    )


def listen(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A bound, listening socket. Bound here rather than by the server, which would exit
    the process on failure; this way a taken port is a clear error.

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
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise PortUnavailable(f"Cannot listen on {host}:{port} ({exc.strerror}).") from exc
    return sock


class Server(Protocol):
    """One plane's server: runs until stopped."""

    @property
    def started(self) -> bool: ...

    async def run(self) -> None: ...

    def stop(self) -> None: ...


class _Uvicorn(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # Several servers share one process: signals are handled once, by the hub.
        yield


class UvicornServer:
    def __init__(self, app: Any, sock: socket.socket) -> None:
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
        self._server = _Uvicorn(config)
        self._socket = sock

    @property
    def started(self) -> bool:
        return bool(self._server.started)

    async def run(self) -> None:
        await self._server.serve(sockets=[self._socket])

    def stop(self) -> None:
        self._server.should_exit = True


class _Granian(GranianEmbedded):
    """granian's embedded server on a socket bound by the hub (it would bind its own)."""

    def __init__(self, app: Any, sock: socket.socket) -> None:
        host, port = sock.getsockname()[:2]
        super().__init__(
            app,
            address=host,
            port=port,
            interface=Interfaces.ASGINL,  # ASGI without lifespan: the hub has its own
            websockets=False,
            backlog=BACKLOG,
            log_enabled=False,
        )
        self._socket = sock
        self.started = False

    def _init_shared_socket(self) -> None:
        from granian._granian import SocketHolder

        # granian closes the descriptor it is given when done: give it its own.
        fd = os.dup(self._socket.fileno())
        self._ssp = None
        # Its stub omits the constructor that granian's own pickling uses.
        self._shd = cast(Any, SocketHolder)(fd, False, BACKLOG)
        self._sfd = cast(Any, fd)

    def startup(self, spawn_target: Any, target_loader: Any) -> None:
        super().startup(spawn_target, target_loader)  # type: ignore[no-untyped-call]
        self.started = True


class GranianServer:
    def __init__(self, app: Any, sock: socket.socket) -> None:
        self._server = _Granian(app, sock)

    @property
    def started(self) -> bool:
        return self._server.started

    async def run(self) -> None:
        await self._server.serve()

    def stop(self) -> None:
        self._server.signal_handler_interrupt()  # type: ignore[no-untyped-call]


def gateway_server(kind: str, app: Any, sock: socket.socket) -> Server:
    return GranianServer(app, sock) if kind == "granian" else UvicornServer(app, sock)


async def run_until_started(servers: list[Server]) -> list[asyncio.Task[None]]:
    """Start every server; return their tasks once all accept connections, or as soon as
    one of them ends (it failed: the caller awaits the tasks to see why)."""
    tasks = [asyncio.create_task(server.run()) for server in servers]
    while not all(server.started for server in servers):
        if any(task.done() for task in tasks):
            for server in servers:
                server.stop()
            break
        await asyncio.sleep(0.05)
    return tasks
