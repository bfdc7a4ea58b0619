"""The outbound HTTP client against a scripted server that writes raw bytes on loopback."""

from __future__ import annotations

import asyncio
import datetime
import gzip
import ipaddress
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from yarl import URL

from isthmus.connectors.http import Limits, OriginPool
from isthmus.errors import (
    BadRequest,
    UpstreamFailed,
    UpstreamResponseTooLarge,
    UpstreamTimeout,
    UpstreamUnreachable,
)

OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
BOTH_LOOPS = True  # tests/conftest.py: every case on asyncio's loop and on uvloop
Reply = Callable[[bytes], "bytes | list[bytes | float] | None"]


@dataclass
class Wire:
    """Answers each request with ``reply(head)``: bytes, or a list of bytes and pauses
    (seconds); None closes the connection without answering. Counts what it saw."""

    reply: Reply = lambda head: OK
    heads: list[bytes] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    connections: int = 0
    close_after_answer: bool = False

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                self.heads.append(head)
                self.bodies.append(await reader.readexactly(length))
                answer = self.reply(head)
                if answer is None:
                    break
                for part in answer if isinstance(answer, list) else [answer]:
                    if isinstance(part, float):
                        await writer.drain()
                        await asyncio.sleep(part)
                    else:
                        writer.write(part)
                await writer.drain()
                if self.close_after_answer:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the client left, or the test ended mid-answer
        finally:
            writer.close()


@pytest.fixture
async def wire() -> AsyncIterator[tuple[Wire, URL]]:
    state = Wire()
    server = await asyncio.start_server(state.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield state, URL(f"http://127.0.0.1:{port}")
    server.close()


def pool(url: URL, **limits: object) -> OriginPool:
    return OriginPool(url, allow_private=True, limits=Limits(**limits))  # type: ignore[arg-type]


async def test_connections_are_kept_alive_and_reused(wire: tuple[Wire, URL]) -> None:
    state, url = wire
    client = pool(url)
    for _ in range(5):
        answer = await client.request("GET", "/x", [(b"accept", b"application/json")])
        assert (answer.status, answer.body) == (200, b"{}")
    assert answer.headers["Content-Type"] == "application/json"
    assert state.connections == 1
    assert client.connections_opened == 1
    assert state.heads[0].startswith(b"GET /x HTTP/1.1\r\nhost: 127.0.0.1:")
    await client.close()


async def test_at_most_max_connections_are_open(wire: tuple[Wire, URL]) -> None:
    state, url = wire
    state.reply = lambda head: [0.02, OK]
    client = pool(url, max_connections=2)
    answers = await asyncio.gather(*(client.request("GET", "/x") for _ in range(10)))
    assert [a.status for a in answers] == [200] * 10
    assert state.connections == 2
    await client.close()


async def test_waiting_for_a_connection_is_bounded_by_the_timeout(wire: tuple[Wire, URL]) -> None:
    state, url = wire
    state.reply = lambda head: [0.5, OK]
    client = pool(url, max_connections=1, total_timeout=0.2)
    results = await asyncio.gather(
        client.request("GET", "/a"), client.request("GET", "/b"), return_exceptions=True
    )
    assert all(isinstance(r, UpstreamTimeout) for r in results), results
    assert "maxConnections" in str(results[1].detail)  # type: ignore[union-attr]
    await client.close()


async def test_a_connection_the_server_closed_is_replaced_for_idempotent_calls(
    wire: tuple[Wire, URL],
) -> None:
    state, url = wire
    state.close_after_answer = True  # without saying 'connection: close'
    client = pool(url)
    await client.request("GET", "/1")
    await asyncio.sleep(0.05)
    assert (await client.request("GET", "/2")).status == 200
    assert state.connections == 2
    await client.close()


async def test_a_stale_connection_is_not_retried_for_a_post(wire: tuple[Wire, URL]) -> None:
    state, url = wire
    answered = 0

    def once_then_silence(head: bytes) -> bytes | None:
        nonlocal answered
        answered += 1
        return OK if answered == 1 else None  # closes without answering

    state.reply = once_then_silence
    client = pool(url)
    await client.request("POST", "/1", body=b"{}")
    with pytest.raises(UpstreamUnreachable):
        await client.request("POST", "/2", body=b"{}")
    assert len(state.heads) == 2  # sent once, never twice
    await client.close()


async def test_request_head_cannot_be_smuggled(wire: tuple[Wire, URL]) -> None:
    state, url = wire
    client = pool(url)
    for headers in (
        [(b"x-a", b"1\r\ntransfer-encoding: chunked")],
        [(b"x-a", b"1\nx-b: 2")],
        [(b"x-a\r\nx-b", b"2")],
        [(b"x-a", b"1\x00")],
    ):
        with pytest.raises(BadRequest):
            await client.request("GET", "/x", headers)
    for target in ("/a b", "/a\r\nx", "relative"):
        with pytest.raises(BadRequest):
            await client.request("GET", target)
    with pytest.raises(BadRequest):
        await client.request("GET /x HTTP/1.1\r\n\r\nGET", "/x")
    assert state.heads == []
    # the client's own framing headers win over a caller's copies
    sent = [(b"host", b"evil"), (b"content-length", b"99"), (b"transfer-encoding", b"chunked")]
    await client.request("POST", "/x", sent, b"abc")
    head = state.heads[0].lower()
    assert b"evil" not in head
    assert b"chunked" not in head
    assert b"content-length: 3\r\n" in head
    assert state.bodies == [b"abc"]
    await client.close()


@pytest.mark.parametrize(
    ("raw", "body"),
    [
        (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            b"abcde",
        ),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", b"ok"),
        (b"HTTP/1.1 204 No Content\r\n\r\n", b""),
    ],
)
async def test_answer_framings(wire: tuple[Wire, URL], raw: bytes, body: bytes) -> None:
    state, url = wire
    state.reply = lambda head: raw
    client = pool(url)
    assert (await client.request("GET", "/x")).body == body
    assert (await client.request("GET", "/x")).body == body  # and the connection goes on
    assert state.connections == 1
    await client.close()


async def test_an_answer_delimited_by_closing_and_one_to_head(wire: tuple[Wire, URL]) -> None:
    state, url = wire
    state.reply = lambda head: b"HTTP/1.0 200 OK\r\n\r\nuntil the end"
    state.close_after_answer = True
    client = pool(url)
    assert (await client.request("GET", "/x")).body == b"until the end"
    state.close_after_answer = False
    state.reply = lambda head: b"HTTP/1.1 200 OK\r\ncontent-length: 500\r\n\r\n"
    answer = await client.request("HEAD", "/x")
    assert (answer.status, answer.body) == (200, b"")
    await client.close()


async def test_compressed_answers_are_decoded_within_the_size_limit(
    wire: tuple[Wire, URL],
) -> None:
    state, url = wire
    packed = gzip.compress(b'{"a": 1}')
    state.reply = lambda head: (
        b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: %d\r\n\r\n" % len(packed)
        + packed
    )
    client = pool(url, max_response_bytes=1024)
    answer = await client.request("GET", "/x")
    assert answer.body == b'{"a": 1}'
    assert "Content-Encoding" not in answer.headers
    bomb = gzip.compress(b"0" * 100_000)  # 100 kB from a few hundred bytes
    state.reply = lambda head: (
        b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: %d\r\n\r\n" % len(bomb)
        + bomb
    )
    with pytest.raises(UpstreamResponseTooLarge):
        await client.request("GET", "/x")
    state.reply = lambda head: (
        b"HTTP/1.1 200 OK\r\ncontent-encoding: br\r\ncontent-length: 1\r\n\r\nx"
    )
    with pytest.raises(UpstreamFailed, match="content coding"):
        await client.request("GET", "/x")
    await client.close()


async def test_hostile_answers_are_refused(wire: tuple[Wire, URL]) -> None:
    state, url = wire
    client = pool(url, max_response_bytes=1024)
    state.reply = lambda head: b"HTTP/1.1 200 OK\r\ncontent-length: 5000\r\n\r\n"
    with pytest.raises(UpstreamResponseTooLarge):  # refused on the announced length
        await client.request("GET", "/x")
    chunk = b"x" * 600
    state.reply = lambda head: (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
        + (b"258\r\n" + chunk + b"\r\n") * 2
        + b"0\r\n\r\n"
    )
    with pytest.raises(UpstreamResponseTooLarge):  # and on what actually arrives
        await client.request("GET", "/x")
    state.reply = lambda head: b"HTTP/1.1 200 OK\r\n" + b"x-a: " + b"y" * 70_000 + b"\r\n\r\n"
    with pytest.raises(UpstreamFailed, match="oversized headers"):
        await client.request("GET", "/x")
    state.reply = lambda head: b"SMTP ready\r\n\r\n"
    with pytest.raises(UpstreamFailed, match="not valid HTTP"):
        await client.request("GET", "/x")
    state.reply = lambda head: b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc"
    state.close_after_answer = True
    with pytest.raises(UpstreamUnreachable):  # cut short
        await client.request("GET", "/x")
    await client.close()


async def test_read_and_total_timeouts(wire: tuple[Wire, URL]) -> None:
    state, url = wire
    start = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
    trickle: list[bytes | float] = [start]
    for _ in range(8):
        trickle += [0.05, b"1\r\nx\r\n"]
    state.reply = lambda head: [*trickle, b"0\r\n\r\n"]
    # never silent for 0.2 s: the read timeout alone lets it finish
    client = pool(url, read_timeout=0.2, total_timeout=5)
    assert (await client.request("GET", "/x")).body == b"x" * 8
    await client.close()
    # but the whole exchange may not outlast the total
    client = pool(url, read_timeout=0.2, total_timeout=0.2)
    with pytest.raises(UpstreamTimeout):
        await client.request("GET", "/x")
    await client.close()
    state.reply = lambda head: [start, 0.5, b"0\r\n\r\n"]
    client = pool(url, read_timeout=0.1, total_timeout=5)
    with pytest.raises(UpstreamTimeout):
        await client.request("GET", "/x")
    await client.close()


async def test_a_cancelled_exchange_does_not_leave_its_connection_in_the_pool(
    wire: tuple[Wire, URL],
) -> None:
    state, url = wire
    answers = iter([[0.3, OK], OK])
    state.reply = lambda head: next(answers)
    client = pool(url)
    task = asyncio.create_task(client.request("GET", "/slow"))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    answer = await client.request("GET", "/next")
    assert answer.body == b"{}"  # not the late answer meant for /slow
    assert state.connections == 2
    await client.close()


def _certificate(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp / "cert.pem", tmp / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


async def test_tls_checks_the_certificate(tmp_path: Path) -> None:
    cert_file, key_file = _certificate(tmp_path)
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert_file, key_file)
    state = Wire()
    server = await asyncio.start_server(state.serve, "127.0.0.1", 0, ssl=served)
    url = URL(f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}")
    try:
        untrusted = pool(url)
        with pytest.raises(UpstreamUnreachable, match="TLS"):
            await untrusted.request("GET", "/x")
        await untrusted.close()
        trusting = ssl.create_default_context(cafile=str(cert_file))
        client = OriginPool(url, allow_private=True, limits=Limits(), tls=trusting)
        assert (await client.request("GET", "/x")).body == b"{}"
        await client.close()
    finally:
        server.close()


async def test_a_second_answer_begun_on_the_same_connection_is_never_handed_on(
    wire: tuple[Wire, URL],
) -> None:
    state, url = wire
    answers = iter(
        [
            # a whole answer, then the head of another nobody asked for
            OK + b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
        ]
    )
    state.reply = lambda head: next(answers)
    client = pool(url)
    assert (await client.request("GET", "/a")).body == b"{}"
    assert (await client.request("GET", "/b")).body == b"ok"
    assert state.connections == 2  # the first connection was not reused
    await client.close()


async def test_a_large_body_arriving_with_the_head_is_not_a_large_head(
    wire: tuple[Wire, URL],
) -> None:
    state, url = wire
    body = b"x" * 300_000  # arrives with the head in one write, in chunks over 64 KiB
    state.reply = lambda head: b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(body) + body
    client = pool(url)
    assert (await client.request("GET", "/x")).body == body
    await client.close()


async def test_an_endless_header_is_cut_off_early(wire: tuple[Wire, URL]) -> None:
    state, url = wire
    state.reply = lambda head: [b"HTTP/1.1 200 OK\r\nx-big: ", *[b"a" * 16_384, 0.001] * 64]
    client = pool(url)
    with pytest.raises(UpstreamFailed, match="oversized headers"):
        await client.request("GET", "/x")
    await client.close()


@pytest.mark.parametrize(
    ("method", "raw"),
    [
        ("HEAD", b"HTTP/1.1 200 OK\r\ncontent-length: 5000\r\n\r\n"),
        ("GET", b"HTTP/1.1 304 Not Modified\r\ncontent-length: 5000\r\n\r\n"),
    ],
)
async def test_lengths_of_bodies_not_sent_are_not_limits(
    wire: tuple[Wire, URL], method: str, raw: bytes
) -> None:
    state, url = wire
    state.reply = lambda head: raw
    client = pool(url, max_response_bytes=1024)
    assert (await client.request(method, "/x")).body == b""
    await client.close()


async def test_names_methods_and_control_bytes_are_checked(wire: tuple[Wire, URL]) -> None:
    state, url = wire
    client = pool(url)
    for name in (b"transfer-encoding ", b"content-length\t", b"", b"x:y", b"host\x0b"):
        with pytest.raises(BadRequest):
            await client.request("POST", "/x", [(name, b"1")], b"abc")
    with pytest.raises(BadRequest):
        await client.request("GET", "/x", [(b"x-a", b"1\x0b2")])
    for method in ("CONNECT", "TRACE"):
        with pytest.raises(BadRequest):
            await client.request(method, "/x")
    assert state.heads == []
    await client.close()


async def test_informational_answers_are_not_final_ones(wire: tuple[Wire, URL]) -> None:
    state, url = wire
    state.reply = lambda head: b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\n"
    state.close_after_answer = True
    client = pool(url)
    with pytest.raises(UpstreamUnreachable):
        await client.request("GET", "/x")
    await client.close()


async def test_codings_are_read_whole_or_refused(wire: tuple[Wire, URL]) -> None:
    state, url = wire
    client = pool(url)
    members = gzip.compress(b"one ") + gzip.compress(b"two")
    cut = gzip.compress(b"hello world")[:-6]
    for packed, expected in ((members, b"one two"), (cut, None)):
        state.reply = lambda head, packed=packed: (
            b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: %d\r\n\r\n" % len(packed)
            + packed
        )
        if expected is None:
            with pytest.raises(UpstreamFailed, match="damaged"):
                await client.request("GET", "/x")
        else:
            answer = await client.request("GET", "/x")
            assert answer.body == expected
            assert "Content-Length" not in answer.headers  # it was the coded length
    state.reply = lambda head: b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\nxyz"
    state.close_after_answer = True
    with pytest.raises(UpstreamFailed, match="transfer coding"):
        await client.request("GET", "/x")
    await client.close()


async def test_callers_waiting_on_a_closed_pool_open_nothing(wire: tuple[Wire, URL]) -> None:
    state, url = wire
    state.reply = lambda head: [0.2, OK]
    client = pool(url, max_connections=1)
    first = asyncio.create_task(client.request("GET", "/a"))
    await asyncio.sleep(0.05)
    waiting = asyncio.create_task(client.request("GET", "/b"))
    await asyncio.sleep(0.05)
    await client.close()
    results = await asyncio.gather(first, waiting, return_exceptions=True)
    assert isinstance(results[1], UpstreamUnreachable)
    assert state.connections == 1
