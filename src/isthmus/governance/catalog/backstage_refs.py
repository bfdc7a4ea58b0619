"""Names, references, tags and labels as Backstage's catalog accepts them.

Backstage's rules (``@backstage/catalog-model``, its ``KubernetesValidatorFunctions``
and ``FieldFormatEntityPolicy``): an entity name is 1 to 63 characters, runs of letters and
digits joined by single ``-``, ``_`` or ``.``; a tag is 1 to 63 characters of lower-case
letters, digits, ``+`` and ``#`` in runs joined by single ``-`` (the default
policy's rule; its laxer validator also takes ``:``); a label value
follows the name rule (or is empty) and its key is a name with an optional DNS-subdomain
prefix and ``/``. A reference is ``kind:namespace/name``. Within a kind and namespace
a name names one entity, compared ignoring case (the catalog keys entities by their
lower-cased reference).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

NAMESPACE = "default"
MAX_NAME = 63
_NAME = re.compile(r"^[A-Za-z0-9]+([-_.][A-Za-z0-9]+)*$")
_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_REF = re.compile(
    r"^[A-Za-z][A-Za-z0-9]*:([A-Za-z0-9][-_.A-Za-z0-9]*/)?[A-Za-z0-9][-_.A-Za-z0-9]*$"
)


def _short(text: str, limit: int) -> str:
    """``text`` if short enough, else cut with a hash of the whole kept at the end, so
    two long names that share a beginning stay apart."""
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{text[: limit - 9].rstrip('-_.')}-{digest}"


def entity_name(text: str) -> str:
    """``text`` as a valid entity name: other characters become '-', a run of separators
    becomes its first one, and none is left at either end. Isthmus names are valid
    already (bar a View name such as ``a__b``) and pass through unchanged."""
    if _NAME.match(text) and len(text) <= MAX_NAME:
        return text

    def one(match: re.Match[str]) -> str:
        first = match.group(0)[0]
        return first if first in "-_." else "-"

    cleaned = re.sub(r"[^A-Za-z0-9]+", one, text).strip("-_.")
    return _short(cleaned or "unnamed", MAX_NAME)


def numbered(name: str, number: int) -> str:
    """``name`` with ``-NUMBER`` at its end, cut to stay a valid entity name."""
    suffix = f"-{number}"
    return _short(name, MAX_NAME - len(suffix)).rstrip("-_.") + suffix


@dataclass(frozen=True)
class Claim:
    """An entity that wants a name: the Backstage kind it is, the name it would have,
    where it comes from (the Isthmus kind and name), and whether that name is the
    resource's own, unchanged (not made up by the export: prefixed, cleaned or cut)."""

    kind: str
    name: str
    source_kind: str
    source_name: str
    own: bool


def unique_names(claims: Iterable[Claim], order: Sequence[str]) -> dict[tuple[str, str], str]:
    """A distinct name per claim, by (source kind, source name).

    Backstage keeps one entity per kind and name — compared ignoring case — so two claims
    of one name would overwrite each other there, and references would point at the
    survivor. Resources keep their own names; a name the export made up (``event-X``,
    ``connection-X``, the hub's, a cleaned one) yields to them and to the claims sorted
    before it (by ``order`` of source kinds, then name), taking ``-2``, ``-3``… instead:
    the same resources always give the same names.
    """
    rank = {kind: at for at, kind in enumerate(order)}
    taken: set[tuple[str, str]] = set()
    names: dict[tuple[str, str], str] = {}
    for claim in sorted(
        claims,
        key=lambda c: (not c.own, rank.get(c.source_kind, len(rank)), c.source_name),
    ):
        name, number = claim.name, 1
        while (claim.kind, name.casefold()) in taken:
            number += 1
            name = numbered(claim.name, number)
        taken.add((claim.kind, name.casefold()))
        names[(claim.source_kind, claim.source_name)] = name
    return names


def ref(kind: str, name: str) -> str:
    """A full entity reference, e.g. ``api:default/customers``."""
    return f"{kind.lower()}:{NAMESPACE}/{entity_name(name)}"


def owner_ref(owner: str) -> str:
    """An owner as Backstage names one: a reference as given (``user:jane``,
    ``group:default/sales``), else a Group of that name."""
    if _REF.match(owner):
        return owner
    return ref("group", owner)


def tag(text: str) -> str | None:
    """``text`` as a Backstage tag ('Power Apps' → 'power-apps'), or None if nothing
    of it is left."""
    cleaned = re.sub(r"[^a-z0-9+#]+", "-", text.casefold()).strip("-")
    return _short(cleaned, MAX_NAME).strip("-") if cleaned else None


def tags(texts: list[str]) -> list[str]:
    found: list[str] = []
    for text in texts:
        made = tag(text)
        if made and made not in found:
            found.append(made)
    return found


def label_ok(key: str, value: str) -> bool:
    """Whether Backstage accepts this label as it is (others are left out of exports)."""
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _PREFIX.match(prefix)):
        return False
    if not (_NAME.match(name) and len(name) <= MAX_NAME):
        return False
    return value == "" or bool(_NAME.match(value) and len(value) <= MAX_NAME)
