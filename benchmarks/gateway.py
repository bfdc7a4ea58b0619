"""Gateway throughput and latency, as ratios measured side by side in one run.

Three paths to the same 1.3 KB JSON document, measured with wrk, alternating A/B/C
in every round, median of the rounds:

* direct    — the upstream itself (Debian nginx when installed, else a raw ASGI app);
* isthmus   — through `isthmus serve`: API key auth, Plan rate limit, request
              validation (a required integer query parameter, a header), proxy target;
* fastapi   — the proxy a Python user would write by hand: FastAPI + httpx, checking
              the same key, on the same uvicorn.

Then one connection at a time (-c1) for the latency the gateway adds at p50.

    python benchmarks/gateway.py [--quick]

Last line: RESULT gateway vs_direct=… vs_fastapi_httpx=… added_p50_ms=…
Needs wrk (Debian package 'wrk'); nginx is optional ('nginx-light').
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

PYTHON = sys.executable
BIN = Path(PYTHON).parent
DOCUMENT = {
    "value": [
        {"id": i, "name": f"Customer {i}", "tier": "gold", "country": "GB", "active": True}
        for i in range(16)
    ]
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, headers: dict[str, str] | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(url, headers=headers or {})
            with urllib.request.urlopen(request, timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {timeout}s")


def start(
    args: list[str], workdir: Path, name: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    log = (workdir / f"{name}.log").open("wb")
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=workdir, env=env)


def start_upstream(
    workdir: Path, prepare: Callable[[Path], None] | None = None
) -> tuple[str, subprocess.Popen[bytes], str]:
    """nginx (or a raw ASGI app) serving ``www``: data.json, and what ``prepare`` adds."""
    www = workdir / "www"
    www.mkdir()
    (www / "data.json").write_text(json.dumps(DOCUMENT))
    if prepare is not None:
        prepare(www)
    port = free_port()
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx:
        conf = workdir / "nginx.conf"
        user = "user root;" if os.geteuid() == 0 else ""
        conf.write_text(
            textwrap.dedent(f"""
            {user}
            daemon off;
            worker_processes 1;
            pid {workdir}/nginx.pid;
            error_log {workdir}/nginx-error.log;
            events {{ worker_connections 4096; }}
            http {{
                access_log off;
                client_body_temp_path {workdir}/tmp;
                proxy_temp_path {workdir}/tmp;
                fastcgi_temp_path {workdir}/tmp;
                uwsgi_temp_path {workdir}/tmp;
                scgi_temp_path {workdir}/tmp;
                keepalive_requests 1000000;
                server {{
                    listen 127.0.0.1:{port};
                    location / {{ root {www}; default_type application/json; }}
                }}
            }}
        """)
        )
        (workdir / "tmp").mkdir()
        process = start([nginx, "-c", str(conf), "-p", str(workdir)], workdir, "nginx")
        kind = "nginx"
    else:  # a raw ASGI app: the fastest Python upstream there is
        app = workdir / "upstream.py"
        app.write_text(
            textwrap.dedent(f"""
            from pathlib import Path
            WWW = Path({str(www)!r})
            FILES = {{"/" + str(p.relative_to(WWW)): p.read_bytes()
                     for p in WWW.rglob("*.json")}}
            async def app(scope, receive, send):
                if scope["type"] != "http":
                    return
                await send({{"type": "http.response.start", "status": 200,
                            "headers": [(b"content-type", b"application/json")]}})
                await send({{"type": "http.response.body",
                            "body": FILES.get(scope["path"], FILES["/data.json"])}})
        """)
        )
        process = start(
            [
                PYTHON,
                "-m",
                "uvicorn",
                "upstream:app",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            workdir,
            "upstream",
        )
        kind = "raw-asgi"
    url = f"http://127.0.0.1:{port}/data.json"
    wait_for(url)
    return url, process, kind


PROJECT = """
kind: System
metadata: {{name: bench, owner: bench}}
---
kind: Connection
metadata: {{name: bench, environment: sandbox}}
spec:
  system: bench
  connector: rest
  config: {{baseUrl: "{base}", allowPrivateNetwork: true, maxConnections: 256}}
---
kind: Api
metadata: {{name: bench}}
spec:
  versions:
    - name: v1
      routes:
        - path: /data
          target: {{type: proxy, connection: bench, path: /data.json}}
          request:
            query:
              limit: {{required: true, schema: {{type: integer, minimum: 1, maximum: 100}}}}
            headers:
              accept: {{schema: {{type: string, maxLength: 200}}}}
---
kind: Plan
metadata: {{name: unlimited-ish}}
spec: {{rate: {{requests: 100000000, periodSeconds: 60, burst: 1000000}}}}
---
kind: App
metadata: {{name: bench}}
spec: {{apis: [bench], plan: unlimited-ish}}
"""


def start_isthmus(
    workdir: Path, upstream: str, processes: int, server: str
) -> tuple[str, list[subprocess.Popen[bytes]], str]:
    project = workdir / "project"
    project.mkdir()
    (project / "bench.yaml").write_text(PROJECT.format(base=upstream.rsplit("/", 1)[0]))
    home = workdir / "home"
    isthmus = str(BIN / "isthmus")
    subprocess.run(
        [isthmus, "apply", str(project), "--home", str(home)], check=True, capture_output=True
    )
    created = subprocess.run(
        [isthmus, "key", "create", "bench", "--home", str(home)],
        check=True,
        capture_output=True,
        text=True,
    )
    key = created.stdout.strip().splitlines()[-1]
    port = free_port()
    env = {
        **os.environ,
        "ISTHMUS_ACCESS_LOG": "false",
        "ISTHMUS_LOG_LEVEL": "warning",
        "ISTHMUS_GATEWAY_SERVER": server,
        # several processes share the gateway port; each has its own control port
        "ISTHMUS_GATEWAY_REUSE_PORT": "true" if processes > 1 else "false",
    }
    started = []
    for index in range(processes):
        args = [isthmus, "serve", "--home", str(home), "--gateway-port", str(port)]
        args += ["--control-port", str(free_port())]
        started.append(start(args, workdir, f"isthmus-{index}", env))
        time.sleep(0.5)  # the first creates the signing key; let the others find it
    url = f"http://127.0.0.1:{port}/bench/v1/data?limit=10"  # checked against the contract
    wait_for(url, {"X-Api-Key": key})
    return url, started, key


def start_fastapi(workdir: Path, upstream: str, key: str) -> tuple[str, subprocess.Popen[bytes]]:
    (workdir / "handwritten.py").write_text(
        textwrap.dedent(f"""
        import httpx
        from fastapi import FastAPI, Request, Response

        app = FastAPI()
        client = httpx.AsyncClient(limits=httpx.Limits(max_connections=256))

        @app.get("/data")
        async def data(request: Request) -> Response:
            if request.headers.get("x-api-key") != {key!r}:
                return Response(status_code=401)
            upstream = await client.get({upstream!r})
            return Response(upstream.content, upstream.status_code,
                            media_type="application/json")
    """)
    )
    port = free_port()
    process = start(
        [
            PYTHON,
            "-m",
            "uvicorn",
            "handwritten:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        workdir,
        "fastapi",
    )
    url = f"http://127.0.0.1:{port}/data"
    wait_for(url, {"X-Api-Key": key})
    return url, process


def wrk(
    url: str, key: str, connections: int, seconds: float, strict: bool = True
) -> tuple[float, float]:
    """(requests per second, p50 latency in ms); refuses runs with errors when
    ``strict`` (the hand-written baseline times out now and then: that is its result)."""
    threads = min(2, connections)
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-H",
            f"X-Api-Key: {key}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if strict and ("Non-2xx" in out or "Socket errors" in out):
        raise SystemExit(f"wrk saw errors against {url}:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"50%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    p50 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return rate, p50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short round (< 1 min)")
    parser.add_argument(
        "--processes", type=int, default=1, help="isthmus processes sharing the port"
    )
    parser.add_argument(
        "--server", choices=["granian", "uvicorn"], default="granian", help="the gateway's server"
    )
    options = parser.parse_args()
    rounds, seconds = (1, 3) if options.quick else (3, 8)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    processes: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="isthmus-bench-") as tmp:
        workdir = Path(tmp)
        try:
            upstream, process, kind = start_upstream(workdir)
            processes.append(process)
            gateway, gateways, key = start_isthmus(
                workdir, upstream, options.processes, options.server
            )
            processes += gateways
            handwritten, process = start_fastapi(workdir, upstream, key)
            processes.append(process)
            targets = {"direct": upstream, "isthmus": gateway, "fastapi_httpx": handwritten}
            for name, url in targets.items():  # warm pools and caches
                wrk(url, key, 16, 1, strict=name != "fastapi_httpx")
            rates: dict[str, list[float]] = {name: [] for name in targets}
            p50s: dict[str, list[float]] = {"direct": [], "isthmus": []}
            for index in range(rounds):
                order = list(targets)[index % 3 :] + list(targets)[: index % 3]
                for name in order:
                    strict = name != "fastapi_httpx"
                    rates[name].append(wrk(targets[name], key, 64, seconds, strict)[0])
                for name in ["direct", "isthmus"] if index % 2 == 0 else ["isthmus", "direct"]:
                    p50s[name].append(wrk(targets[name], key, 1, seconds)[1])
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(10)
    rate = {name: statistics.median(values) for name, values in rates.items()}
    p50 = {name: statistics.median(values) for name, values in p50s.items()}
    print(
        f"upstream: {kind}; isthmus processes: {options.processes} on {options.server}; "
        f"{rounds} round(s) of "
        f"{seconds}s, 64 connections; {os.cpu_count()} cores shared by everything"
    )
    for name, value in rate.items():
        print(f"  {name:14} {value:10.0f} req/s")
    print(f"  p50 at 1 connection: direct {p50['direct']:.3f} ms, isthmus {p50['isthmus']:.3f} ms")
    print(
        f"RESULT gateway vs_direct={rate['isthmus'] / rate['direct']:.3f} "
        f"vs_fastapi_httpx={rate['isthmus'] / rate['fastapi_httpx']:.2f} "
        f"added_p50_ms={p50['isthmus'] - p50['direct']:.3f}"
    )


if __name__ == "__main__":
    main()
