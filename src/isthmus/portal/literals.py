"""Literals of the example languages: a value written so each language reads back
exactly the value (shell single quotes, Python and JavaScript literals, PowerShell
verbatim strings, JSON), whatever quotes, ``$``, backticks, newlines or characters it
holds."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

WIDTH = 72  # a literal that fits on one line this long stays on one line


def literal(
    value: Any,
    scalar: Callable[[Any], str],
    key: Callable[[str], str],
    unit: str,
    depth: int = 0,
) -> str:
    """``value`` as a nested literal: on one line when it fits, else one entry a line."""
    if not isinstance(value, dict | list) or not value:
        return scalar(value)
    items = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
    parts = [
        (f"{key(str(k))}: " if isinstance(value, dict) else "")
        + literal(v, scalar, key, unit, depth + 1)
        for k, v in items
    ]
    opening, closing = "{}" if isinstance(value, dict) else "[]"
    inline = opening + ", ".join(parts) + closing
    if "\n" not in inline and len(inline) + len(unit) * depth <= WIDTH:
        return inline
    inner = unit * (depth + 1)
    return opening + "\n" + "".join(f"{inner}{p},\n" for p in parts) + unit * depth + closing


def string(text: str, fallback: Callable[[str], str]) -> str:
    """JSON's string syntax, which Python and JavaScript share, keeping readable characters
    as they are; ``fallback`` for lone surrogates, which UTF-8 source cannot hold."""
    quoted = json.dumps(text, ensure_ascii=False)
    return quoted if encodable(quoted) else fallback(text)


def py_string(text: str) -> str:
    return string(text, repr)


def py_scalar(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "True", False: "False", None: "None"}[value]
    return py_string(value) if isinstance(value, str) else json.dumps(value)


def js_string(text: str) -> str:
    return string(text, json.dumps)  # \u escapes are UTF-16 units, as JS strings are


def js_key(name: str) -> str:
    # A literal "__proto__" key sets the object's prototype instead of making a property.
    return f"[{js_string(name)}]" if name == "__proto__" else js_string(name)


def js_scalar(value: Any) -> str:
    return js_string(value) if isinstance(value, str) else json.dumps(value)


def json_text(value: Any, *, ascii_only: bool) -> str:
    """JSON on one line when it fits, else indented; \\u escapes for lone surrogates,
    which no UTF-8 text can hold."""
    ascii_only = ascii_only or not encodable(json.dumps(value, ensure_ascii=False))
    text = json.dumps(value, ensure_ascii=ascii_only)
    if len(text) <= WIDTH:
        return text
    return json.dumps(value, ensure_ascii=ascii_only, indent=2)


def encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def sh(text: str) -> str:
    """A POSIX shell word: single quotes keep everything literal but ' itself."""
    return "'" + text.replace("'", "'\\''") + "'"


def ps(text: str) -> str:
    """A PowerShell verbatim string; it also ends at the typographic single quotes."""
    return "'" + re.sub("(['\u2018\u2019\u201a\u201b])", r"\1\1", text) + "'"
