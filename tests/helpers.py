"""Small test helpers: calling an ASGI app in-process, free ports, project folders."""

from __future__ import annotations

import socket
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


async def asgi_call(
    app: Any,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    query: str = "",
    raise_app_exceptions: bool = True,
) -> Reply:
    """Send one HTTP request straight to an ASGI app and collect the response.

    Starlette re-raises an unhandled error after sending its 500 response (so servers
    can log it); ``raise_app_exceptions=False`` keeps just the response, as a client sees.
    """
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8400),
    }
    framed = {name for name, _ in scope["headers"]} & {b"content-length", b"transfer-encoding"}
    if body and not framed:  # as an HTTP/1.1 client frames a body
        scope["headers"].append((b"content-length", str(len(body)).encode()))
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    status = 0
    out_headers: dict[str, str] = {}
    chunks: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            for key, value in message.get("headers", []):
                out_headers[key.decode().lower()] = value.decode()
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    try:
        await app(scope, receive, send)
    except Exception:
        if raise_app_exceptions or not status:
            raise
    return Reply(status, out_headers, b"".join(chunks))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_project(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return root


PROBLEM_FIELDS = {"type", "title", "status", "detail", "code", "remediation"}


def assert_problem(reply: Reply, status: int, code: str) -> dict[str, Any]:
    """The reply is an RFC 9457 problem with this status and code, and leaks nothing."""
    assert reply.status == status, reply.body
    assert reply.headers["content-type"].startswith("application/problem+json")
    body = reply.json()
    assert set(body) >= PROBLEM_FIELDS, body
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith("/" + code)
    text = reply.body.decode()
    for leak in ("Traceback", 'File "', "SELECT ", "sqlalchemy", "asyncpg", "aiohttp."):
        assert leak not in text, f"{leak!r} leaked into {text}"
    return body
