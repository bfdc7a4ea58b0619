"""Property-based testing of the admin API, and of the demo Api through the gateway,
against their own OpenAPI documents.

Schemathesis generates valid and invalid requests for every operation and checks every
answer: no server errors, status codes, content types, bodies and headers as
documented. One check is left out, ``positive_data_acceptance``: schema-valid resources
can still be refused by checks no schema can state (a reference to an Api that does
not exist, a connector that is not installed), and those refusals are correct.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.proc import Process, isthmus, serve_args
from tests.helpers import free_port

pytestmark = pytest.mark.e2e


def schemathesis(
    schema_url: str, header: str, cwd: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("schemathesis")), "run", schema_url]
    command += ["--header", header, "--checks", "all"]
    command += ["--exclude-checks", "positive_data_acceptance"]
    # one worker: two threads generating at once can trip CPython 3.11's AST recursion
    # counter ("AST constructor recursion depth mismatch"), a crash of the generator
    command += ["--max-examples", "8", "--seed", "20261124", "--workers", "1", *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=cwd)


async def test_the_demo_api_keeps_its_contract(tmp_path: Path) -> None:
    from tests.e2e.test_demo import start_demo

    demo = start_demo(tmp_path)
    try:
        text = await demo.wait_for_text("Without the key")
        key = re.search(r"X-Api-Key: (isk_\S+?)'", text).group(1)  # type: ignore[union-attr]
        gateway = re.search(r"gateway +(http://\S+)", text).group(1)  # type: ignore[union-attr]
        # The demo App's Plan allows 20 requests a second: keep under it, so requests reach
        # the contract checks instead of the rate limit.
        result = schemathesis(
            f"{gateway}/customers/v1/openapi.json",
            f"X-Api-Key: {key}",
            tmp_path,
            "--rate-limit",
            "15/s",
        )
    finally:
        assert demo.stop() == 0, demo.output
    assert result.returncode == 0, result.stdout[-6000:]
    assert "mostly returned 429" not in result.stdout


async def test_the_admin_api_keeps_its_contract(tmp_path: Path) -> None:
    home = tmp_path / "home"
    isthmus("init", str(tmp_path / "project"))
    isthmus("apply", str(tmp_path / "project"), home=home)
    gateway_port, control_port = free_port(), free_port()
    env = {
        **os.environ,
        "ISTHMUS_ADMIN_TOKEN": "schemathesis-admin-token",
        "ISTHMUS_ACCESS_LOG": "false",
    }
    server = Process(
        serve_args(home, gateway_port, control_port),
        tmp_path,
        env=env,
    )
    base = f"http://127.0.0.1:{control_port}"
    try:
        await server.wait_ready(f"{base}/readyz")
        result = schemathesis(
            f"{base}/admin/openapi.json", "Authorization: Bearer schemathesis-admin-token", tmp_path
        )
    finally:
        assert server.stop() == 0, server.output
    assert result.returncode == 0, result.stdout[-6000:]
    assert "Traceback" not in server.output
