"""Copy-paste examples for an Api's operations: curl, Python, JavaScript, PowerShell, and
the Power Platform import, generated from the Api version's OpenAPI document.

Every example sends one and the same request (:func:`example_request`): the document's
server, the path parameters filled in, the query parameters that are required or carry
an example, and the request body's example (or a sample of its schema, the same sample
the sandbox's mock would make). The key is read from an environment variable in every
language, so a copied example never carries a secret.

Values come from the Api's authors and may hold quotes, ``$``, backticks, newlines and
any character: each language gets them through its own literal syntax (shell single
quotes, Python and JavaScript literals, PowerShell verbatim strings), never by pasting
text between quotes. Names with fewer surprises are chosen where a language lets us:
URLs are percent-encoded, and PowerShell gets ASCII-only JSON because Windows PowerShell
5.1 reads a script saved without a byte-order mark as the ANSI code page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import quote, urlencode

from isthmus.gateway.samples import sample
from isthmus.portal import literals

LANGUAGES = ("curl", "python", "javascript", "powershell", "power-platform")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
DEFAULT_KEY_VARIABLE = "ISTHMUS_API_KEY"
KEY_HEADER = "X-Api-Key"
# Headers the examples set themselves; a parameter of that name is not the caller's to set.
_OWN_HEADERS = frozenset({"x-api-key", "authorization", "content-type", "accept"})
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Example:
    """One copy-paste example: ``code`` runs as copied; ``filename_hint`` is where to save
    it (None when it is pasted into a shell or is instructions)."""

    language: str
    label: str
    code: str
    filename_hint: str | None


@dataclass(frozen=True)
class ExampleRequest:
    """The request every example of an operation sends (the API key aside)."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str | None = None  # of the body; None: no body
    body: Any = None
    answers_json: bool = True  # the contract promises a JSON answer on success


def example_request(document: dict[str, Any], path: str, method: str) -> ExampleRequest:
    """The request the examples of ``method`` ``path`` send."""
    item, operation = _operation(document, path, method)
    filled = path
    query: list[tuple[str, str]] = []
    headers: dict[str, str] = {}
    for parameter in _parameters(document, item, operation):
        name, where = str(parameter.get("name")), parameter.get("in")
        if where == "path":
            value = _text(_parameter_value(document, parameter))
            filled = filled.replace("{" + name + "}", quote(value, safe=""))
        elif where in ("query", "header") and _wanted(parameter):
            value = _parameter_value(document, parameter)
            if where == "header" and name.lower() not in _OWN_HEADERS:
                # a line break would end the header: a value holding one cannot be sent
                headers[name] = re.sub(r"[\r\n]+", " ", _text(value))
            elif where == "query":
                values = value if isinstance(value, list) else [value]
                query += [(name, _text(v)) for v in values]  # form style, exploded
    url = _server(document) + filled
    if query:
        url += "?" + urlencode(query, quote_via=quote, safe="")
    media_type, body = _body(document, operation)
    return ExampleRequest(
        method.upper(), url, headers, media_type, body, _answers_json(document, operation)
    )


def operation_examples(
    document: dict[str, Any],
    path: str,
    method: str,
    *,
    key_variable: str = DEFAULT_KEY_VARIABLE,
    power_platform_url: str | None = None,
) -> list[Example]:
    """The examples of one operation, in the order of :data:`LANGUAGES`.

    ``key_variable`` names the environment variable holding the API key.
    ``power_platform_url`` is where the Power Platform profile of this Api version is
    downloaded; without it there is no "power-platform" example.
    """
    if not _VARIABLE.match(key_variable):
        raise ValueError(f"'{key_variable}' is not an environment variable's name.")
    request = example_request(document, path, method)
    name = _operation_id(document, path, method)
    examples = [
        Example("curl", "curl (bash, zsh)", _curl(request, key_variable), None),
        Example("python", "Python (requests)", _python(request, key_variable), f"{name}.py"),
        Example(
            "javascript", "JavaScript (fetch)", _javascript(request, key_variable), f"{name}.mjs"
        ),
        Example("powershell", "PowerShell", _powershell(request, key_variable), f"{name}.ps1"),
    ]
    if power_platform_url is not None:
        text = _power_platform(power_platform_url, f"{method.upper()} {path}", key_variable)
        examples.append(Example("power-platform", "Power Apps / Power Automate", text, None))
    return examples


def examples_for_document(
    document: dict[str, Any],
    *,
    key_variable: str = DEFAULT_KEY_VARIABLE,
    power_platform_url: str | None = None,
) -> dict[str, list[Example]]:
    """The examples of every operation of every path, keyed by operationId."""
    make = partial(
        operation_examples, key_variable=key_variable, power_platform_url=power_platform_url
    )
    return {_operation_id(document, p, m): make(document, p, m) for p, m in _operations(document)}


# --- the request -------------------------------------------------------------------------


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for path, item in (document.get("paths") or {}).items():
        item = _deref(document, item)
        if isinstance(item, dict):
            for method in METHODS:
                if isinstance(item.get(method), dict):
                    yield path, method


def _operation(document: dict[str, Any], path: str, method: str) -> tuple[Any, Any]:
    item = _deref(document, (document.get("paths") or {}).get(path))
    operation = _deref(document, item.get(method.lower())) if isinstance(item, dict) else None
    if not isinstance(operation, dict):
        raise ValueError(f"The document has no operation {method.upper()} {path}.")
    return item, operation


def _operation_id(document: dict[str, Any], path: str, method: str) -> str:
    given = _operation(document, path, method)[1].get("operationId")
    if isinstance(given, str) and given:
        return given
    words = re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_")  # as the gateway names routes
    return f"{method.lower()}_{words or 'root'}"


def _deref(document: dict[str, Any], node: Any, depth: int = 0) -> Any:
    """``node`` with a local ``$ref`` followed (imported documents use them)."""
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and depth < 16:
        reference, node, depth = node["$ref"], document, depth + 1
        if not reference.startswith("#/"):
            return {}
        for step in reference[2:].split("/"):
            step = step.replace("~1", "/").replace("~0", "~")
            node = node.get(step) if isinstance(node, dict) else None
    return node


def _parameters(
    document: dict[str, Any], item: dict[str, Any], operation: dict[str, Any]
) -> list[dict[str, Any]]:
    """The path item's parameters overridden by the operation's, as OpenAPI merges them."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for parameter in [*(item.get("parameters") or []), *(operation.get("parameters") or [])]:
        parameter = _deref(document, parameter)
        if isinstance(parameter, dict) and "name" in parameter:
            merged[(str(parameter["name"]), str(parameter.get("in")))] = parameter
    return list(merged.values())


def _wanted(parameter: dict[str, Any]) -> bool:
    """Send required parameters and the ones their authors gave an example: a sample of
    every optional one (a cursor, a filter) would only make a noisier, likelier-refused
    request."""
    schema = parameter.get("schema") or {}
    return bool(
        parameter.get("required")
        or "example" in parameter
        or parameter.get("examples")
        or "example" in schema
        or schema.get("examples")
    )


def _parameter_value(document: dict[str, Any], parameter: dict[str, Any]) -> Any:
    if "example" in parameter:
        return parameter["example"]
    for example in (parameter.get("examples") or {}).values():
        if isinstance(example, dict) and "value" in example:
            return example["value"]
    return sample(parameter.get("schema") or {"type": "string"}, document)


def _text(value: Any) -> str:
    """A value as it travels in a path, query or header: text as it is, the rest as JSON
    writes it (true, 12.5)."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _server(document: dict[str, Any]) -> str:
    server = (document.get("servers") or [{}])[0]
    url = str(server.get("url") or "")
    for name, variable in (server.get("variables") or {}).items():
        url = url.replace("{" + name + "}", str(variable.get("default", "")))
    return url.rstrip("/")


def _body(document: dict[str, Any], operation: dict[str, Any]) -> tuple[str | None, Any]:
    """The JSON body's media type and value: the example, else a sample of the schema."""
    content = (_deref(document, operation.get("requestBody")) or {}).get("content") or {}
    json_types = [t for t in content if t == "application/json" or t.endswith("+json")]
    if not json_types:
        return None, None
    media_type = "application/json" if "application/json" in json_types else json_types[0]
    chosen = content[media_type] or {}
    if "example" in chosen:
        return media_type, chosen["example"]
    for example in (chosen.get("examples") or {}).values():
        example = _deref(document, example)
        if isinstance(example, dict) and "value" in example:
            return media_type, example["value"]
    return media_type, sample(chosen.get("schema") or {}, document)


def _answers_json(document: dict[str, Any], operation: dict[str, Any]) -> bool:
    for status, answer in (operation.get("responses") or {}).items():
        if str(status).startswith("2"):
            content = (_deref(document, answer) or {}).get("content") or {}
            if any(t == "application/json" or t.endswith("+json") for t in content):
                return True
    return False


# --- the languages -----------------------------------------------------------------------


def _curl(request: ExampleRequest, key_variable: str) -> str:
    # --fail-with-body: a non-zero exit on an error answer, and the problem still printed
    lines = [
        "curl -sS --fail-with-body" + ("" if request.method == "GET" else f" -X {request.method}")
    ]
    lines.append(literals.sh(request.url))
    lines.append(f'-H "{KEY_HEADER}: ${key_variable}"')
    lines += [f"-H {literals.sh(f'{name}: {value}')}" for name, value in request.headers.items()]
    if request.media_type is not None:
        lines.append(f"-H {literals.sh('Content-Type: ' + request.media_type)}")
        lines.append(
            f"--data-raw {literals.sh(literals.json_text(request.body, ascii_only=False))}"
        )
    return " \\\n  ".join(lines) + "\n"


def _python(request: ExampleRequest, key_variable: str) -> str:
    headers = {KEY_HEADER: None, **request.headers}
    if request.media_type not in (None, "application/json"):
        headers["Content-Type"] = str(request.media_type)
    entries = [
        f"    {literals.py_string(name)}: "
        + (
            f"os.environ[{literals.py_string(key_variable)}]"
            if value is None
            else literals.py_string(value)
        )
        + ","
        for name, value in headers.items()
    ]
    lines = ["import json", "import os", "", "import requests", ""]
    lines.append(f"url = {literals.py_string(request.url)}")
    lines += ["headers = {", *entries, "}"]
    call = f"requests.{request.method.lower()}(url, headers=headers"
    if request.media_type is not None:
        lines.append(
            "body = "
            + literals.literal(request.body, literals.py_scalar, literals.py_string, "    ")
        )
        call += ", json=body"  # a Content-Type in the headers (a +json type) is kept
    lines += ["", f"response = {call}, timeout=30)", "response.raise_for_status()"]
    shown = "print(json.dumps(response.json(), indent=2, ensure_ascii=False))"
    if request.answers_json:
        lines.append(shown)
    else:
        lines += [
            "if response.content:",
            f"    {shown}",
            "else:",
            "    print(response.status_code)",
        ]
    return "\n".join(lines) + "\n"


def _javascript(request: ExampleRequest, key_variable: str) -> str:
    headers = [f"    {literals.js_string(KEY_HEADER)}: process.env.{key_variable},"]
    headers += [
        f"    {literals.js_string(n)}: {literals.js_string(v)}," for n, v in request.headers.items()
    ]
    lines = [
        "// An ES module: save as a .mjs file and run it with Node.js 18 or later.",
        "// (In a browser, never put the key in page code: call from your own back end.)",
        f"const url = {literals.js_string(request.url)};",
    ]
    if request.media_type is not None:
        headers.append(f'    "Content-Type": {literals.js_string(request.media_type)},')
        lines.append(
            "const body = "
            + literals.literal(request.body, literals.js_scalar, literals.js_key, "  ")
            + ";"
        )
    lines += ["", "const response = await fetch(url, {", f'  method: "{request.method}",']
    lines += ["  headers: {", *headers, "  },"]
    if request.media_type is not None:
        lines.append("  body: JSON.stringify(body),")
    lines += [
        "});",
        "if (!response.ok) {",
        "  throw new Error(`${response.status} ${await response.text()}`);",
        "}",
    ]
    if request.answers_json:
        lines.append("console.log(JSON.stringify(await response.json(), null, 2));")
    else:
        lines += [
            "const text = await response.text();",
            "console.log(text ? JSON.stringify(JSON.parse(text), null, 2) : response.status);",
        ]
    return "\n".join(lines) + "\n"


def _powershell(request: ExampleRequest, key_variable: str) -> str:
    lines = ["$headers = @{", f"    {literals.ps(KEY_HEADER)} = $env:{key_variable}"]
    lines += [f"    {literals.ps(n)} = {literals.ps(v)}" for n, v in request.headers.items()]
    lines.append("}")
    call = (
        f"$answer = Invoke-RestMethod -Method {request.method.capitalize()} "
        f"-Uri {literals.ps(request.url)} -Headers $headers"
    )
    if request.media_type is not None:
        # A verbatim here-string: nothing inside is expanded, and it ends only at a line
        # starting with '@, which indented JSON never has. ASCII only: see the module doc.
        lines += ["$body = @'", literals.json_text(request.body, ascii_only=True), "'@"]
        call += f" -ContentType {literals.ps(request.media_type)} -Body $body"
    lines.append(call)
    if request.answers_json:
        lines.append("ConvertTo-Json -InputObject $answer -Depth 20")
    else:
        lines.append("if ($answer) { ConvertTo-Json -InputObject $answer -Depth 20 }")
    return "\n".join(lines) + "\n"


def _power_platform(url: str, operation: str, key_variable: str) -> str:
    return (
        "Use this Api from Power Apps, Power Automate or Copilot Studio as a custom connector:\n"
        "\n"
        f"1. Download the connector definition (Swagger 2.0) from\n   {url}\n"
        "2. In make.powerapps.com or make.powerautomate.com open Custom connectors, choose\n"
        "   New custom connector > Import an OpenAPI file, and pick the downloaded file.\n"
        f"3. Keep the security as given (API Key, header {KEY_HEADER}) and create the connector.\n"
        f"4. On the Test page make a new connection with your sandbox key (the value of\n"
        f"   {key_variable}, isk_sandbox_…) and test the operation for {operation}.\n"
    )
