"""The secrets vault: values encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256).

Resources hold only ``secret://name`` references; connectors resolve them when a
Connection opens. The vault key comes from ``ISTHMUS_VAULT_KEY`` or is generated once
into the hub's home folder, never into the store beside the ciphertext.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from isthmus.errors import ConfigurationError, FatalError
from isthmus.home import read_or_create
from isthmus.model.base import SECRET_PATTERN
from isthmus.store.leases import LeaseRepository
from isthmus.store.secrets import SecretRepository

SCHEME = "secret://"
SECRET_NAME_PATTERN = SECRET_PATTERN.replace("^secret://", "^")
_NAME = re.compile(SECRET_NAME_PATTERN)


class SecretMissing(ConfigurationError):
    code = "secret-missing"
    title = "A referenced secret is not in the vault"
    remediation = "Store it with 'isthmus secret set NAME' (the detail names it)."


class VaultKeyMismatch(FatalError):
    status = 500
    code = "vault-key-mismatch"
    title = "A secret cannot be decrypted"
    remediation = "Start the hub with the vault key the secret was stored with."


class InvalidSecretName(FatalError):
    status = 422
    code = "invalid-secret-name"
    title = "Invalid secret name"
    remediation = "Use lower-case letters, digits, '.', '_', '-' and '/'."


class SecretBusy(FatalError):
    status = 503
    code = "secret-busy"
    title = "Another hub process is still using a secret"
    remediation = "Retry shortly; if it persists, check the other hub processes' logs."


def vault_key(home: Path, configured: str | None) -> str:
    return configured or read_or_create(home / "vault.key", lambda: Fernet.generate_key().decode())


class Vault:
    def __init__(
        self, repository: SecretRepository, key: str, leases: LeaseRepository | None = None
    ) -> None:
        self._repository = repository
        self._leases = leases or LeaseRepository(repository.engine)
        try:
            self._fernet = Fernet(key.encode())
        except ValueError as exc:
            raise ConfigurationError(
                "The vault key is not a valid Fernet key.",
                remediation="Set ISTHMUS_VAULT_KEY to a key made by Fernet.generate_key().",
            ) from exc

    @staticmethod
    def name_of(reference: str) -> str:
        name = reference.removeprefix(SCHEME)
        if not _NAME.match(name):
            raise InvalidSecretName(f"'{name}' is not a valid secret name.")
        return name

    def seal(self, plaintext: bytes) -> bytes:
        """Encrypt something the hub keeps for itself (e.g. a signing key)."""
        return self._fernet.encrypt(plaintext)

    def unseal(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken as exc:
            raise VaultKeyMismatch(
                "Stored key material was sealed under another vault key."
            ) from exc

    async def set(self, name: str, value: str) -> None:
        name = self.name_of(name)
        await self._repository.put(name, self._fernet.encrypt(value.encode()))

    async def resolve(self, reference: str) -> str:
        name = self.name_of(reference)
        token = await self._repository.get(name)
        if token is None:
            raise SecretMissing(f"The vault has no secret '{name}'.")
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken as exc:
            raise VaultKeyMismatch(f"Secret '{name}' was stored under another vault key.") from exc

    @asynccontextmanager
    async def lock(
        self, reference: str, hold_seconds: float = 30.0, wait_seconds: float = 30.0
    ) -> AsyncIterator[None]:
        """Hold ``reference`` against every hub process on this store. A holder that
        dies frees it after ``hold_seconds``; waiting longer than ``wait_seconds`` is a
        :class:`SecretBusy` problem."""
        name = "secret/" + self.name_of(reference)
        holder = secrets.token_hex(8)
        deadline = time.monotonic() + wait_seconds
        pause = 0.005
        while not await self._leases.take(name, holder, hold_seconds):
            if time.monotonic() > deadline:
                raise SecretBusy(f"Secret '{name[7:]}' stayed locked by another process.")
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.2)
        try:
            yield
        finally:
            await self._leases.release(name, holder)

    async def names(self) -> list[str]:
        return sorted(await self._repository.versions())

    async def delete(self, name: str) -> None:
        await self._repository.delete(self.name_of(name))
