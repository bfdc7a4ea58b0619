"""Spectral's OWASP ruleset over each demo Api version's exported OpenAPI document.

The documents come from a demo hub run in this process (its CRM on loopback, its
billing database and plant files written), so View routes carry their real columns.
Spectral comes from npm (``make test`` installs it).

The ruleset file extends the OWASP ruleset and changes nothing: every rule at its own
severity. Any error fails the test; warnings may stay (docs/api-lint.md lists them).
Each declaration that passing a rule needed is one the hub keeps (see that page).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from pathlib import Path

import pytest

from isthmus.demo.crm import start_crm
from isthmus.demo.run import DemoCrm, prepare
from isthmus.hub import Hub
from isthmus.model import Api
from isthmus.settings import Settings
from tests.helpers import free_port
from tests.services import fetched

ROOT = Path(__file__).parents[2]
NODE_MODULES = ROOT / ".cache" / "npm" / "node_modules"
SPECTRAL = NODE_MODULES / ".bin" / "spectral"
APIS = ("customers", "crm-events", "insights")
ISSUER = "https://hub.example.com"  # a deployment's gateway: behind TLS
RULESET = 'extends:\n  - "@stoplight/spectral-owasp-ruleset"\n'


def spectral_binary() -> Path:
    return fetched(SPECTRAL, "Spectral")


@pytest.fixture
async def exported(tmp_path: Path) -> dict[str, Path]:
    """Every version of each demo Api, as the demo's gateway serves it, written to a file."""
    token = secrets.token_urlsafe(16)
    port = free_port()
    crm, _ = await start_crm(token, "127.0.0.1", port)
    files: dict[str, Path] = {}
    try:
        async with Hub(Settings(home=tmp_path / "home")) as hub:
            url = f"http://127.0.0.1:{port}"
            await prepare(hub, DemoCrm(url, token, url, token))
            snapshot = await hub.snapshots.refresh(force=True)
            apis = {a.metadata.name: a for a in await hub.store.resources.list("Api")}
            assert set(APIS) <= set(apis)
            for name in APIS:
                api = apis[name]
                assert isinstance(api, Api)
                for version in api.spec.versions:
                    path = f"/{name}/{version.name}/openapi.json"
                    found = snapshot.routes.document(path, ISSUER)
                    assert found is not None, path
                    files[f"{name} {version.name}"] = tmp_path / f"{name}-{version.name}.json"
                    files[f"{name} {version.name}"].write_bytes(found[1])
    finally:
        await crm.cleanup()
    return files


def spectral(document: Path, workdir: Path) -> list[dict[str, object]]:
    ruleset = workdir / "owasp.spectral.yaml"
    ruleset.write_text(RULESET, encoding="utf-8")
    result = subprocess.run(
        [str(spectral_binary()), "lint", "--ruleset", str(ruleset), "-f", "json", "-q",
         str(document)],
        capture_output=True, text=True, timeout=180, cwd=workdir,
        env={**os.environ, "NODE_PATH": str(NODE_MODULES)},
    )  # fmt: skip
    # exit 1 when it found errors; anything else is Spectral failing
    assert result.returncode in (0, 1), result.stderr[-3000:]
    found: list[dict[str, object]] = json.loads(result.stdout or "[]")
    return found


async def test_the_demo_apis_pass_owasp_without_errors(
    exported: dict[str, Path], tmp_path: Path
) -> None:
    errors, warnings = [], {}
    for version, document in exported.items():
        found = spectral(document, tmp_path)
        for result in found:
            if result["severity"] == 0:
                path = ".".join(str(step) for step in result["path"])  # type: ignore[attr-defined]
                errors.append(f"{version}: {result['code']} at {path}: {result['message']}")
        warnings[version] = sorted({str(r["code"]) for r in found if r["severity"] == 1})
    assert errors == []
    # the warnings that stay are the ones docs/api-lint.md names, and no others
    assert set().union(*warnings.values()) <= {"owasp:api4:2023-string-restricted"}


async def test_a_bare_document_fails_the_same_run(tmp_path: Path) -> None:
    """The run can fail: a document with none of what the generator declares."""
    bare = {
        "openapi": "3.1.0",
        "info": {"title": "bare", "version": "1"},
        "servers": [{"url": "http://hub.example.com/bare/v1"}],
        "paths": {"/things": {"get": {"responses": {"200": {"description": "ok"}}}}},
    }
    document = tmp_path / "bare.json"
    document.write_text(json.dumps(bare), encoding="utf-8")
    codes = {str(r["code"]) for r in spectral(document, tmp_path) if r["severity"] == 0}
    assert {"owasp:api8:2023-no-server-http", "owasp:api9:2023-inventory-access"} <= codes
