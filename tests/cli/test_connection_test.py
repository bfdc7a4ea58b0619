"""``isthmus connection test`` against a running fake API."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from isthmus.cli.main import app
from tests.connectors.declarative.fake_api import CLIENT_ID, CLIENT_SECRET, FakeApi, serve
from tests.connectors.declarative.test_declarative import RECORDS, spec
from tests.helpers import free_port, write_project

runner = CliRunner()


@pytest.fixture
def api() -> Iterator[FakeApi]:
    """The fake API on a loop of its own thread: the CLI runs its own loop."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    held: dict[str, Any] = {}

    async def start() -> None:
        held["serving"] = serve([dict(r) for r in RECORDS])
        held["api"] = await held["serving"].__aenter__()
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()))
    thread.start()
    ready.wait(10)
    yield held["api"]
    asyncio.run_coroutine_threadsafe(held["serving"].__aexit__(None, None, None), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def test_a_connection_is_tested_as_the_gateway_would_open_it(api: FakeApi, tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "connectors").mkdir(parents=True)
    with (project / "connectors" / "fake.yaml").open("w") as out:
        YAML().dump({"connectorSpec": 1, **spec()}, out)
    write_project(
        project,
        {
            "all.yaml": f"""
                kind: System
                metadata: {{name: fake, owner: team}}
                ---
                kind: Connection
                metadata: {{name: fake, environment: sandbox}}
                spec:
                  system: fake
                  connector: declarative
                  config:
                    spec: connectors/fake.yaml
                    allowPrivateNetwork: true
                    values: {{url: "{api.url}", clientId: {CLIENT_ID}, clientSecret: "secret://api"}}
                """
        },
    )
    home = str(tmp_path / "home")
    assert runner.invoke(app, ["apply", str(project), "--home", home]).exit_code == 0
    missing = runner.invoke(app, ["connection", "test", "fake", "--home", home])
    assert missing.exit_code == 1, missing.output
    assert "secret" in missing.output.lower()
    runner.invoke(app, ["secret", "set", "api", "--value", CLIENT_SECRET, "--home", home])
    passed = runner.invoke(app, ["connection", "test", "fake", "--home", home])
    assert passed.exit_code == 0, passed.output
    assert "answers" in passed.output
    runner.invoke(app, ["secret", "set", "api", "--value", "wrong", "--home", home])
    failed = runner.invoke(app, ["connection", "test", "fake", "--home", home])
    assert failed.exit_code == 1
    assert "access token" in failed.output
    assert "client id and secret" in failed.output  # what to do about it
    unknown = runner.invoke(app, ["connection", "test", "nope", "--home", home])
    assert unknown.exit_code == 1
    assert "No Connection 'nope'" in unknown.output


def test_authorize_waits_for_a_consent_and_says_when_none_came(tmp_path: Path) -> None:
    project = tmp_path / "project"
    write_project(
        project,
        {
            "all.yaml": """
                kind: System
                metadata: {name: app, owner: team}
                ---
                kind: Connection
                metadata: {name: app, environment: sandbox}
                spec:
                  system: app
                  connector: declarative
                  config:
                    allowPrivateNetwork: true
                    values: {refreshToken: "secret://app-refresh"}
                    spec:
                      baseUrl: http://127.0.0.1:9
                      config: {refreshToken: {type: secret, required: false}}
                      auth:
                        type: oauth2-authorization-code
                        authorizeUrl: http://127.0.0.1:9/authorize
                        tokenUrl: /token
                        clientId: app
                        refreshToken: "{config.refreshToken}"
                """
        },
    )
    home = str(tmp_path / "home")
    assert runner.invoke(app, ["apply", str(project), "--home", home]).exit_code == 0
    port = str(free_port())
    waited = runner.invoke(
        app,
        ["connection", "authorize", "app", "--port", port, "--wait-seconds", "0.3", "--home", home],
    )
    assert waited.exit_code == 1
    assert "http://127.0.0.1:9/authorize?" in waited.output  # the address to open
    assert "code_challenge_method=S256" in waited.output
    assert "No answer came back" in waited.output
