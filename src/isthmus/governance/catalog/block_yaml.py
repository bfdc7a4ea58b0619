"""A small, fast writer of block-style YAML for plain data (mappings with string keys,
lists, strings, numbers, booleans, None), as the Backstage export needs it.

ruamel's emitter walks every node and character in Python with all of YAML's generality
(anchors, tags, comments, folding): exporting a catalog of a few thousand Apis took tens
of seconds. This writer only decides, per string, between three safe forms:

- plain, for words that cannot read back as anything but that string: a letter first,
  then letters, digits and ``_ . / : @ + -``, not ending in ``:``, and none of YAML's
  words for booleans or null (``yes``, ``off``, ``null``… in YAML 1.1 too);
- a literal block (``|-``), for multi-line text whose lines are printable ASCII, none
  empty or ending in a blank, the first not indented (such as JSON from ``json.dumps``);
- double-quoted otherwise: JSON's escaping, which YAML's double-quoted style reads the
  same, with what YAML would not keep raw (line separators, format characters) escaped.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_./:@+-]*")
_PLAIN_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_./@+-]*")
_RESERVED = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})


def dump(document: Mapping[str, Any]) -> str:
    """``document`` as a YAML block mapping (no document markers)."""
    if not document:
        return "{}\n"
    return "".join(f"{line}\n" for line in _mapping(document, ""))


def _mapping(mapping: Mapping[str, Any], pad: str) -> Iterator[str]:
    for key, value in mapping.items():
        head = f"{pad}{_key(key)}:"
        if isinstance(value, Mapping) and value:
            yield head
            yield from _mapping(value, pad + "  ")
        elif _is_list(value) and value:
            yield head
            yield from _sequence(value, pad + "  ")
        elif isinstance(value, str) and "\n" in value and literal_ready(value):
            yield f"{head} |-"
            yield from (f"{pad}  {line}" for line in value.split("\n"))
        else:
            yield f"{head} {_scalar(value)}"


def _sequence(items: Sequence[Any], pad: str) -> Iterator[str]:
    for item in items:
        if isinstance(item, Mapping) and item:
            inner = _mapping(item, pad + "  ")
        elif _is_list(item) and item:
            inner = _sequence(item, pad + "  ")
        else:
            yield f"{pad}- {_scalar(item)}"
            continue
        # The first line of a nested block goes after the dash: "- key: value".
        first = next(inner)
        yield f"{pad}- {first[len(pad) + 2 :]}"
        yield from inner


def _is_list(value: Any) -> bool:
    return isinstance(value, list | tuple)


def _key(key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError(f"mapping keys must be strings, not {type(key).__name__}")
    plain = _PLAIN_KEY.fullmatch(key) and key.casefold() not in _RESERVED
    return key if plain else _quoted(key)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    if isinstance(value, str):
        return value if _plain(value) else _quoted(value)
    if isinstance(value, Mapping):
        return "{}"  # only an empty one gets here
    if _is_list(value):
        return "[]"
    raise TypeError(f"cannot write a {type(value).__name__} as YAML")


def _plain(text: str) -> bool:
    return bool(_PLAIN.fullmatch(text)) and text[-1] != ":" and text.casefold() not in _RESERVED


def _quoted(text: str) -> str:
    quoted = json.dumps(text, ensure_ascii=False)
    if quoted.isprintable():
        return quoted
    # Raw, YAML would take U+2028, U+0085 and the like for line breaks, or drop a BOM.
    return "".join(
        c if c.isprintable() else f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}"
        for c in quoted
    )


def literal_ready(text: str) -> bool:
    """Whether ``text`` reads back unchanged from a literal block (``|-``) of its lines,
    indented: printable ASCII lines, none empty or ending in a blank (YAML would fold or
    strip those), the first not starting with one (it sets the block's indentation)."""
    if not text or text[0] == " ":
        return False
    return all(
        line and line.isascii() and line.isprintable() and line[-1] != " "
        for line in text.split("\n")
    )
