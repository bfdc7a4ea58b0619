"""Files the hub keeps in its home folder (embedded mode): generated once, mode 0600."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path


def read_or_create(path: Path, make: Callable[[], str]) -> str:
    """The content of ``path``; created with ``make()`` and owner-only permissions if absent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        value = make()
        handle.write(value + "\n")
    return value


def admin_token(home: Path, configured: str | None) -> str:
    return configured or read_or_create(home / "admin-token", lambda: secrets.token_urlsafe(32))
