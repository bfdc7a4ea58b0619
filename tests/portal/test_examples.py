"""The portal's copy-paste examples, run as a developer runs them: curl through bash,
the venv's python, node — against a live sandbox over HTTP. Each must print what the
gateway answers the same request made directly, and the backend must have seen exactly
the declared method, path, query and body.

PowerShell cannot run on these machines (no pwsh in the Debian, PyPI or npm registries):
its example is parsed back into the request it sends, and its run is a visible skip
unless a pwsh is found on PATH."""

from __future__ import annotations

import ast
import asyncio
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import pytest
from yarl import URL

from isthmus.portal.examples import (
    LANGUAGES,
    Example,
    ExampleRequest,
    example_request,
    examples_for_document,
    operation_examples,
)
from tests.portal.conftest import (
    CUSTOMER_EXAMPLE,
    ENTRY_EXAMPLE,
    ORDER_EXAMPLE,
    ORDER_ID_EXAMPLE,
    LiveSandbox,
    Seen,
)
from tests.services import fetched

ROOT = Path(__file__).resolve().parents[2]
SWAGGER_CLI = ROOT / ".cache/npm/node_modules/.bin/swagger-cli"
PYTHON = ROOT / ".venv/bin/python"


@dataclass(frozen=True)
class Expected:
    """What the backend must receive for an operation (None: the sandbox's mock answers)."""

    method: str
    path: str
    query: list[tuple[str, str]]
    body: Any = None


EXPECTED: dict[str, Expected | None] = {
    "listOrders": Expected("GET", "/orders", [("status", "open"), ("customer", CUSTOMER_EXAMPLE)]),
    "getOrder": Expected("GET", "/orders/A-1%20%27x%27", []),
    "createOrder": Expected("POST", "/orders", [], ORDER_EXAMPLE),
    "deleteOrder": Expected("DELETE", "/orders/text", []),  # no example: the id is a sample
    "listEntries": None,
}
RUNNABLE = ("curl", "python", "javascript", "powershell")


def locate(document: dict[str, Any], operation_id: str) -> tuple[str, str]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                return path, method
    raise AssertionError(f"{operation_id} is not in the document")


def pick(examples: list[Example], language: str) -> Example:
    [chosen] = [e for e in examples if e.language == language]
    return chosen


async def run(argv: list[str], env: dict[str, str], cwd: Path) -> str:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, f"{argv} exited {process.returncode}:\n{out!r}\n{err!r}"
    return out.decode()


def clean_env(tmp_path: Path, **variables: str) -> dict[str, str]:
    """What a developer's shell has: no proxies, no hub internals, the key variable."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "NO_PROXY": "127.0.0.1,localhost",
        **variables,
    }


async def run_example(example: Example, tmp_path: Path, env: dict[str, str]) -> str:
    """Run the example's code as copied: pasted into bash, or saved under its hint."""
    if example.language == "curl":
        return await run(["bash", "-c", example.code], env, tmp_path)
    assert example.filename_hint is not None
    file = tmp_path / example.filename_hint
    file.write_text(example.code, encoding="utf-8")
    if example.language == "python":
        return await run([str(PYTHON), str(file)], env, tmp_path)
    if example.language == "javascript":
        return await run(["node", str(file)], env, tmp_path)
    pwsh = shutil.which("pwsh")
    if pwsh is None:
        pytest.skip(
            "BLOCKED: no pwsh on this machine (PowerShell is in none of the Debian, PyPI or "
            "npm registries); test_the_powershell_example_sends_the_same_request checks it "
            "by parsing instead"
        )
    return await run([pwsh, "-NoProfile", "-NonInteractive", "-File", str(file)], env, tmp_path)


async def call_directly(live: LiveSandbox, request: ExampleRequest) -> tuple[int, bytes]:
    headers = {"X-Api-Key": live.key, **request.headers}
    data = None
    if request.media_type is not None:
        headers["Content-Type"] = request.media_type
        data = json.dumps(request.body).encode()
    url = URL(request.url, encoded=True)  # sent as the examples send it
    async with (
        aiohttp.ClientSession() as session,
        session.request(request.method, url, headers=headers, data=data) as response,
    ):
        return response.status, await response.read()


def assert_backend_saw(seen: Seen, expected: Expected) -> None:
    path, _, query = seen.raw_path.partition("?")
    assert (seen.method, path) == (expected.method, expected.path)
    assert parse_qsl(query, keep_blank_values=True) == expected.query
    if expected.body is None:
        assert seen.body == b""
    else:
        assert seen.content_type == "application/json"
        assert json.loads(seen.body) == expected.body


# --- every example, run against the sandbox ----------------------------------------------


@pytest.mark.parametrize("language", RUNNABLE)
@pytest.mark.parametrize("operation_id", list(EXPECTED))
async def test_each_example_prints_what_the_sandbox_answers(
    live_sandbox: LiveSandbox, tmp_path: Path, operation_id: str, language: str
) -> None:
    document = await live_sandbox.document()
    path, method = locate(document, operation_id)
    example = pick(operation_examples(document, path, method), language)
    assert live_sandbox.key not in example.code  # the key comes from the environment
    printed = await run_example(
        example, tmp_path, clean_env(tmp_path, ISTHMUS_API_KEY=live_sandbox.key)
    )
    sent_by_example = list(live_sandbox.seen)
    status, answer = await call_directly(live_sandbox, example_request(document, path, method))
    sent_directly = live_sandbox.seen[len(sent_by_example) :]
    assert 200 <= status < 300, answer

    expected = EXPECTED[operation_id]
    if expected is None:  # the mock answered: nothing reached a System
        assert sent_by_example == sent_directly == []
        assert json.loads(answer) == {"value": [ENTRY_EXAMPLE]}
    else:
        assert len(sent_by_example) == len(sent_directly) == 1
        assert_backend_saw(sent_by_example[0], expected)
        assert sent_by_example[0].raw_path == sent_directly[0].raw_path
    if answer:
        assert json.loads(printed) == json.loads(answer)
    elif language in ("python", "javascript"):
        assert printed.strip() == str(status)  # an empty answer: its status is printed
    else:
        assert printed.strip() == ""


async def test_the_key_variable_is_the_one_named(live_sandbox: LiveSandbox, tmp_path: Path) -> None:
    document = await live_sandbox.document()
    path, method = locate(document, "createOrder")
    examples = operation_examples(document, path, method, key_variable="SHOP_SANDBOX_KEY")
    assert '"X-Api-Key: $SHOP_SANDBOX_KEY"' in pick(examples, "curl").code
    assert 'os.environ["SHOP_SANDBOX_KEY"]' in pick(examples, "python").code
    assert "process.env.SHOP_SANDBOX_KEY" in pick(examples, "javascript").code
    assert "$env:SHOP_SANDBOX_KEY" in pick(examples, "powershell").code
    env = clean_env(tmp_path, SHOP_SANDBOX_KEY=live_sandbox.key)
    printed = await run_example(pick(examples, "python"), tmp_path, env)
    assert json.loads(printed)["method"] == "POST"
    # without the variable, the gateway refuses and the example fails loudly
    env = clean_env(tmp_path, ISTHMUS_API_KEY=live_sandbox.key)
    with pytest.raises(AssertionError, match="exited 22"):
        await run_example(pick(examples, "curl"), tmp_path, env)


@pytest.mark.parametrize("name", ["ISTHMUS-KEY", "1KEY", "KEY;rm -rf ~", "", "KEY}"])
def test_a_key_variable_that_is_no_variable_name_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="environment variable"):
        operation_examples(_document(), "/things/{id}", "post", key_variable=name)


# --- PowerShell: parsed back, as it cannot run here --------------------------------------


_PS_STRING = r"'((?:[^'\u2018\u2019\u201a\u201b]|['\u2018\u2019\u201a\u201b]{2})*)'"


def _ps_text(quoted: str) -> str:
    return re.sub(r"(['\u2018\u2019\u201a\u201b])\1", r"\1", quoted)


def parse_powershell(code: str) -> tuple[str, str, dict[str, str], str | None, Any]:
    """(method, url, headers, content type, body) of an example; every line accounted for."""
    lines = code.splitlines()
    assert lines[0] == "$headers = @{"
    headers: dict[str, str] = {}
    index = 1
    while lines[index] != "}":
        match = re.fullmatch(rf"    {_PS_STRING} = (\$env:[A-Za-z_][A-Za-z0-9_]*|{_PS_STRING})",
                             lines[index])  # fmt: skip
        assert match, lines[index]
        value = match.group(2) if match.group(3) is None else _ps_text(match.group(3))
        headers[_ps_text(match.group(1))] = value
        index += 1
    body: Any = None
    if lines[index + 1] == "$body = @'":
        end = lines.index("'@", index + 2)
        text = "\n".join(lines[index + 2 : end])
        assert text.isascii()  # Windows PowerShell 5.1 reads BOM-less scripts as ANSI
        body = json.loads(text)
        index = end
    call = re.fullmatch(
        rf"\$answer = Invoke-RestMethod -Method (Get|Post|Put|Patch|Delete) -Uri {_PS_STRING}"
        rf" -Headers \$headers(?: -ContentType {_PS_STRING} -Body \$body)?",
        lines[index + 1],
    )
    assert call, lines[index + 1]
    shown = "ConvertTo-Json -InputObject $answer -Depth 20"
    assert lines[index + 2] in (shown, f"if ($answer) {{ {shown} }}")
    assert len(lines) == index + 3
    media_type = None if call.group(3) is None else _ps_text(call.group(3))
    return call.group(1).upper(), _ps_text(call.group(2)), headers, media_type, body


@pytest.mark.parametrize("operation_id", list(EXPECTED))
async def test_the_powershell_example_sends_the_same_request(
    live_sandbox: LiveSandbox, operation_id: str
) -> None:
    """What can be checked without pwsh: the script's method, URL, headers and body
    literal read back to exactly the request the other examples send."""
    document = await live_sandbox.document()
    path, method = locate(document, operation_id)
    code = pick(operation_examples(document, path, method), "powershell").code
    sent_method, url, headers, media_type, body = parse_powershell(code)
    assert headers == {"X-Api-Key": "$env:ISTHMUS_API_KEY"}
    base = f"{live_sandbox.gateway}/sandbox/orders/v1"
    assert url.startswith(base + path.split("{")[0])
    expected = EXPECTED[operation_id]
    if expected is not None:
        target, _, query = url.removeprefix(base).partition("?")
        assert (sent_method, target) == (expected.method, expected.path)
        assert parse_qsl(query, keep_blank_values=True) == expected.query
        assert body == expected.body
        assert media_type == (None if expected.body is None else "application/json")
    request = example_request(document, path, method)  # what curl, python and node sent
    assert (sent_method, url, body) == (request.method, request.url, request.body)


def test_powershell_quotes_survive_typographic_quotes_and_expansion() -> None:
    # PowerShell ends a verbatim string at typographic single quotes too
    tricky = "\u2019@\n'@ $(x) \u2018"
    header = "it\u2019s \u2018$x\u2019 `n' \u201a\u201b"
    document = _document(path_example=tricky, header=header, body={"a": tricky})
    code = pick(operation_examples(document, "/things/{id}", "post"), "powershell").code
    method, url, headers, _, body = parse_powershell(code)
    assert method == "POST"
    assert url == example_request(document, "/things/{id}", "post").url
    assert headers == {"X-Api-Key": "$env:ISTHMUS_API_KEY", "X-Trace": header}
    assert body == {"a": tricky}


# --- the Power Platform entry ------------------------------------------------------------


def swagger_cli() -> Path:
    return fetched(SWAGGER_CLI, "swagger-cli")


async def test_the_power_platform_entry_downloads_a_connector_swagger_cli_accepts(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    checker = swagger_cli()
    document = await live_sandbox.document()
    download = (
        f"{live_sandbox.control}/admin/v1/apis/orders/versions/v1/export"
        "?format=power-platform&environment=sandbox"
    )
    all_examples = examples_for_document(document, power_platform_url=download)
    assert set(all_examples) == set(EXPECTED)
    for examples in all_examples.values():
        assert [e.language for e in examples] == list(LANGUAGES)
    entry = pick(all_examples["createOrder"], "power-platform")
    assert "POST /orders" in entry.code
    [url] = re.findall(r"https?://\S+", entry.code)
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, headers=live_sandbox.admin_headers) as response,
    ):
        assert response.status == 200, await response.text()
        connector = await response.read()
    file = tmp_path / "orders.swagger.json"
    file.write_bytes(connector)
    done = await asyncio.create_subprocess_exec(
        str(checker), "validate", str(file), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    said, _ = await asyncio.wait_for(done.communicate(), 120)
    assert done.returncode == 0, said.decode()
    swagger = json.loads(connector)
    assert swagger["swagger"] == "2.0"
    assert swagger["basePath"] == "/sandbox/orders/v1"  # it calls the sandbox
    assert f"http://{swagger['host']}" == live_sandbox.gateway


def test_without_a_download_url_there_is_no_power_platform_entry() -> None:
    examples = operation_examples(_document(), "/things/{id}", "post")
    assert [e.language for e in examples] == [
        lang for lang in LANGUAGES if lang != "power-platform"
    ]


# --- the request, from documents the gateway does not write itself -----------------------


def _document(path_example: str = "A 1", body: Any = None, header: str = "v") -> dict[str, Any]:
    """An imported-style document: $refs, path-level parameters, server variables."""
    return {
        "openapi": "3.1.0",
        "servers": [{"url": "https://{host}/base/", "variables": {"host": {"default": "h.test"}}}],
        "paths": {
            "/things/{id}": {
                "parameters": [{"$ref": "#/components/parameters/Id"}],
                "post": {
                    "parameters": [
                        {"name": "X-Trace", "in": "header", "required": True, "example": header},
                        {"name": "X-Api-Key", "in": "header", "required": True},
                        {"name": "tag", "in": "query", "example": ["a b", "c&d"]},
                        {
                            "name": "flag",
                            "in": "query",
                            "schema": {"type": "boolean"},
                            "required": True,
                        },
                        {"name": "skip", "in": "query", "schema": {"type": "integer"}},
                    ],
                    "requestBody": {"$ref": "#/components/requestBodies/Thing"},
                    "responses": {"204": {"description": "done"}},
                },
            }
        },
        "components": {
            "parameters": {
                "Id": {"name": "id", "in": "path", "required": True, "example": path_example}
            },
            "requestBodies": {
                "Thing": {
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}
                        | ({} if body is None else {"examples": {"one": {"value": body}}})
                    }
                }
            },
            "schemas": {
                "Thing": {"type": "object", "properties": {"n": {"type": "integer", "minimum": 3}}}
            },
        },
    }


def test_the_request_follows_refs_server_variables_and_parameter_rules() -> None:
    request = example_request(_document(header="a\r\nInjected: yes"), "/things/{id}", "POST")
    assert request.method == "POST"
    # required and exemplified parameters only; lists exploded; the key is not a parameter
    assert request.url == "https://h.test/base/things/A%201?tag=a%20b&tag=c%26d&flag=true"
    assert request.headers == {"X-Trace": "a Injected: yes"}  # a line break cannot be sent
    assert (request.media_type, request.body) == ("application/json", {"n": 3})
    assert request.answers_json is False
    with pytest.raises(ValueError, match="no operation GET /things"):
        example_request(_document(), "/things/{id}", "get")


def test_python_and_javascript_literals_read_back_to_the_example() -> None:
    body = {**ORDER_EXAMPLE, "lone": "\ud800", "nested": [{"deep": [[]]}, {}]}
    document = _document(path_example=ORDER_ID_EXAMPLE, body=body)
    examples = operation_examples(document, "/things/{id}", "post")
    python = ast.parse(pick(examples, "python").code)
    [assigned] = [
        node.value for node in python.body
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "body"
    ]  # fmt: skip
    assert ast.literal_eval(assigned) == body
    # node evaluates the module up to the request and prints what it would send
    js = pick(examples, "javascript").code.split("const response")[0]
    printed = subprocess.run(
        ["node", "--input-type=module", "-e", js + "console.log(JSON.stringify(body));"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert json.loads(printed.stdout) == body
    curl = pick(examples, "curl").code
    words = subprocess.run(
        ["bash", "-c", "printf '%s\\0' " + curl.removeprefix("curl ")],
        capture_output=True, timeout=60, check=True, env={"ISTHMUS_API_KEY": "k"},
    ).stdout.split(b"\0")[:-1]  # fmt: skip
    assert json.loads(words[words.index(b"--data-raw") + 1]) == body
    assert b"X-Api-Key: k" in words
