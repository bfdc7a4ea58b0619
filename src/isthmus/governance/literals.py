"""Finding literal secrets in resources: a credential typed where a ``secret://``
reference belongs.

Three signals, from strongest to weakest:

- the value has the shape of a known credential (a PEM private key, a cloud or SaaS
  token format, a JWT, a URL carrying a password or a key in its query) — anywhere;
- the field's name says it holds a credential (``password``, ``clientSecret``,
  ``X-Api-Key`` …) and the value is not a reference or a placeholder;
- the value looks random (long, no spaces, several kinds of characters, high Shannon
  entropy) — in configuration, not in documentation, schemas, examples or expressions.

Written here rather than taken from a line scanner (detect-secrets and the like): those
read source text and guess keys from code syntax, while a resource is already parsed and
every value has an exact path — what the problem report has to point at.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

Path_ = tuple[str | int, ...]

_KNOWN: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (what, re.compile(pattern))
    for what, pattern in (
        ("a private key", r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----"),
        ("an AWS access key", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
        ("a GitHub token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"),
        ("a Slack token", r"\bxox[abprse]-[A-Za-z0-9-]{10,}"),
        ("a Stripe key", r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}"),
        ("a Google API key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
        ("a JSON Web Token", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
        ("an Isthmus API key or client secret", r"\bis[kc]_[a-z0-9-]+_[0-9a-f]{12}_[\w-]{20,}"),
        ("an Authorization header value", r"^(?:Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}$"),
        ("a password in a URL", r"\b[a-z][a-z0-9+.-]*://[^/\s:@{}]+:[^/\s@{}]+@"),
        (
            "a credential in a URL's query",
            r"[?&](?:api[_-]?key|apikey|access[_-]?token|token|secret|password|sig)="
            r"[^&\s{}]{6,}",
        ),
        (
            "a password in a connection string",
            r"(?i)(?:^|;)\s*(?:password|pwd|accountkey|sharedaccesskey)\s*=\s*[^;{}\s]{4,}",
        ),
    )
)

_CREDENTIAL_NAME = re.compile(
    r"^(authorization|cookie|password|passwd|passphrase|secret|token|credentials?)$"
    r"|(authorization|password|secret|apikey|privatekey|accesskey|token)$",
    re.IGNORECASE,
)
# Subtrees that describe or shape data rather than configure access: documentation,
# schemas, examples, SQL and JSONata expressions. Random-looking values there are data.
_NOT_CONFIGURATION = frozenset(
    {"description", "docs", "summary", "title", "schema", "openapi", "examples", "example",
     "response", "body", "sql", "mapping", "records", "expression", "filter", "where"}
)  # fmt: skip
_MIN_RANDOM_LENGTH = 24
_MIN_ENTROPY_BITS = 4.0  # per character: hex tops out at 4, so only richer alphabets pass
_PLACEHOLDER = re.compile(r"\{[^{}]*\}|\$\{[^{}]*\}")


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def looks_random(text: str) -> bool:
    if len(text) < _MIN_RANDOM_LENGTH or any(c.isspace() for c in text):
        return False
    if "://" in text or text.startswith(("/", "./", "$")) or _PLACEHOLDER.search(text):
        return False  # addresses, paths and templates
    kinds = sum(
        (any(c.islower() for c in text), any(c.isupper() for c in text),
         any(c.isdigit() for c in text))
    )  # fmt: skip
    return kinds >= 3 and entropy(text) >= _MIN_ENTROPY_BITS


def _exempt(value: str) -> bool:
    """References and templates are how secrets are meant to be written."""
    return value.startswith("secret://") or bool(_PLACEHOLDER.fullmatch(value.strip()))


def credential_name(name: str) -> bool:
    return bool(_CREDENTIAL_NAME.search(re.sub(r"[-_]", "", name)))


def classify(name: str | int | None, value: str, configuration: bool) -> str | None:
    """What kind of literal secret ``value`` is, or None."""
    if _exempt(value):
        return None
    for what, pattern in _KNOWN:
        if pattern.search(value):
            return what
    named = isinstance(name, str) and credential_name(name)
    if named and value and not _PLACEHOLDER.search(value):
        return f"a literal value in '{name}'"
    if configuration and looks_random(value):
        return "a random-looking value (a key or token?)"
    return None


def literal_secrets(
    data: Any, path: Path_ = (), configuration: bool = True
) -> Iterator[tuple[Path_, str]]:
    """(path, what it looks like) of every literal secret under ``data``."""
    if isinstance(data, dict):
        for key, value in data.items():
            inside = configuration and str(key) not in _NOT_CONFIGURATION
            yield from _one((*path, key), key, value, inside)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _one((*path, index), None, value, configuration)


def _one(
    path: Path_, name: str | int | None, value: Any, configuration: bool
) -> Iterator[tuple[Path_, str]]:
    if isinstance(value, str):
        what = classify(name, value, configuration)
        if what is not None:
            yield path, what
    else:
        yield from literal_secrets(value, path, configuration)
