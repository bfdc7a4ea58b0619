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

import itertools
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
        ("a SendGrid key", r"\bSG\.[\w-]{16,}\.[\w-]{16,}"),
        ("an OpenAI key", r"\bsk-(?:proj-)?[A-Za-z0-9_-]{32,}"),
        ("a JSON Web Token", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{8,}"),
        ("an Isthmus API key or client secret", r"\bis[kc]_[a-z0-9-]+_[0-9a-f]{12}_[\w-]{20,}"),
        (
            "an Authorization header value",
            r"(?i)^(?:Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}$",
        ),
        ("a password in a URL", r"\b[a-z][a-z0-9+.-]*://[^/\s:@{}]*:[^/\s@{}]+@"),
        (
            "a credential in a URL's query",
            r"(?i)[?&](?:[\w.-]*(?:api[_-]?key|access[_-]?token|token|secret|password|"
            r"subscription[_-]?key)|code|sig|signature)=[^&\s{}]{6,}",
        ),
        (
            "a password in a connection string",
            r"(?i)(?:^|[;\s])(?:password|pwd|accountkey|sharedaccesskey)\s*=\s*[^;{}\s]{4,}",
        ),
        ("a Slack webhook", r"hooks\.slack\.com/services/[A-Za-z0-9]+/[A-Za-z0-9]+/[A-Za-z0-9]+"),
        ("a Teams webhook", r"\.webhook\.office\.com/webhookb2/"),
    )
)

_CREDENTIAL_NAME = re.compile(
    r"^(authorization|cookie|password|passwd|passphrase|pwd|pass|secret|token|credentials?)$"
    r"|(authorization|password|passwd|secret|apikey|privatekey|accesskey|accountkey"
    r"|subscriptionkey|functionskey|token)$",
    re.IGNORECASE,
)
# Names of where a token is found (pagination), not of a token.
_TOKEN_LOCATION = re.compile(r"(next|cursor|page|continuation|paging|resume)token$", re.I)
# Values a credential-named field holds that name a mechanism, not a credential.
_MECHANISMS = frozenset(
    {"none", "header", "query", "body", "cookie", "bearer", "basic", "oauth2", "apikey",
     "path", "form", "true", "false", "null"}
)  # fmt: skip
# A path into data ($.meta.next, response.body.token): where a value is, not a value.
_DATA_PATH = re.compile(r"^\$|^[A-Za-z_]\w*(\.[\w\[\]*-]+)+$")
# Subtrees that describe or shape data rather than configure access: documentation,
# schemas, examples, SQL and JSONata expressions. Values there are data, not settings.
_NOT_CONFIGURATION = frozenset(
    {"description", "docs", "summary", "title", "schema", "openapi", "examples", "example",
     "response", "body", "sql", "mapping", "records", "expression", "filter", "where"}
)  # fmt: skip
_MIN_RANDOM_LENGTH = 24
_MIN_ENTROPY_BITS = 4.0  # per character: hex tops out at 4, so only richer alphabets pass
# Random text changes character class (lower, upper, digit, other) at most characters;
# words and identifiers (ContosoSalesTeamSite2024) at few.
_MIN_CLASS_CHANGES = 0.5  # random base62 changes at about 0.62 of its characters
_NOT_TOKEN_CHARS = frozenset("@\\:;#, ")  # e-mails, Windows paths, node ids, image tags
_FILE_SIGNATURES = ("iVBORw0KGgo", "/9j/", "R0lGOD", "JVBERi0", "UklGR")  # base64 images, PDF
_PLACEHOLDER = re.compile(r"\{[^{}]*\}|\$\{[^{}]*\}")


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _class(char: str) -> int:
    return 0 if char.islower() else 1 if char.isupper() else 2


def looks_random(text: str) -> bool:
    if len(text) < _MIN_RANDOM_LENGTH or _NOT_TOKEN_CHARS & set(text):
        return False
    if "://" in text or text.startswith(("/", "./", "$", *_FILE_SIGNATURES)):
        return False  # addresses, paths, expressions and embedded files
    if _PLACEHOLDER.search(text):
        return False
    # separators (- _ . ~) join words; the letters and digits tell random from words
    classes = [_class(c) for c in text if c.isalnum()]
    if len(set(classes)) < 3:  # lower, upper and digits all present
        return False
    changes = sum(a != b for a, b in itertools.pairwise(classes)) / len(classes)
    return changes >= _MIN_CLASS_CHANGES and entropy(text) >= _MIN_ENTROPY_BITS


def _exempt(value: str) -> bool:
    """References and templates are how secrets are meant to be written."""
    return value.startswith("secret://") or bool(_PLACEHOLDER.fullmatch(value.strip()))


def credential_name(name: str) -> bool:
    normal = re.sub(r"[-_]", "", name)
    return bool(_CREDENTIAL_NAME.search(normal)) and not _TOKEN_LOCATION.search(normal)


def classify(
    name: str | int | None, value: str, configuration: bool, shapes_only: bool = False
) -> str | None:
    """What kind of literal secret ``value`` is, or None. Outside configuration (docs,
    schemas, examples) only the shapes of real credentials count."""
    if _exempt(value):
        return None
    for what, pattern in _KNOWN:
        if pattern.search(value):
            return what
    if shapes_only or not configuration:
        return None
    if isinstance(name, str) and credential_name(name) and _literal(value):
        return f"a literal value in '{name}'"
    if looks_random(value):
        return "a random-looking value (a key or token?)"
    return None


def _literal(value: str) -> bool:
    """A value in a credential-named field that is not a mechanism or a data path."""
    text = value.strip()
    if not text or _PLACEHOLDER.search(text) or text.lower() in _MECHANISMS:
        return False
    return not _DATA_PATH.match(text)


def literal_secrets(
    data: Any, path: Path_ = (), configuration: bool = True, shapes_only: bool = False
) -> Iterator[tuple[Path_, str]]:
    """(path, what it looks like) of every literal secret under ``data``; with
    ``shapes_only``, only values shaped like real credentials (an imported OpenAPI
    document: its examples are data, but a real key pasted into one is still a key)."""
    if isinstance(data, dict):
        for key, value in data.items():
            inside = configuration and str(key) not in _NOT_CONFIGURATION
            yield from _one((*path, key), key, value, inside, shapes_only)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _one((*path, index), None, value, configuration, shapes_only)


def _one(
    path: Path_, name: str | int | None, value: Any, configuration: bool, shapes_only: bool
) -> Iterator[tuple[Path_, str]]:
    if isinstance(value, str):
        what = classify(name, value, configuration, shapes_only)
        if what is not None:
            yield path, what
    else:
        yield from literal_secrets(value, path, configuration, shapes_only)
